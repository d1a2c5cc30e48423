package gpuworker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"jpegrestore/inference"
	"jpegrestore/pix"
)

// Options configures a Pool. The zero value runs on the CPU with one session using every core.
type Options struct {
	// Device is "cpu" (default), "cuda:N" or "auto".
	Device Device
	// Sessions is the number of ORT sessions, each run by its own goroutine. 0 means 1 on CUDA
	// and, on the CPU, cores / Threads, or min(cores, 4) when Threads is 0 too: on 2 cores two
	// single-threaded sessions side by side run the fast model on 512×384 tiles at 4.4 MP/s,
	// one session with both cores at 3.4 (jobs' BenchmarkPipelineEfficiency, model-MP/s, with
	// and without JPEGRESTORE_BENCH_SESSIONS=1 JPEGRESTORE_BENCH_THREADS=2): its small operators
	// parallelise poorly.
	Sessions int
	// Threads is the intra-op thread count of each CPU session; 0 means cores / Sessions.
	Threads int
	// SoloThreads is the thread count of one more CPU session, which takes a batch only when
	// the pool is otherwise idle, so that a lone caller gets every core rather than one
	// session's share. 0 means every core when the sessions have fewer; negative means none.
	SoloThreads int
	// MaxBatch is the most tiles one model run takes. 0 means the device's default: 1 on the CPU,
	// where a batch of four 512² tiles runs about 8% slower per pixel than one at a time
	// (BenchmarkRawSession), and 4 on CUDA.
	MaxBatch int
	// MaxWait is how long a partial batch waits for more tiles of its size before a free session
	// may take it. 0 means the device's default: none on the CPU, where batching gains nothing
	// and a free session should take whatever is queued, and 2ms on CUDA. Negative means none.
	// Batches still form without waiting: tiles that queue while every session is busy are
	// grouped.
	MaxWait time.Duration
	// Spin lets ORT's intra-op threads spin between operators and runs (its default). Off (the
	// default here), idle threads sleep and leave the cores to decoding and encoding.
	Spin bool
	// QueueSize bounds the tiles waiting to be batched (twice over: in the queue and in the
	// groups being formed); further callers block in Infer (backpressure). 0 means
	// 4 × max(MaxBatch, 2) × Sessions.
	QueueSize int
}

func (o Options) withDefaults() Options {
	if o.Device == "" {
		o.Device = DeviceCPU
	}
	if o.Sessions == 0 {
		cpu := o.Device == DeviceCPU
		switch {
		case !cpu:
			o.Sessions = 1
		case o.Threads > 0:
			o.Sessions = max(1, runtime.NumCPU()/o.Threads)
		default:
			o.Sessions = min(runtime.NumCPU(), 4)
		}
	}
	if o.Threads == 0 {
		o.Threads = defaultThreads(o.Sessions)
	}
	if o.SoloThreads == 0 {
		o.SoloThreads = -1
		if o.Device == DeviceCPU && o.Threads < runtime.NumCPU() {
			o.SoloThreads = runtime.NumCPU()
		}
	}
	return o
}

// forDevice fills in the defaults that depend on where the pool runs.
func (o Options) forDevice(device string) Options {
	cpu := device == "cpu"
	if o.MaxBatch == 0 {
		o.MaxBatch = 4
		if cpu {
			o.MaxBatch = 1
		}
	}
	if o.MaxWait == 0 && !cpu {
		o.MaxWait = 2 * time.Millisecond
	}
	if o.QueueSize == 0 {
		o.QueueSize = 4 * max(o.MaxBatch, 2) * o.Sessions
	}
	return o
}

func (o Options) validate() error {
	if o.Threads < 1 || o.MaxBatch < 0 || o.QueueSize < 0 {
		return fmt.Errorf("gpuworker: bad options %+v", o)
	}
	return nil
}

