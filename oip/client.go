package oip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"jpegrestore/inference"
	"jpegrestore/oip/oippb"
)

// logTo receives a Remote's news of its workers (SetLog).
var logTo atomic.Pointer[func(string)]

// SetLog sends a Remote's news of its workers (one went down, one is back) to f; by default it
// goes to slog.
func SetLog(f func(msg string)) { logTo.Store(&f) }

// log tells the news of a worker.
func log(msg string) {
	if f := logTo.Load(); f != nil {
		(*f)(msg)
		return
	}
	slog.Warn(msg)
}

// ClientOptions configure a Remote.
type ClientOptions struct {
	// InFlight is the most tiles sent to one worker at once; its pool batches them. 0 means 8.
	InFlight int `json:"in_flight,omitempty"`
	// Tries bounds the workers a tile is sent to before it fails (a worker that fails or goes
	// away costs one try; one that is busy, none). 0 means 6.
	Tries int `json:"tries,omitempty"`
	// DownWait is how long a tile waits for a worker to be up, or to be free of RESOURCE_EXHAUSTED,
	// before it fails. 0 means 2 minutes.
	DownWait time.Duration `json:"down_wait,omitempty"`
	// Timeout bounds one request to a worker. 0 means 5 minutes.
	Timeout time.Duration `json:"timeout,omitempty"`
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.InFlight <= 0 {
		o.InFlight = 8
	}
	if o.Tries <= 0 {
		o.Tries = 6
	}
	if o.DownWait <= 0 {
		o.DownWait = 2 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	return o
}

// Remote runs a model on a set of workers (Open Inference Protocol servers, such as jpegrestore
// serve): it implements inference.Engine, so the caller's Restorer tiles and ensembles as it does
// in-process, and each tile goes to the up worker with the fewest tiles in flight. A worker that
// fails or goes away mid-request is marked down and the tile is retried on another, after a
// jittered backoff and at most Tries times; a down worker is checked every few seconds and
// comes back once it is ready and still serves the same model. It is safe for concurrent use.
type Remote struct {
	man     *inference.Manifest
	opts    ClientOptions
	workers []*worker

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a worker frees a slot or comes up
	closed  chan struct{}
	wg      sync.WaitGroup // health loops
}

// worker is one server of a Remote. Its fields below mu are guarded by the Remote's mu.
type worker struct {
	addr   string
	conn   *grpc.ClientConn
	client oippb.GRPCInferenceServiceClient

	up       bool
	inflight int
	stats    WorkerStats
}

// WorkerStats is what a Remote did with one worker.
type WorkerStats struct {
	Addr   string `json:"addr"`
	Device string `json:"device,omitempty"`
	Up     bool   `json:"up"`
	// Tiles were answered; Failed requests failed (the worker was then marked down) and Busy
	// ones were refused with RESOURCE_EXHAUSTED (retried after a backoff).
	Tiles  int64 `json:"tiles"`
	Failed int64 `json:"failed"`
	Busy   int64 `json:"busy"`
	// Downs counts the times the worker was marked down; LastError is why, the last time.
	Downs     int64  `json:"downs"`
	LastError string `json:"last_error,omitempty"`
	// BytesSent and BytesReceived count tile data (raw tensor contents) both ways.
	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
}

// dialOptions are the gRPC options of a connection to a worker.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage)),
		grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithWriteBufferSize(ioBuffer), grpc.WithReadBufferSize(ioBuffer),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
	}
}

// ContractError says that a worker serves another model than the caller's.
type ContractError struct {
	Addr string
	Err  error
}

func (e *ContractError) Error() string { return fmt.Sprintf("worker %s: %v", e.Addr, e.Err) }
func (e *ContractError) Unwrap() error { return e.Err }

