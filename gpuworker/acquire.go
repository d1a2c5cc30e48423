package gpuworker

import (
	"path/filepath"

	"jpegrestore/inference"
	"jpegrestore/refcount"
)

// The process-wide pools, one per model file and options, shared by every caller that asks for
// the same thing: Beam runs many DoFn instances per worker process, and each must not load its
// own copy of a model or start its own threads. This is the process's one cache of models.
var registry = refcount.Map[poolKey, *Pool]{Close: (*Pool).Close}

type poolKey struct {
	path string // the manifest's absolute path
	opts Options
}

// Ticket is one holder's claim on a shared pool. Close it when done; the pool closes with its
// last ticket.
type Ticket struct {
	pool    *Pool
	release func() error
}

// Pool returns the shared pool.
func (t *Ticket) Pool() *Pool { return t.pool }

// Acquire returns a ticket for the process-wide pool running the model at path (a manifest, or
// an .onnx with its manifest beside it) with the options, loading the manifest (and checking the
// model's sha256) and opening the pool on first use. ORT must have been initialised with Init.
func Acquire(path string, opts Options) (*Ticket, error) {
	abs, err := filepath.Abs(inference.ManifestPath(path))
	if err != nil {
		return nil, err
	}
	if opts.Device == "" {
		opts.Device = DeviceCPU
	}
	pool, release, err := registry.Acquire(poolKey{path: abs, opts: opts}, func() (*Pool, error) {
		man, err := inference.LoadManifest(abs)
		if err != nil {
			return nil, err
		}
		return Open(man, opts)
	})
	if err != nil {
		return nil, err
	}
	return &Ticket{pool: pool, release: release}, nil
}

// Close releases the ticket; the last ticket of a pool closes it. Closing twice is a no-op.
func (t *Ticket) Close() error { return t.release() }

// Pools returns a snapshot of every open pool of the process.
func Pools() []Snapshot {
	var out []Snapshot
	registry.Each(func(_ poolKey, p *Pool) { out = append(out, p.Snapshot()) })
	return out
}

// Loader returns an inference.Loader that runs models in the process-wide pools: it initialises
// ONNX Runtime from lib (see LibraryPath; "" searches the usual places, after the hints) on first
// use and acquires the model's pool with opts.
func Loader(lib string, opts Options, hints ...string) inference.Loader {
	return func(path string) (inference.Model, func() error, error) {
		p, err := LibraryPath(lib, hints...)
		if err != nil {
			return inference.Model{}, nil, err
		}
		if err := Init(p); err != nil {
			return inference.Model{}, nil, err
		}
		t, err := Acquire(path, opts)
		if err != nil {
			return inference.Model{}, nil, err
		}
		pool := t.Pool()
		return inference.Model{Manifest: pool.Manifest(), Engine: pool, Device: pool.Device(), Note: pool.Note()}, t.Close, nil
	}
}
