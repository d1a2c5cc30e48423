package enhance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"jpegrestore/gpuworker"
	"jpegrestore/inference"
	"jpegrestore/route"
)

// Presets are the model names shipped in models/.
var Presets = []string{"fast", "best"}

// ModelsDirEnv names the environment variable that points at the shipped models.
const ModelsDirEnv = "JPEGRESTORE_MODELS"

// ResolveModel turns a preset name or a path into a manifest path. Presets are looked up in dir,
// else $JPEGRESTORE_MODELS, else models/ under the working directory (or the repository root
// above it) and beside the executable.
func ResolveModel(nameOrPath, dir string) (string, error) {
	if strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".json") || strings.HasSuffix(nameOrPath, ".onnx") {
		return nameOrPath, nil
	}
	var dirs []string
	for _, d := range []string{dir, os.Getenv(ModelsDirEnv)} {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, "models"))
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil || filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "models"), filepath.Join(filepath.Dir(exe), "..", "models"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, nameOrPath+".json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("model preset %q not found (looked for %s.json in %q); pass --model PATH to a manifest or .onnx, or --models DIR", nameOrPath, nameOrPath, dirs)
}

// ModelConfig says which models restore which routes and how.
type ModelConfig struct {
	// Default is the preset or path used by routes that name no model.
	Default string
	// Dir is where presets are looked up first ("" for the defaults of ResolveModel).
	Dir string
	// Ensemble and Tile apply to routes that set none (0: 1 and the model's default tile).
	Ensemble, Tile int
	Pool           gpuworker.Options
}

// Models hands out one Restorer per model × ensemble × tile, over process-wide pools. It is safe
// for concurrent use.
type Models struct {
	cfg     ModelConfig
	mu      sync.Mutex
	entries map[string]*modelEntry
}

type modelEntry struct {
	restorer *inference.Restorer
	manifest *inference.Manifest
	ticket   *gpuworker.Ticket
}

// NewModels returns an empty set; models load on first use (or in Preload).
func NewModels(cfg ModelConfig) *Models {
	return &Models{cfg: cfg, entries: map[string]*modelEntry{}}
}

// Settings returns the model, ensemble and tile a route runs with.
func (m *Models) Settings(r route.Route) (model string, ensemble, tile int) {
	model, ensemble, tile = r.Model, r.Ensemble, r.Tile
	if model == "" {
		model = m.cfg.Default
	}
	if ensemble == 0 {
		ensemble = max(m.cfg.Ensemble, 1)
	}
	if tile == 0 {
		tile = m.cfg.Tile // 0: the model's default (see inference.TileConfig)
	}
	return model, ensemble, tile
}

// Restorer returns the restorer for a route (not a passthrough one), loading its model on first
// use: the manifest's sha256 and the ONNX inputs are checked then.
func (m *Models) Restorer(r route.Route) (*inference.Restorer, *inference.Manifest, error) {
	model, ensemble, tile := m.Settings(r)
	key := fmt.Sprintf("%s|%d|%d", model, ensemble, tile)
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil {
		return e.restorer, e.manifest, nil
	}
	path, err := ResolveModel(model, m.cfg.Dir)
	if err != nil {
		return nil, nil, err
	}
	man, err := inference.LoadManifest(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := gpuworker.Acquire(man, m.cfg.Pool)
	if err != nil {
		return nil, nil, err
	}
	rs, err := inference.NewRestorer(t.Pool(), man, inference.Config{TileConfig: inference.TileConfig{Tile: tile}, Ensemble: ensemble})
	if err != nil {
		return nil, nil, errors.Join(err, t.Close())
	}
	m.entries[key] = &modelEntry{restorer: rs, manifest: man, ticket: t}
	return rs, man, nil
}

// Preload loads the model of every restoring route, so a missing or corrupt model fails before
// the first image.
func (m *Models) Preload(rs route.Routes) error {
	for _, r := range rs {
		if r.Passthrough {
			continue
		}
		if _, _, err := m.Restorer(r); err != nil {
			return fmt.Errorf("route %s: %w", r.Name, err)
		}
	}
	return nil
}

// Close releases the pools.
func (m *Models) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for k, e := range m.entries {
		errs = append(errs, e.ticket.Close())
		delete(m.entries, k)
	}
	return errors.Join(errs...)
}

// Metrics returns the metrics of every loaded model's pool, keyed by model, ensemble and tile.
func (m *Models) Metrics() map[string]gpuworker.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]gpuworker.Snapshot{}
	for k, e := range m.entries {
		out[k] = e.ticket.Pool().Metrics().Snapshot()
	}
	return out
}
