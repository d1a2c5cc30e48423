package transforms

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/route"
)

func now() time.Time            { return time.Now() }
func since(t time.Time) float64 { return time.Since(t).Seconds() }

// models are shared by every DoFn instance in the process that has the same config: loading a
// model and starting its pool happens once per process.
var models = struct {
	sync.Mutex
	byConfig map[string]*enhance.Models
}{byConfig: map[string]*enhance.Models{}}

func sharedModels(ortLib string, cfg enhance.ModelConfig) (*enhance.Models, error) {
	lib, err := gpuworker.LibraryPath(ortLib)
	if err != nil {
		return nil, err
	}
	if err := gpuworker.Init(lib); err != nil {
		return nil, err
	}
	key, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("transforms: model config: %w", err)
	}
	models.Lock()
	defer models.Unlock()
	m := models.byConfig[string(key)]
	if m == nil {
		m = enhance.NewModels(cfg)
		models.byConfig[string(key)] = m
	}
	return m, nil
}

// PreloadModels loads, in this process, every model the routes use, so that a missing, corrupt or
// mismatched model fails before the pipeline starts. With Prism in-process the DoFns then reuse
// the loaded pools.
func PreloadModels(ortLib string, cfg enhance.ModelConfig, rs route.Routes) error {
	m, err := sharedModels(ortLib, cfg)
	if err != nil {
		return err
	}
	return m.Preload(rs)
}

// PoolMetrics returns the metrics of the model pools of this process (all of them with Prism
// in-process; none on a driver whose workers run elsewhere).
func PoolMetrics() map[string]gpuworker.Snapshot {
	models.Lock()
	defer models.Unlock()
	out := map[string]gpuworker.Snapshot{}
	for _, m := range models.byConfig {
		for k, v := range m.Metrics() {
			out[k] = v
		}
	}
	return out
}
