package transforms

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestWindowEmitsEveryResultOnceFromTheCaller(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8} {
		var w window[int]
		w.reset(n)
		var got []int
		var running, peak atomic.Int64
		emit := func(v int) { got = append(got, v) } // not locked: must run on this goroutine
		for i := 0; i < 20; i++ {
			err := w.submit(func() (int, error) {
				r := running.Add(1)
				for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				return i, nil
			}, emit)
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w.flush(emit); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		for i, v := range got {
			if v != i {
				t.Fatalf("n=%d: results %v, want 0..19 once each", n, got)
			}
		}
		if len(got) != 20 || peak.Load() > int64(n) {
			t.Errorf("n=%d: %d results, %d in flight at once", n, len(got), peak.Load())
		}
		if n > 1 && peak.Load() < 2 {
			t.Errorf("n=%d: never more than one call in flight", n)
		}
	}
}

func TestWindowReturnsErrors(t *testing.T) {
	var w window[int]
	w.reset(2)
	boom := errors.New("boom")
	emit := func(int) {}
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		err = w.submit(func() (int, error) { return 0, boom }, emit)
	}
	if err == nil {
		err = w.flush(emit)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if w.inflight != 0 {
		t.Errorf("%d calls still in flight after the bundle failed", w.inflight)
	}
	w.reset(2) // the next bundle starts clean
	if err := w.submit(func() (int, error) { return 1, nil }, emit); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(emit); err != nil {
		t.Fatal(err)
	}
}
