package enhance

import "sync"

// Budget bounds the pixels being decoded, restored and encoded at once, so that keeping several
// inputs in flight cannot multiply the memory of very large images. An image larger than the
// whole budget waits until it can run alone. A nil *Budget bounds nothing.
type Budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	cap  int64
	used int64
}

// NewBudget returns a budget of capacity units (pixels).
func NewBudget(capacity int64) *Budget {
	b := &Budget{cap: capacity}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Acquire takes n units (at least 1, at most the capacity), waiting until they are free, and
// returns the function that gives them back.
func (b *Budget) Acquire(n int64) (release func()) {
	if b == nil {
		return func() {}
	}
	n = min(max(n, 1), b.cap)
	b.mu.Lock()
	for b.used+n > b.cap {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.used -= n
		b.mu.Unlock()
		b.cond.Broadcast()
	}
}
