package gpuworker

import (
	"fmt"
	"sync"

	"jpegrestore/inference"
)

// The process-wide pools, one per model and options, shared by every caller that asks for the same
// thing: Beam runs many DoFn instances per worker process, and each must not load its own copy of
// a model or start its own threads.
var registry = struct {
	sync.Mutex
	pools map[poolKey]*shared
}{pools: map[poolKey]*shared{}}

type poolKey struct {
	sha256 string
	opts   Options
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

// Acquire returns a ticket for the process-wide pool running the model with the options, opening
// the pool on first use. ORT must have been initialised with Init.
func Acquire(man *inference.Manifest, opts Options) (*Ticket, error) {
	key := poolKey{sha256: man.SHA256, opts: opts.withDefaults()}
	registry.Lock()
	defer registry.Unlock()
	s := registry.pools[key]
	if s == nil {
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
