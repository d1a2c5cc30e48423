package transforms

// window lets one DoFn instance keep up to n elements in flight: Beam hands a bundle's elements
// over one at a time, so without it a bundle's decode and encode leave the model pool idle.
// Results are emitted only from the calling goroutine (ProcessElement or FinishBundle), as Beam
// requires. Not safe for concurrent use; a DoFn instance runs one bundle at a time.
type window[T any] struct {
	n        int
	inflight int
	done     chan outcome[T]
}

type outcome[T any] struct {
	v   T
	err error
}

// reset starts a bundle; results of an abandoned bundle are dropped.
func (w *window[T]) reset(n int) {
	w.n, w.inflight = max(n, 1), 0
	w.done = make(chan outcome[T], w.n)
}

// submit runs f in its own goroutine once fewer than n are in flight, then emits every result
// that is ready. It returns the first error of a finished call, after waiting for the rest in
// flight (their results dropped): the bundle then fails and the runner retries all of it.
func (w *window[T]) submit(f func() (T, error), emit func(T)) error {
	if w.done == nil {
		w.reset(w.n)
	}
	for w.inflight >= w.n {
		if err := w.take(emit); err != nil {
			return w.abandon(err)
		}
	}
	w.inflight++
	done := w.done
	go func() {
		v, err := f()
		done <- outcome[T]{v, err}
	}()
	for {
		select {
		case o := <-w.done:
			w.inflight--
			if o.err != nil {
				return w.abandon(o.err)
			}
			emit(o.v)
		default:
			return nil
		}
	}
}

func (w *window[T]) take(emit func(T)) error {
	o := <-w.done
	w.inflight--
	if o.err != nil {
		return o.err
	}
	emit(o.v)
	return nil
}

// abandon waits for the calls still in flight, drops their results and returns err.
func (w *window[T]) abandon(err error) error {
	w.flush(func(T) {})
	return err
}

// flush waits for every call in flight, emits their results and returns the first error.
func (w *window[T]) flush(emit func(T)) error {
	var first error
	for w.inflight > 0 {
		if err := w.take(emit); err != nil && first == nil {
			first = err
		}
	}
	return first
}