// Pool runs one model on a device for many concurrent callers. It implements inference.Engine:
// Infer calls with the same tile size are grouped into batches of up to MaxBatch, waiting at most
// MaxWait, and run on the first free session. Memory is bounded by QueueSize + Sessions×MaxBatch
// tiles, whatever the number of images.
type Pool struct {
	man     *inference.Manifest
	opts    Options
	device  string
	note    string
	metrics *Metrics

	sessions []*ort.DynamicAdvancedSession
	solo     *ort.DynamicAdvancedSession // nil, or the session for batches that find the pool idle
	reqs     chan *request
	batches  chan []*request
	soloRuns chan []*request
	finished chan struct{} // a worker finished a batch
	stop     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.RWMutex // held for reading while a request is queued, so Close sees no new ones
	closed   bool
	outs     pix.Buffers[float32] // output buffers handed back by Release
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

// Open loads the model described by man on the device. ORT must have been initialised with Init.
// It checks the model's inputs and outputs against the manifest, so a mismatched model fails here.
func Open(man *inference.Manifest, opts Options) (*Pool, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if !ort.IsInitialized() {
		return nil, errors.New("gpuworker: ONNX Runtime is not initialised; call gpuworker.Init first")
	}
	cudaID, auto, err := parseDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	if err := checkModelIO(man); err != nil {
		return nil, err
	}
	p := &Pool{man: man, opts: opts, batches: make(chan []*request), soloRuns: make(chan []*request),
		stop: make(chan struct{})}
	start := time.Now()
	p.device = "cpu"
	if cudaID >= 0 {
		p.device = fmt.Sprintf("cuda:%d", cudaID)
	}
	err = p.openSessions(cudaID)
	if err != nil && auto {
		p.note = fmt.Sprintf("--device auto: %v; running on the CPU", err)
		p.device = "cpu"
		err = p.openSessions(-1)
	}
	if err != nil {
		return nil, err
	}
	p.opts = p.opts.forDevice(p.device)
	p.metrics = newMetrics(p.opts.MaxBatch)
	p.metrics.LoadTime = time.Since(start)
	p.reqs = make(chan *request, p.opts.QueueSize)
	p.finished = make(chan struct{}, len(p.sessions)+1)
	p.wg.Add(1 + len(p.sessions))
	go p.dispatch()
	for _, s := range p.sessions {
		go p.work(s, p.batches)
	}
	if p.solo != nil {
		p.wg.Add(1)
		go p.work(p.solo, p.soloRuns)
	}
	return p, nil
}

// openSessions creates the sessions side by side (each one optimises the graph on its own), and
// on the CPU the solo session.
func (p *Pool) openSessions(cudaID int) error {
	inputs := modelInputs(p.man)
	threads := make([]int, p.opts.Sessions)
	for i := range threads {
		threads[i] = p.opts.Threads
	}
	if cudaID < 0 && p.opts.SoloThreads > 0 {
		threads = append(threads, p.opts.SoloThreads)
	}
	sessions := make([]*ort.DynamicAdvancedSession, len(threads))
	errs := make([]error, len(threads))
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts, err := newSessionOptions(threads[i], cudaID, p.opts.Spin)
			if err != nil {
				errs[i] = err
				return
			}
			sessions[i], err = ort.NewDynamicAdvancedSession(p.man.Path(), inputs, []string{p.man.Output}, opts)
			errs[i] = errors.Join(err, opts.Destroy())
		}()
	}
	wg.Wait()
	for i, s := range sessions {
		switch {
		case s == nil:
		case i < p.opts.Sessions:
			p.sessions = append(p.sessions, s)
		default:
			p.solo = s
		}
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		if cudaID >= 0 {
			err = fmt.Errorf("%w (%v)", errNoCUDA, err)
		}
		return errors.Join(fmt.Errorf("model %s: creating session on %s: %w", p.man.Name, p.device, err), p.destroySessions())
	}
	return nil
}