// Dial connects to the workers at addrs (HOST:PORT) for the model of man and checks each one's
// model contract (CheckContract). A worker that serves another model fails the whole call with
// a *ContractError: its outputs would not be the model the caller's tags name. A worker that does
// not answer starts down and is checked again later; if none answers, Dial fails.
func Dial(ctx context.Context, addrs []string, man *inference.Manifest, opts ClientOptions) (*Remote, error) {
	if len(addrs) == 0 {
		return nil, errors.New("oip: no worker address")
	}
	r := &Remote{man: man, opts: opts.withDefaults(), changed: make(chan struct{}), closed: make(chan struct{})}
	var unreachable []string
	for _, addr := range addrs {
		conn, err := grpc.NewClient(addr, dialOptions()...)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("worker %s: %w", addr, err)
		}
		w := &worker{addr: addr, conn: conn, client: oippb.NewGRPCInferenceServiceClient(conn)}
		w.stats.Addr = addr
		r.workers = append(r.workers, w)
		err = r.check(ctx, w)
		var contract *ContractError
		switch {
		case errors.As(err, &contract):
			r.Close()
			return nil, err
		case err != nil:
			unreachable = append(unreachable, fmt.Sprintf("%s: %v", addr, err))
			w.stats.LastError = err.Error()
		default:
			w.up = true
		}
	}
	if len(unreachable) == len(addrs) {
		r.Close()
		return nil, fmt.Errorf("no worker answered: %s", strings.Join(unreachable, "; "))
	}
	for _, w := range r.workers {
		if !w.up {
			log(fmt.Sprintf("worker %s does not answer (%s); it takes tiles once it does", w.addr, w.stats.LastError))
			r.wg.Add(1)
			go r.heal(w)
		}
	}
	return r, nil
}

// check asks a worker whether it is ready and serves the model: a *ContractError when it serves
// another one, another error when it cannot tell.
func (r *Remote) check(ctx context.Context, w *worker) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ready, err := w.client.ServerReady(ctx, &oippb.ServerReadyRequest{})
	if err != nil {
		return err
	}
	if !ready.GetReady() {
		return errors.New("not ready")
	}
	md, err := w.client.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: r.man.Name, Version: r.man.Version})
	if status.Code(err) == codes.NotFound {
		return &ContractError{w.addr, fmt.Errorf("this job restores with %s version %s, which it does not serve (%s)",
			r.man.Name, r.man.Version, status.Convert(err).Message())}
	}
	if err != nil {
		return err
	}
	if err := CheckContract(md, r.man); err != nil {
		return &ContractError{w.addr, err}
	}
	r.mu.Lock()
	w.stats.Device = md.GetParameters()[ParamDevice].GetStringParam()
	r.mu.Unlock()
	return nil
}

// Manifest returns the model's manifest.
func (r *Remote) Manifest() *inference.Manifest { return r.man }

// Device says where the model runs: each worker's address and device.
func (r *Remote) Device() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, w := range r.workers {
		d := w.stats.Device
		if d == "" {
			d = "not yet known"
		}
		s = append(s, fmt.Sprintf("%s on %s", d, w.addr))
	}
	return "workers: " + strings.Join(s, ", ")
}

// Stats returns what the Remote did with each worker, in the order of the addresses.
func (r *Remote) Stats() []WorkerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]WorkerStats, len(r.workers))
	for i, w := range r.workers {
		out[i] = w.stats
		out[i].Up = w.up
	}
	return out
}

// outcome is what a failed request means for its tile.
type outcome int

const (
	failed    outcome = iota // the worker failed, went away or no longer serves the model: mark it down, try another
	busy                     // RESOURCE_EXHAUSTED: back off, try again
	permanent                // the request itself is wrong: no worker would answer it
)

func classify(err error) outcome {
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return busy
	case codes.InvalidArgument, codes.OutOfRange:
		return permanent
	}
	return failed // Unavailable, DeadlineExceeded, Internal, NotFound (restarted with another model), an answer of another model…
}

