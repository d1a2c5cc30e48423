package inference

import (
	"context"

	"jpegrestore/pix"
)

// Engine runs a model on one tile. x holds the tile in CHW order, 3×h×w float32 RGB in [0,1];
// q holds the QTableLen conditioning values, or is nil for models without conditioning. It returns
// the restored 3×h×w tile. Implementations must be safe for concurrent use; gpuworker's pool
// batches concurrent calls with the same h and w into one model run.
type Engine interface {
	Infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error)
}

// EngineFunc adapts a function to Engine.
type EngineFunc func(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error)

// Infer calls f.
func (f EngineFunc) Infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	return f(ctx, x, h, w, q)
}

// Releaser is implemented by engines that reuse output buffers: the Restorer hands each tile's
// output back once it has stored it, so restoring an archive does not allocate per tile.
type Releaser interface {
	Release(y []float32)
}

// tileBufs recycles the Restorer's input tiles.
var tileBufs pix.Buffers[float32]

// Model is a loaded model: its manifest and the engine that runs it.
type Model struct {
	Manifest *Manifest
	Engine   Engine
	// Device is where the engine runs ("cpu", "cuda:0"; "" when it does not say), and Note why
	// that differs from the device asked for ("" when it does not).
	Device, Note string
}

// Loader loads the model at path (a manifest .json, or an .onnx with its manifest beside it)
// ready to run; release frees what it holds. gpuworker.Loader runs models with ONNX Runtime in
// process-wide pools; package inferencetest runs them in Go, for tests of the code above.
type Loader func(path string) (m Model, release func() error, err error)