func (p *Pool) destroySessions() error {
	var errs []error
	for _, s := range p.sessions {
		errs = append(errs, s.Destroy())
	}
	if p.solo != nil {
		errs = append(errs, p.solo.Destroy())
	}
	p.sessions, p.solo = nil, nil
	return errors.Join(errs...)
}

// Device returns where the pool runs ("cpu" or "cuda:N").
func (p *Pool) Device() string { return p.device }

// Note returns a message for the user when the device differs from the one asked for.
func (p *Pool) Note() string { return p.note }

// Manifest returns the model's manifest.
func (p *Pool) Manifest() *inference.Manifest { return p.man }

// Metrics returns the pool's live metrics.
func (p *Pool) Metrics() *Metrics { return p.metrics }

// errClosed is returned by Infer after Close.
var errClosed = errors.New("gpuworker: pool closed")

// Infer implements inference.Engine. x is one 3×h×w tile; the result is the model's output for it.
func (p *Pool) Infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	if len(x) != 3*h*w {
		return nil, fmt.Errorf("gpuworker: tile of %d values is not 3x%dx%d", len(x), h, w)
	}
	if p.man.Conditioned() != (q != nil) || (q != nil && len(q) != inference.QTableLen) {
		return nil, fmt.Errorf("gpuworker: model %s conditioning %q, got %d qtable values", p.man.Name, p.man.Conditioning, len(q))
	}
	r := &request{ctx: ctx, x: x, q: q, h: h, w: w, done: make(chan result, 1)}
	p.closeMu.RLock()
	if p.closed {
		p.closeMu.RUnlock()
		return nil, errClosed
	}
	select {
	case p.reqs <- r:
		p.closeMu.RUnlock()
	case <-ctx.Done():
		p.closeMu.RUnlock()
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

// dispatch groups requests by tile size and offers the oldest ready group to the sessions. A
// group is ready when it is full or has waited MaxWait; while every session is busy, ready groups
// keep taking same-size tiles up to MaxBatch, so batches form from the queue under load and a
// lone tile on an idle pool runs at once (when MaxWait is none). A batch that finds nothing else
// running or queued goes to the solo session, if there is one.
func (p *Pool) dispatch() {
	defer p.wg.Done()
	defer close(p.batches)
	defer close(p.soloRuns)
	running := 0 // batches handed to workers and not finished
	type group struct {
		key      [2]int
		reqs     []*request
		deadline time.Time
	}
	var groups []*group // oldest first; at most one group per size is not full
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var (
			offer  chan<- []*request
			head   []*request
			ready  = -1
			timerC <-chan time.Time
		)
		// Workers report a finished batch before handing its results back, so a caller's next
		// tile never sees its previous one as still running.
	drain:
		for {
			select {
			case <-p.finished:
				running--
			default:
				break drain
			}
		}
		now := time.Now()
		for i, g := range groups {
			if len(g.reqs) >= p.opts.MaxBatch || !g.deadline.After(now) {
				ready = i
				break
			}
		}
		// Take more requests only while fewer than QueueSize wait in groups: beyond that, callers
		// block in Infer (backpressure).
		reqs, queued := p.reqs, 0
		for _, g := range groups {
			queued += len(g.reqs)
		}
		if queued >= p.opts.QueueSize {
			reqs = nil
		}
		if ready >= 0 {
			offer, head = p.batches, groups[ready].reqs
			if p.solo != nil && running == 0 && len(groups) == 1 && len(p.reqs) == 0 {
				offer = p.soloRuns
			}
		} else if len(groups) > 0 {
			timer.Reset(time.Until(groups[0].deadline)) // deadlines grow with age
			timerC = timer.C
		}
		select {
		case offer <- head:
			groups = append(groups[:ready], groups[ready+1:]...)
			running++
		case <-p.finished:
			running--
		case r := <-reqs:
			key := [2]int{r.h, r.w}
			var g *group
			for _, x := range groups {
				if x.key == key && len(x.reqs) < p.opts.MaxBatch {
					g = x
					break
				}
			}
			if g == nil {
				g = &group{key: key, deadline: time.Now().Add(max(p.opts.MaxWait, 0))}
				groups = append(groups, g)
			}
			g.reqs = append(g.reqs, r)
		case <-timerC:
		case <-p.stop:
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

// work runs the batches of one channel on one session.
func (p *Pool) work(s *ort.DynamicAdvancedSession, batches <-chan []*request) {
	defer p.wg.Done()
	// ORT runs part of every operator on the calling thread and keeps per-thread scratch buffers;
	// one OS thread per session keeps them warm.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for batch := range batches {
		// Requests whose callers gave up are dropped before spending the model on them.
		live := batch[:0]
		var res []result
		for _, r := range batch {
			if r.ctx.Err() != nil {
				r.done <- result{err: r.ctx.Err()}
				continue
			}
			live = append(live, r)
		}
		if len(live) > 0 {
			start := time.Now()
			ys, err := p.run(s, live)
			p.metrics.observe(len(live), time.Since(start), s == p.solo, err)
			for i := range live {
				if err != nil {
					res = append(res, result{err: err})
				} else {
					res = append(res, result{y: ys[i]})
				}
			}
		}
		select {
		case p.finished <- struct{}{}:
		case <-p.stop:
		}
		for i, r := range live {
			r.done <- res[i]
		}
	}
}

// run executes one batch of same-size tiles and returns each tile's output.
func (p *Pool) run(s *ort.DynamicAdvancedSession, batch []*request) ([][]float32, error) {
	n, h, w := len(batch), batch[0].h, batch[0].w
	plane := 3 * h * w
	x := batch[0].x // a lone tile runs from the caller's buffer
	if n > 1 {
		x = make([]float32, n*plane)
		for i, r := range batch {
			copy(x[i*plane:], r.x)
		}
	}
	shape := ort.NewShape(int64(n), 3, int64(h), int64(w))
	xt, err := ort.NewTensor(shape, x)
	if err != nil {
		return nil, fmt.Errorf("gpuworker: input tensor: %w", err)
	}
	defer xt.Destroy()
	inputs := []ort.Value{xt}
	if p.man.Conditioned() {
		q := make([]float32, n*inference.QTableLen)
		for i, r := range batch {
			copy(q[i*inference.QTableLen:], r.q)
		}
		qt, err := ort.NewTensor(ort.NewShape(int64(n), inference.QTableLen), q)
		if err != nil {
			return nil, fmt.Errorf("gpuworker: qtable tensor: %w", err)
		}
		defer qt.Destroy()
		inputs = append(inputs, qt)
	}
	var y []float32
	if n == 1 {
		y = p.outs.Get(plane)
	} else {
		y = make([]float32, n*plane)
	}
	yt, err := ort.NewTensor(shape, y)
	if err != nil {
		return nil, fmt.Errorf("gpuworker: output tensor: %w", err)
	}
	defer yt.Destroy()
	if err := s.Run(inputs, []ort.Value{yt}); err != nil {
		return nil, fmt.Errorf("gpuworker: model %s on %s, batch %dx3x%dx%d: %w", p.man.Name, p.device, n, h, w, err)
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = y[i*plane : (i+1)*plane : (i+1)*plane]
	}
	return out, nil
}

// Release implements inference.Releaser: y, a result of Infer, is no longer used by its caller.
func (p *Pool) Release(y []float32) { p.outs.Put(y) }

// Close stops the pool: waiting and later calls fail with an error, running batches finish, and
// the sessions are destroyed. It is safe to call more than once.
func (p *Pool) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.stop)
	p.wg.Wait()
	// Requests still queued were never dispatched.
	for {
		select {
		case r := <-p.reqs:
			r.done <- result{err: errClosed}
		default:
			return p.destroySessions()
		}
	}
}