// Infer implements inference.Engine: it sends the tile to a worker and returns its output.
func (r *Remote) Infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	if len(x) != 3*h*w {
		return nil, fmt.Errorf("oip: tile of %d values is not 3x%dx%d", len(x), h, w)
	}
	if r.man.Conditioned() != (q != nil) || (q != nil && len(q) != inference.QTableLen) {
		return nil, fmt.Errorf("oip: model %s conditioning %q, got %d qtable values", r.man.Name, r.man.Conditioning, len(q))
	}
	if 4*len(x) > MaxMessage-1<<20 {
		return nil, fmt.Errorf("oip: a tile of %dx%d does not fit in a message (%d MiB); use a smaller --tile", h, w, MaxMessage>>20)
	}
	req := r.request(x, h, w, q)
	var errs []error
	waitUntil := time.Now().Add(r.opts.DownWait)
	for retries := 1; ; retries++ {
		wk, err := r.acquire(ctx, waitUntil)
		if err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		y, err := r.send(ctx, wk, req, h, w)
		if err == nil {
			return y, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cause := err
		err = fmt.Errorf("worker %s: %w", wk.addr, err)
		switch classify(err) {
		case permanent:
			return nil, err
		case busy:
			if time.Now().After(waitUntil) {
				return nil, fmt.Errorf("every worker stayed busy for %v: %w", r.opts.DownWait, err)
			} // a busy worker costs no try
		case failed:
			r.markDown(wk, cause)
			if errs = append(errs, err); len(errs) >= r.opts.Tries {
				return nil, fmt.Errorf("tile failed on %d tries: %w", len(errs), errors.Join(errs...))
			}
			waitUntil = time.Now().Add(r.opts.DownWait)
		}
		if err := sleep(ctx, backoff(retries)); err != nil {
			return nil, err
		}
	}
}

// backoff is the jittered wait before the n-th retry: 20 ms doubling up to 2 s.
func backoff(n int) time.Duration {
	d := 20 * time.Millisecond << min(n, 7)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request builds the ModelInfer request of one tile, in raw FP32.
func (r *Remote) request(x []float32, h, w int, q []float32) *oippb.ModelInferRequest {
	req := &oippb.ModelInferRequest{ModelName: r.man.Name, ModelVersion: r.man.Version,
		Inputs:           []*oippb.ModelInferRequest_InferInputTensor{{Name: r.man.Inputs.Image, Datatype: DataType, Shape: []int64{1, 3, int64(h), int64(w)}}},
		Outputs:          []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: r.man.Output}},
		RawInputContents: [][]byte{asBytes(x)}} // x's memory: the call marshals it before Infer returns
	if q != nil {
		req.Inputs = append(req.Inputs, &oippb.ModelInferRequest_InferInputTensor{Name: r.man.Inputs.QTable, Datatype: DataType, Shape: []int64{1, inference.QTableLen}})
		req.RawInputContents = append(req.RawInputContents, asBytes(q))
	}
	return req
}

