package pix

import "sync"

// Buffers recycles slices of T: a job restores and scores every image, and reusing their large
// float planes keeps the garbage collector out of the hot path. The zero value is ready to use
// and safe for concurrent use.
type Buffers[T any] struct{ p sync.Pool }

// Get returns a slice of n values with undefined contents.
func (b *Buffers[T]) Get(n int) []T {
	if s, ok := b.p.Get().(*[]T); ok && cap(*s) >= n {
		return (*s)[:n]
	}
	return make([]T, n)
}

// Put hands s back; its caller must not use it again.
func (b *Buffers[T]) Put(s []T) { b.p.Put(&s) }
