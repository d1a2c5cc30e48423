package gpuworker

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"
)

// runner runs one batch of same-size tiles and returns each tile's output. The batcher calls
// each runner from one goroutine at a time. ORT sessions are the runners of a Pool; tests use
// pure-Go ones.
type runner interface {
	run(batch []*request) ([][]float32, error)
}

type request struct {
	ctx  context.Context
	x, q []float32
	h, w int
	done chan result
}

type result struct {
	y   []float32
	err error
}

// batchConfig is what the batcher takes of the Options.
type batchConfig struct {
	maxBatch  int
	maxWait   time.Duration
	queueSize int
	// soloPixels: tiles of at least this many pixels run only on the solo runner, when there is
	// one (0 or less: none are kept for it).
	soloPixels int
}

// errClosed is returned by Infer after Close.
var errClosed = errors.New("gpuworker: pool closed")

// batcher is the scheduler of a Pool, in pure Go: it groups concurrent requests by tile size
// into batches of up to maxBatch, waiting at most maxWait, and hands each batch to the first free
// runner; a batch that finds nothing else running or queued goes to the solo runner, if any, and
// so does every batch of big tiles (soloPixels), which waits for it.
// Memory is bounded by 2 × queueSize (in the channel and in the groups being formed) + runners ×
// maxBatch tiles, whatever the number of callers.
type batcher struct {
	cfg     batchConfig
	metrics *Metrics

	reqs     chan *request
	batches  chan []*request
	soloRuns chan []*request
	finished chan struct{} // a runner finished a batch
	stop     chan struct{}
	hasSolo  bool
	wg       sync.WaitGroup
	closeMu  sync.RWMutex // held for reading while a request is queued, so close sees no new ones
	closed   bool
}

// startBatcher starts the dispatcher and one goroutine per runner (and for solo, when not nil).
func startBatcher(cfg batchConfig, runners []runner, solo runner, m *Metrics) *batcher {
	b := &batcher{cfg: cfg, metrics: m, reqs: make(chan *request, cfg.queueSize),
		batches: make(chan []*request), soloRuns: make(chan []*request),
		finished: make(chan struct{}, len(runners)+1), stop: make(chan struct{}), hasSolo: solo != nil}
	b.wg.Add(1 + len(runners))
	go b.dispatch()
	for _, r := range runners {
		go b.work(r, b.batches, false)
	}
	if solo != nil {
		b.wg.Add(1)
		go b.work(solo, b.soloRuns, true)
	}
	return b
}

// infer queues one tile and waits for its result.
func (b *batcher) infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	r := &request{ctx: ctx, x: x, q: q, h: h, w: w, done: make(chan result, 1)}
	b.closeMu.RLock()
	if b.closed {
		b.closeMu.RUnlock()
		return nil, errClosed
	}
	select {
	case b.reqs <- r:
		b.closeMu.RUnlock()
	case <-ctx.Done():
		b.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	// Once queued, the request is always answered: a cancelled one is dropped before its batch
	// runs, or comes back when the run it is in ends (the model may be reading x until then).
	res := <-r.done
	if res.err == nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res.y, res.err
}

