package gpuworker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"jpegrestore/inference"
	"jpegrestore/pix"
)

// Pool runs one model on a device for many concurrent callers: ORT sessions (ort.go) behind a
// batcher (batcher.go). It implements inference.Engine: Infer calls with the same tile size are
// grouped into batches of up to MaxBatch, waiting at most MaxWait, and run on the first free
// session. Memory is bounded by 2×QueueSize + (Sessions+1)×MaxBatch tiles (the batcher's),
// whatever the number of images.
type Pool struct {
	man     *inference.Manifest
	opts    Options // with the defaults of the device used
	device  string
	note    string
	metrics *Metrics

	sessions []*session
	solo     *session // nil, or the session for batches that find the pool idle (CPU only)
	batcher  *batcher
	outs     pix.Buffers[float32] // output buffers handed back by Release
}

// Open loads the model described by man on the device. ORT must have been initialised with Init.
// It checks the model's inputs and outputs against the manifest, so a mismatched model fails here.
// With Device "auto" it tries CUDA device 0 and falls back to the CPU, with the CPU's defaults,
// and says so in Note.
func Open(man *inference.Manifest, opts Options) (*Pool, error) {
	if !ort.IsInitialized() {
		return nil, errors.New("gpuworker: ONNX Runtime is not initialised; call gpuworker.Init first")
	}
	cudaID, auto, err := parseDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	if err := checkModelIO(man); err != nil {
		return nil, err
	}
	p := &Pool{man: man}
	start := time.Now()
	err = p.openOn(opts, cudaID)
	var noCUDA *cudaError
	if auto && errors.As(err, &noCUDA) {
		p.note = fmt.Sprintf("--device auto: CUDA device %d did not start (%v); running on the CPU", cudaID, noCUDA.cause)
		err = p.openOn(opts, -1)
	}
	if err != nil {
		return nil, err
	}
	p.metrics = newMetrics(p.opts.MaxBatch)
	p.metrics.LoadTime = time.Since(start)
	runners := make([]runner, len(p.sessions))
	for i, s := range p.sessions {
		runners[i] = s
	}
	var solo runner
	if p.solo != nil {
		solo = p.solo
	}
	p.batcher = startBatcher(batchConfig{maxBatch: p.opts.MaxBatch, maxWait: p.opts.MaxWait, queueSize: p.opts.QueueSize,
		soloPixels: p.opts.SoloPixels}, runners, solo, p.metrics)
	return p, nil
}

// openOn fills the defaults for the device with CUDA id cudaID (-1: the CPU) and opens the
// sessions there: opts.Sessions of them, and on the CPU the solo session.
func (p *Pool) openOn(requested Options, cudaID int) error {
	o := requested.withDefaults(cudaID)
	if err := o.validate(); err != nil {
		return err
	}
	confs := make([]sessionConf, o.Sessions, o.Sessions+1)
	for i := range confs {
		confs[i] = sessionConf{threads: o.Threads, memPattern: true}
	}
	if cudaID < 0 && o.SoloThreads > 0 {
		// The solo session runs the big tiles (SoloPixels), where the memory pattern costs
		// memory and buys no speed.
		confs = append(confs, sessionConf{threads: o.SoloThreads})
	}
	sessions, err := openSessions(p.man, confs, cudaID, o.Spin, &p.outs)
	if err != nil {
		return err
	}
	p.opts, p.device, p.sessions = o, deviceName(cudaID), sessions[:o.Sessions]
	if len(sessions) > o.Sessions {
		p.solo = sessions[o.Sessions]
	}
	return nil
}

// Device returns where the pool runs ("cpu" or "cuda:N").
func (p *Pool) Device() string { return p.device }

// Note returns a message for the user when the device differs from the one asked for.
func (p *Pool) Note() string { return p.note }

// Options returns the options the pool runs with, defaults filled for its device.
func (p *Pool) Options() Options { return p.opts }

// Manifest returns the model's manifest.
func (p *Pool) Manifest() *inference.Manifest { return p.man }

// Metrics returns the pool's live metrics.
func (p *Pool) Metrics() *Metrics { return p.metrics }

// Snapshot returns the pool's metrics now, with the model and where it runs.
func (p *Pool) Snapshot() Snapshot {
	s := p.metrics.Snapshot()
	s.Model, s.Device, s.Note = p.man.Name, p.device, p.note
	s.Sessions, s.Threads = p.opts.Sessions, p.opts.Threads
	return s
}

// Infer implements inference.Engine. x is one 3×h×w tile; the result is the model's output for it.
func (p *Pool) Infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	if len(x) != 3*h*w {
		return nil, fmt.Errorf("gpuworker: tile of %d values is not 3x%dx%d", len(x), h, w)
	}
	if p.man.Conditioned() != (q != nil) || (q != nil && len(q) != inference.QTableLen) {
		return nil, fmt.Errorf("gpuworker: model %s conditioning %q, got %d qtable values", p.man.Name, p.man.Conditioning, len(q))
	}
	return p.batcher.infer(ctx, x, h, w, q)
}

// Release implements inference.Releaser: y, a result of Infer, is no longer used by its caller.
func (p *Pool) Release(y []float32) { p.outs.Put(y) }

// Close stops the pool: waiting and later calls fail with an error, running batches finish, and
// the sessions are destroyed. It is safe to call more than once.
func (p *Pool) Close() error {
	if !p.batcher.close() {
		return nil
	}
	return destroySessions(append(slices.Clip(p.sessions), p.solo)) // Clip: p.sessions shares its array
}
