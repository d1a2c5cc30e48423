package gpuworker

import (
	"fmt"
	"path/filepath"
	"sync"

	"jpegrestore/inference"
)

// The process-wide pools, one per model file and options, shared by every caller that asks for
// the same thing: Beam runs many DoFn instances per worker process, and each must not load its
// own copy of a model or start its own threads. This is the process's one cache of models.
var registry = struct {
	sync.Mutex
	pools map[poolKey]*shared
}{pools: map[poolKey]*shared{}}

type poolKey struct {
	path string // the manifest's absolute path
	opts Options
}

type shared struct {
	pool *Pool
	refs int
}

// Ticket is one holder's claim on a shared pool. Close it when done; the pool closes with its
// last ticket.
type Ticket struct {
	key  poolKey
	pool *Pool
	once sync.Once
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
	key := poolKey{path: abs, opts: opts}
	registry.Lock()
	defer registry.Unlock()
	s := registry.pools[key]
	if s == nil {
		man, err := inference.LoadManifest(abs)
		if err != nil {
			return nil, err
		}
		p, err := Open(man, opts)
		if err != nil {
			return nil, err
		}
		s = &shared{pool: p}
		registry.pools[key] = s
	}
	s.refs++
	return &Ticket{key: key, pool: s.pool}, nil
}

// Close releases the ticket; the last ticket of a pool closes it. Closing twice is a no-op.
func (t *Ticket) Close() error {
	var err error
	t.once.Do(func() {
		registry.Lock()
		defer registry.Unlock()
		s := registry.pools[t.key]
		if s == nil {
			err = fmt.Errorf("gpuworker: ticket for a pool that is gone")
			return
		}
		s.refs--
		if s.refs == 0 {
			delete(registry.pools, t.key)
			err = s.pool.Close()
		}
	})
	return err
}

// Pools returns a snapshot of every open pool of the process.
func Pools() []Snapshot {
	registry.Lock()
	defer registry.Unlock()
	var out []Snapshot
	for _, s := range registry.pools {
		out = append(out, s.pool.Snapshot())
	}
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