// dispatch groups requests by tile size and offers the oldest ready group to the runners, and
// the oldest ready group of big tiles to the solo runner. A group is ready when it is full or has
// waited maxWait; while every runner is busy, ready groups keep taking same-size tiles up to
// maxBatch, so batches form from the queue under load and a lone tile on an idle pool runs at
// once (when maxWait is none). Small tiles are never held behind big ones waiting for the solo
// runner.
func (b *batcher) dispatch() {
	defer b.wg.Done()
	defer close(b.batches)
	defer close(b.soloRuns)
	running := 0 // batches handed to runners and not finished
	type group struct {
		key      [2]int
		reqs     []*request
		deadline time.Time
	}
	var groups []*group // oldest first; at most one group per size is not full
	big := func(g *group) bool {
		return b.hasSolo && b.cfg.soloPixels > 0 && g.key[0]*g.key[1] >= b.cfg.soloPixels
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// Runners report a finished batch before handing its results back, so a caller's next
		// tile never sees its previous one as still running.
	drain:
		for {
			select {
			case <-b.finished:
				running--
			default:
				break drain
			}
		}
		now := time.Now()
		toRunners, toSolo := -1, -1 // the groups offered to the runners and to the solo runner
		var next time.Time          // the earliest deadline of a group not ready yet
		for i, g := range groups {
			switch {
			case len(g.reqs) < b.cfg.maxBatch && g.deadline.After(now):
				if next.IsZero() || g.deadline.Before(next) {
					next = g.deadline
				}
			case big(g):
				if toSolo < 0 {
					toSolo = i
				}
			case toRunners < 0:
				toRunners = i
			}
		}
		// A lone batch on an idle pool goes to the solo runner, with every core.
		if b.hasSolo && toSolo < 0 && toRunners >= 0 && running == 0 && len(groups) == 1 && len(b.reqs) == 0 {
			toRunners, toSolo = -1, toRunners
		}
		var (
			offer, offerSolo chan<- []*request
			head, headSolo   []*request
			timerC           <-chan time.Time
		)
		if toRunners >= 0 {
			offer, head = b.batches, groups[toRunners].reqs
		}
		if toSolo >= 0 {
			offerSolo, headSolo = b.soloRuns, groups[toSolo].reqs
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			timerC = timer.C
		}
		// Take more requests only while fewer than queueSize wait in groups: beyond that, callers
		// block in infer (backpressure).
		reqs, queued := b.reqs, 0
		for _, g := range groups {
			queued += len(g.reqs)
		}
		if queued >= b.cfg.queueSize {
			reqs = nil
		}
		select {
		case offer <- head:
			groups = slices.Delete(groups, toRunners, toRunners+1)
			running++
		case offerSolo <- headSolo:
			groups = slices.Delete(groups, toSolo, toSolo+1)
			running++
		case <-b.finished:
			running--
		case r := <-reqs:
			key := [2]int{r.h, r.w}
			var g *group
			for _, x := range groups {
				if x.key == key && len(x.reqs) < b.cfg.maxBatch {
					g = x
					break
				}
			}
			if g == nil {
				g = &group{key: key, deadline: time.Now().Add(max(b.cfg.maxWait, 0))}
				groups = append(groups, g)
			}
			g.reqs = append(g.reqs, r)
		case <-timerC:
		case <-b.stop:
			for _, g := range groups {
				failAll(g.reqs, errClosed)
			}
			return
		}
		timer.Stop()
	}
}

func failAll(reqs []*request, err error) {
	for _, r := range reqs {
		r.done <- result{err: err}
	}
}

// work runs the batches of one channel on one runner.
func (b *batcher) work(r runner, batches <-chan []*request, solo bool) {
	defer b.wg.Done()
	// ORT runs part of every operator on the calling thread and keeps per-thread scratch buffers;
	// one OS thread per runner keeps them warm.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for batch := range batches {
		// Requests whose callers gave up are dropped before spending the model on them.
		live := batch[:0]
		var res []result
		for _, req := range batch {
			if req.ctx.Err() != nil {
				req.done <- result{err: req.ctx.Err()}
				continue
			}
			live = append(live, req)
		}
		if len(live) > 0 {
			start := time.Now()
			ys, err := r.run(live)
			b.metrics.observe(len(live), time.Since(start), solo, err)
			for i := range live {
				if err != nil {
					res = append(res, result{err: err})
				} else {
					res = append(res, result{y: ys[i]})
				}
			}
		}
		select {
		case b.finished <- struct{}{}:
		case <-b.stop:
		}
		for i, req := range live {
			req.done <- res[i]
		}
	}
}

// close stops the batcher: waiting and later calls fail with errClosed, running batches finish.
// It reports whether this call closed it (false when already closed).
func (b *batcher) close() bool {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed {
		return false
	}
	b.closed = true
	close(b.stop)
	b.wg.Wait()
	// Requests still queued were never dispatched.
	for {
		select {
		case r := <-b.reqs:
			r.done <- result{err: errClosed}
		default:
			return true
		}
	}
}
