// Package refcount shares one value per key among the holders that ask for it: the process-wide
// model pools (gpuworker) and connections to model servers (oip), which every DoFn instance of a
// Beam worker process asks for and none may open twice.
package refcount

import (
	"sync"
)

// Map holds one value per key. The first Acquire of a key opens its value; the release of its
// last holder closes it (with Close) and forgets it. It is safe for concurrent use: open and
// Close run under its lock, so a key is never opened twice. The zero Map is ready to use.
type Map[K comparable, V any] struct {
	// Close closes a value whose last holder released it; nil closes nothing.
	Close func(V) error

	mu sync.Mutex
	m  map[K]*held[V]
}

type held[V any] struct {
	v    V
	refs int
}

// Acquire returns the value of key, opening it with open if no one holds it, and the release of
// this hold. Releasing twice is a no-op; the last release returns Close's error.
func (m *Map[K, V]) Acquire(key K, open func() (V, error)) (V, func() error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.m[key]
	if h == nil {
		v, err := open()
		if err != nil {
			var zero V
			return zero, nil, err
		}
		if m.m == nil {
			m.m = map[K]*held[V]{}
		}
		h = &held[V]{v: v}
		m.m[key] = h
	}
	h.refs++
	var once sync.Once
	release := func() error {
		var err error
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if h.refs--; h.refs == 0 {
				delete(m.m, key)
				if m.Close != nil {
					err = m.Close(h.v)
				}
			}
		})
		return err
	}
	return h.v, release, nil
}

// Each calls f with every value held now, in no order, under the lock: f must not call m.
func (m *Map[K, V]) Each(f func(K, V)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, h := range m.m {
		f(k, h.v)
	}
}
