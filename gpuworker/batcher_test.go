package gpuworker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// goRunner is a pure-Go runner: each output is 2x + q[0]. A non-nil gate holds every run until
// it is closed; fail makes every run fail.
type goRunner struct {
	gate    chan struct{}
	fail    error
	running *atomic.Int64 // runs in progress, over every runner sharing it
	sizes   chan int      // the size of each batch run, when not nil
}

func (r *goRunner) run(batch []*request) ([][]float32, error) {
	r.running.Add(1)
	defer r.running.Add(-1)
	if r.sizes != nil {
		r.sizes <- len(batch)
	}
	if r.gate != nil {
		<-r.gate
	}
	if r.fail != nil {
		return nil, r.fail
	}
	for _, req := range batch {
		if req.h != batch[0].h || req.w != batch[0].w {
			return nil, errors.New("a batch mixes tile sizes")
		}
	}
	out := make([][]float32, len(batch))
	for i, req := range batch {
		y := make([]float32, len(req.x))
		for j, v := range req.x {
			y[j] = 2 * v
			if req.q != nil {
				y[j] += req.q[0]
			}
		}
		out[i] = y
	}
	return out, nil
}

// goBatcher starts a batcher over n runners (and a solo one when solo is set), all alike; it is
// closed when the test ends.
func goBatcher(t *testing.T, cfg batchConfig, n int, solo bool, like goRunner) (*batcher, *Metrics) {
	t.Helper()
	if like.running == nil {
		like.running = new(atomic.Int64)
	}
	var runners []runner
	for range n {
		r := like
		runners = append(runners, &r)
	}
	var s runner
	if solo {
		r := like
		s = &r
	}
	m := newMetrics(cfg.maxBatch)
	b := startBatcher(cfg, runners, s, m)
	t.Cleanup(func() { b.close() })
	return b, m
}

func tile(v float32) []float32 { return []float32{v, v + 1, v + 2} }

// callers starts n callers of one tile each and returns the function that waits for them.
func callers(t *testing.T, b *batcher, n int) (wait func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.infer(context.Background(), tile(1), 1, 1, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	return wg.Wait
}

// TestBatcherKeepsCallersApart: concurrent callers of one tile size are batched together, and
// each gets its own result.
func TestBatcherKeepsCallersApart(t *testing.T) {
	b, m := goBatcher(t, batchConfig{maxBatch: 4, maxWait: 50 * time.Millisecond, queueSize: 32}, 1, false, goRunner{})
	const n = 12
	got := make([][]float32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = b.infer(context.Background(), tile(float32(i)), 1, 1, []float32{0.5})
		}()
	}
	wg.Wait()
	for i := range n {
		want := []float32{2*float32(i) + 0.5, 2*float32(i) + 2.5, 2*float32(i) + 4.5}
		if errs[i] != nil || !slices.Equal(got[i], want) {
			t.Errorf("caller %d: %v, %v; want %v", i, got[i], errs[i], want)
		}
	}
	s := m.Snapshot()
	if s.Batches >= n || s.BatchSizes[4] == 0 || s.Inferences != n {
		t.Errorf("%d tiles in %d batches, sizes %v: nothing was batched", s.Inferences, s.Batches, s.BatchSizes)
	}
}

// TestBatcherSeparatesSizes: tiles of different sizes never share a batch.
func TestBatcherSeparatesSizes(t *testing.T) {
	sizes := make(chan int, 100)
	b, _ := goBatcher(t, batchConfig{maxBatch: 8, maxWait: 20 * time.Millisecond, queueSize: 64}, 1, false, goRunner{sizes: sizes})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := 1 + i%2 // two sizes: 1×3 and 2×3 values
			x := make([]float32, 3*h)
			y, err := b.infer(context.Background(), x, h, 1, nil)
			if err != nil || len(y) != len(x) {
				t.Errorf("size %d: %d values back, %v", h, len(y), err)
			}
		}()
	}
	wg.Wait()
	close(sizes)
	total := 0
	for n := range sizes {
		total += n
	}
	if total != 16 {
		t.Errorf("%d tiles ran, want 16", total)
	}
}