// send runs one request on a worker and releases its slot.
func (r *Remote) send(ctx context.Context, wk *worker, req *oippb.ModelInferRequest, h, w int) ([]float32, error) {
	sent := 0
	for _, b := range req.RawInputContents {
		sent += len(b)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	resp, err := wk.client.ModelInfer(ctx, req)
	cancel()
	var y []float32
	if err == nil {
		y, err = r.output(wk, resp, h, w)
	}
	r.mu.Lock()
	wk.inflight--
	wk.stats.BytesSent += int64(sent)
	switch {
	case err == nil:
		wk.stats.Tiles++
		wk.stats.BytesReceived += int64(4 * len(y))
	case status.Code(err) == codes.ResourceExhausted:
		wk.stats.Busy++
	default:
		wk.stats.Failed++
	}
	r.signal()
	r.mu.Unlock()
	return y, err
}

// output checks a worker's answer for one tile and returns the tile.
func (r *Remote) output(wk *worker, resp *oippb.ModelInferResponse, h, w int) ([]float32, error) {
	if sum := resp.GetParameters()[ParamSHA256].GetStringParam(); sum != r.man.SHA256 {
		return nil, fmt.Errorf("answered with model sha256 %s, and this job restores with %s", short(sum), short(r.man.SHA256))
	}
	outs := resp.GetOutputs()
	if len(outs) != 1 || outs[0].GetName() != r.man.Output || outs[0].GetDatatype() != DataType {
		return nil, fmt.Errorf("answered %d outputs, want one %s %s", len(outs), r.man.Output, DataType)
	}
	n := 3 * h * w
	switch raw := resp.GetRawOutputContents(); {
	case len(raw) == 1 && len(raw[0]) == 4*n:
		return asFloats(raw[0]), nil
	case len(raw) == 0 && len(outs[0].GetContents().GetFp32Contents()) == n:
		return outs[0].GetContents().GetFp32Contents(), nil
	}
	return nil, fmt.Errorf("answered a tile of another size than 3x%dx%d", h, w)
}

// acquire waits for an up worker with a free slot and takes the slot: the one with the fewest
// tiles in flight. It fails when no worker has been up until waitUntil.
func (r *Remote) acquire(ctx context.Context, waitUntil time.Time) (*worker, error) {
	var deadline *time.Timer // started when no worker is up
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		r.mu.Lock()
		var best *worker
		anyUp := false
		for _, w := range r.workers {
			if !w.up {
				continue
			}
			anyUp = true
			if w.inflight < r.opts.InFlight && (best == nil || w.inflight < best.inflight) {
				best = w
			}
		}
		if best != nil {
			best.inflight++
			r.mu.Unlock()
			return best, nil
		}
		changed := r.changed
		r.mu.Unlock()
		var timeout <-chan time.Time
		if !anyUp {
			if time.Until(waitUntil) <= 0 {
				return nil, fmt.Errorf("no worker is up (%s)", r.downReasons())
			}
			if deadline == nil {
				deadline = time.NewTimer(time.Until(waitUntil))
			}
			timeout = deadline.C
		}
		select {
		case <-changed:
		case <-timeout:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.closed:
			return nil, errors.New("oip: remote closed")
		}
	}
}

func (r *Remote) downReasons() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, w := range r.workers {
		s = append(s, fmt.Sprintf("%s: %s", w.addr, w.stats.LastError))
	}
	return strings.Join(s, "; ")
}

// signal wakes the callers waiting in acquire. r.mu must be held.
func (r *Remote) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// markDown takes a worker out of rotation and starts checking it, unless it is down already.
func (r *Remote) markDown(w *worker, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.stats.LastError = err.Error()
	if !w.up {
		return
	}
	w.up = false
	w.stats.Downs++
	select {
	case <-r.closed:
		return
	default:
	}
	log(fmt.Sprintf("worker %s is down (%v); its tiles go to the others until it is back", w.addr, err))
	r.wg.Add(1)
	go r.heal(w)
}

// heal checks a down worker until it is ready and serves the model again, then puts it back.
func (r *Remote) heal(w *worker) {
	defer r.wg.Done()
	wait := 200 * time.Millisecond
	for {
		select {
		case <-r.closed:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-r.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := r.check(ctx, w)
		cancel()
		r.mu.Lock()
		if err == nil {
			w.up = true
			r.signal()
			r.mu.Unlock()
			log(fmt.Sprintf("worker %s is back", w.addr))
			return
		}
		w.stats.LastError = err.Error()
		r.mu.Unlock()
	}
}

// Close stops the health checks and closes the connections. Calls waiting for a worker fail.
func (r *Remote) Close() error {
	r.mu.Lock()
	select {
	case <-r.closed:
		r.mu.Unlock()
		return nil
	default:
		close(r.closed)
	}
	r.mu.Unlock()
	r.wg.Wait()
	var errs []error
	for _, w := range r.workers {
		errs = append(errs, w.conn.Close())
	}
	return errors.Join(errs...)
}
