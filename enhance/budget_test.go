package enhance

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBudgetBoundsUnits(t *testing.T) {
	b := NewBudget(10)
	var used, peak atomic.Int64
	var wg sync.WaitGroup
	for _, n := range []int64{4, 4, 4, 25, 1, 6, 0} {
		wg.Add(1)
		go func(n int64) {
			defer wg.Done()
			release := b.Acquire(n)
			got := min(max(n, 1), 10)
			u := used.Add(got)
			for p := peak.Load(); u > p && !peak.CompareAndSwap(p, u); p = peak.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			used.Add(-got)
			release()
		}(n)
	}
	wg.Wait()
	if p := peak.Load(); p > 10 || p == 0 {
		t.Errorf("peak %d units in use, capacity 10", p)
	}
	var none *Budget
	none.Acquire(1 << 40)() // a nil budget bounds nothing
}