// TestBatcherSoloTakesLoneCallers: a caller alone on an idle batcher runs on the solo runner;
// callers that arrive together also reach the others.
func TestBatcherSoloTakesLoneCallers(t *testing.T) {
	b, m := goBatcher(t, batchConfig{maxBatch: 1, queueSize: 8}, 2, true, goRunner{})
	for i := range 5 {
		if _, err := b.infer(context.Background(), tile(1), 1, 1, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := m.Snapshot(); s.Solo != 5 {
		t.Errorf("a lone sequential caller ran %d of 5 batches on the solo runner", s.Solo)
	}
	gate := make(chan struct{})
	b2, m2 := goBatcher(t, batchConfig{maxBatch: 1, queueSize: 8}, 2, true, goRunner{gate: gate})
	wait := callers(t, b2, 6)
	time.Sleep(50 * time.Millisecond) // let them queue behind the held runs
	close(gate)
	wait()
	if s := m2.Snapshot(); s.Batches-s.Solo == 0 || s.Inferences != 6 {
		t.Errorf("6 concurrent callers: %d of %d batches on the solo runner, %d tiles", s.Solo, s.Batches, s.Inferences)
	}
}

// TestBatcherBigTilesWaitForSolo: tiles of soloPixels or more run only on the solo runner, one
// batch at a time, and small tiles queued behind them still run on the other runners meanwhile.
func TestBatcherBigTilesWaitForSolo(t *testing.T) {
	gate := make(chan struct{})
	running := new(atomic.Int64)
	var runners []runner
	for range 2 {
		runners = append(runners, &goRunner{running: running})
	}
	solo := &goRunner{gate: gate, running: running}
	m := newMetrics(1)
	b := startBatcher(batchConfig{maxBatch: 1, queueSize: 16, soloPixels: 4}, runners, solo, m)
	t.Cleanup(func() { b.close() })
	big := func() error {
		_, err := b.infer(context.Background(), make([]float32, 3*2*2), 2, 2, nil)
		return err
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := big(); err != nil {
				t.Error(err)
			}
		}()
	}
	// The solo runner holds the first big tile; the other two wait for it, not for the idle
	// runners, and six small tiles pass them.
	deadline := time.Now().Add(5 * time.Second)
	for running.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	callers(t, b, 6)()
	if s := m.Snapshot(); s.Inferences != 6 || s.Solo != 0 {
		t.Errorf("with the solo runner held: %d tiles ran, %d on it; want the 6 small ones elsewhere", s.Inferences, s.Solo)
	}
	if n := running.Load(); n != 1 {
		t.Errorf("%d runs in progress, want only the held solo one", n)
	}
	close(gate)
	wg.Wait()
	if s := m.Snapshot(); s.Inferences != 9 || s.Solo != 3 {
		t.Errorf("%d tiles, %d on the solo runner; want 9 and the 3 big ones", s.Inferences, s.Solo)
	}
}

// TestBatcherBoundsRunsAndDropsCancelled: no more batches run at once than there are runners, and
// a caller that gives up while queued is answered with its context's error and never run.
func TestBatcherBoundsRunsAndDropsCancelled(t *testing.T) {
	gate := make(chan struct{})
	running := new(atomic.Int64)
	b, m := goBatcher(t, batchConfig{maxBatch: 1, queueSize: 4}, 2, false, goRunner{gate: gate, running: running})
	wait := callers(t, b, 4)
	time.Sleep(50 * time.Millisecond)
	if n := running.Load(); n != 2 {
		t.Errorf("%d runs at once on 2 runners", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := b.infer(ctx, tile(1), 1, 1, nil)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	close(gate)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	wait()
	if s := m.Snapshot(); s.Inferences != 4 {
		t.Errorf("%d tiles ran, want the 4 live ones", s.Inferences)
	}
}

// TestBatcherFailuresAndClose: a failed run fails every tile in it; close lets the running batch
// finish, fails the queued ones, and refuses later calls.
func TestBatcherFailuresAndClose(t *testing.T) {
	boom := errors.New("boom")
	bf, mf := goBatcher(t, batchConfig{maxBatch: 2, queueSize: 4}, 1, false, goRunner{fail: boom})
	if _, err := bf.infer(context.Background(), tile(1), 1, 1, nil); !errors.Is(err, boom) {
		t.Errorf("failed run: %v", err)
	}
	if s := mf.Snapshot(); s.Failures != 1 || s.Inferences != 0 {
		t.Errorf("metrics after a failure: %v", s)
	}

	gate := make(chan struct{})
	running := new(atomic.Int64)
	b, _ := goBatcher(t, batchConfig{maxBatch: 1, queueSize: 4}, 1, false, goRunner{gate: gate, running: running})
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := b.infer(context.Background(), tile(1), 1, 1, nil)
			errs <- err
		}()
	}
	for running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the other two are queued
	closed := make(chan bool)
	go func() { closed <- b.close() }()
	time.Sleep(20 * time.Millisecond)
	close(gate)
	if !<-closed {
		t.Error("the first close reported the batcher already closed")
	}
	var ok, refused int
	for range 3 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, errClosed):
			refused++
		default:
			t.Error(err)
		}
	}
	if ok != 1 || refused != 2 {
		t.Errorf("close: %d finished, %d refused; want the running one finished and 2 refused", ok, refused)
	}
	if _, err := b.infer(context.Background(), tile(1), 1, 1, nil); !errors.Is(err, errClosed) {
		t.Errorf("infer after close: %v", err)
	}
	if b.close() {
		t.Error("a second close closed again")
	}
}
