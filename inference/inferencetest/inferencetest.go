// Package inferencetest runs models in pure Go, so that the code above the model (enhance's
// journey, the Beam DoFns) can be tested without ONNX Runtime. The real engine is tested on its
// own (gpuworker) and end to end (jobs).
package inferencetest

import (
	"context"
	"sync/atomic"

	"jpegrestore/inference"
)

// Identity returns every tile unchanged: the Go twin of inference/testdata/identity.onnx.
var Identity = inference.EngineFunc(func(_ context.Context, x []float32, _, _ int, _ []float32) ([]float32, error) {
	return append([]float32(nil), x...), nil
})

// Loader returns a loader that reads a model's manifest from its path, checking the model file's
// sha256 as the real loader does, and runs eng in place of the model file. Loads counts the
// models it loaded and not yet released.
func Loader(eng inference.Engine) (load inference.Loader, loads *atomic.Int64) {
	loads = new(atomic.Int64)
	return func(path string) (inference.Model, func() error, error) {
		man, err := inference.LoadManifest(path)
		if err != nil {
			return inference.Model{}, nil, err
		}
		loads.Add(1)
		return inference.Model{Manifest: man, Engine: eng, Device: "go"}, func() error { loads.Add(-1); return nil }, nil
	}, loads
}
