package oip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"jpegrestore/inference"
	"jpegrestore/oip/oippb"
)

func manifest(t *testing.T, name string) *inference.Manifest {
	t.Helper()
	m, err := inference.LoadManifest(filepath.Join("..", "inference", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// shade is a model in Go: every value times 0.5 plus the first qtable value (0 without one), so
// a test sees that the tile and its conditioning both arrived.
var shade = inference.EngineFunc(func(_ context.Context, x []float32, _, _ int, q []float32) ([]float32, error) {
	add := float32(0)
	if q != nil {
		add = q[0]
	}
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = v*0.5 + add
	}
	return y, nil
})

// counting wraps an engine, counting the tiles it was given, and blocks while gate is held.
type counting struct {
	eng   inference.Engine
	tiles atomic.Int64
	gate  sync.RWMutex
}

func (c *counting) Infer(ctx context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	c.tiles.Add(1)
	c.gate.RLock()
	defer c.gate.RUnlock()
	return c.eng.Infer(ctx, x, h, w, q)
}

// testServer is a Server on a localhost port that a test can stop and start again there.
type testServer struct {
	t    *testing.T
	addr string
	srv  *Server
	g    *grpc.Server
}

func startServer(t *testing.T, addr string, cfg ServerConfig, models ...inference.Model) *testServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	for range 50 { // a port just closed may take a moment to be free again
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, models...)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(ServerOptions()...)
	s.Register(g)
	go g.Serve(lis)
	ts := &testServer{t: t, addr: lis.Addr().String(), srv: s, g: g}
	t.Cleanup(g.Stop)
	return ts
}

func tile(h, w int, v float32) []float32 {
	x := make([]float32, 3*h*w)
	for i := range x {
		x[i] = v + float32(i%7)/10
	}
	return x
}

func qtable(v float32) []float32 {
	q := make([]float32, inference.QTableLen)
	q[0] = v
	return q
}

func TestRemoteRestoresAsTheEngine(t *testing.T) {
	for _, name := range []string{"identity", "qcond"} {
		t.Run(name, func(t *testing.T) {
			man := manifest(t, name)
			s := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: shade, Device: "go"})
			r, err := Dial(context.Background(), []string{s.addr}, man, ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var q []float32
			if man.Conditioned() {
				q = qtable(0.25)
			}
			x := tile(32, 48, 0.1)
			got, err := r.Infer(context.Background(), x, 32, 48, q)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := shade.Infer(context.Background(), x, 32, 48, q)
			if !equal(got, want) {
				t.Fatal("the remote's output differs from the engine's")
			}
			if d := r.Device(); d != "workers: go on "+s.addr {
				t.Errorf("Device() = %q", d)
			}
			st := r.Stats()[0]
			if st.Tiles != 1 || st.BytesSent < int64(4*len(x)) || st.BytesReceived != int64(4*len(x)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDialRefusesAnotherModel(t *testing.T) {
	ident := manifest(t, "identity")
	other := *ident
	other.SHA256 = strings.Repeat("ab", 32)
	s := startServer(t, "", ServerConfig{}, inference.Model{Manifest: &other, Engine: shade})
	for _, tc := range []struct {
		name string
		man  *inference.Manifest
		want string
	}{
		{"same name, other file", ident, "the same name, another model file"},
		{"other name", manifest(t, "qcond"), `model "qcond" version "test" is not served here; this server serves identity version test`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Dial(context.Background(), []string{s.addr}, tc.man, ClientOptions{})
			var contract *ContractError
			if !errors.As(err, &contract) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), s.addr) {
				t.Fatalf("Dial: %v, want a ContractError saying %q", err, tc.want)
			}
		})
	}
}

func TestCheckContract(t *testing.T) {
	man := manifest(t, "qcond")
	good := func() *oippb.ModelMetadataResponse { return Metadata(man, "cpu") }
	for _, tc := range []struct {
		name string
		edit func(*oippb.ModelMetadataResponse)
		want string
	}{
		{"same", func(*oippb.ModelMetadataResponse) {}, ""},
		{"version", func(m *oippb.ModelMetadataResponse) { m.Versions = []string{"2"} }, "it serves qcond version [2]"},
		{"no sha256", func(m *oippb.ModelMetadataResponse) { delete(m.Parameters, ParamSHA256) }, "does not say the sha256"},
		{"dtype", func(m *oippb.ModelMetadataResponse) { m.Inputs[0].Datatype = "FP16" }, "its model's inputs are [image FP16"},
		{"no qtable", func(m *oippb.ModelMetadataResponse) { m.Inputs = m.Inputs[:1] }, "its model's inputs are [image FP32 [-1 3 -1 -1]]"},
		{"output shape", func(m *oippb.ModelMetadataResponse) { m.Outputs[0].Shape = []int64{-1, 1, -1, -1} }, "its model's outputs are"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := good()
			tc.edit(md)
			err := CheckContract(md, man)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckContract: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFailover stops one of two workers while tiles are running, and starts it again: every tile
// is answered, the stopped worker is marked down, and it takes tiles again once it is back.
func TestFailover(t *testing.T) {
	man := manifest(t, "identity")
	engA, engB := &counting{eng: shade}, &counting{eng: shade}
	a := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: engA})
	b := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: engB})
	r, err := Dial(context.Background(), []string{a.addr, b.addr}, man, ClientOptions{InFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := tile(16, 16, 0.2)
	want, _ := shade.Infer(context.Background(), x, 16, 16, nil)
	infer := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				y, err := r.Infer(context.Background(), x, 16, 16, nil)
				if err != nil {
					t.Error(err)
				} else if !equal(y, want) {
					t.Error("wrong output")
				}
			})
		}
		wg.Wait()
	}
	engA.gate.Lock() // A's tiles wait, in flight, until A is stopped
	done := make(chan struct{})
	go func() { infer(40); close(done) }()
	for engA.tiles.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { a.g.Stop(); close(stopped) }() // closes A's connections under its running requests
	for r.Stats()[0].Up {
		time.Sleep(time.Millisecond)
	}
	engA.gate.Unlock() // Stop waits for A's handlers
	<-stopped
	<-done
	st := r.Stats()
	if st[0].Up || st[0].Downs != 1 || st[0].Failed == 0 || st[1].Tiles == 0 {
		t.Fatalf("after A stopped: %+v", st)
	}
	if st[0].Tiles+st[1].Tiles != 40 {
		t.Fatalf("%d + %d tiles answered, want 40", st[0].Tiles, st[1].Tiles)
	}
	startServer(t, a.addr, ServerConfig{}, inference.Model{Manifest: man, Engine: engA})
	deadline := time.Now().Add(20 * time.Second)
	for !r.Stats()[0].Up {
		if time.Now().After(deadline) {
			t.Fatalf("A did not come back: %+v", r.Stats()[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := r.Stats()[0].Tiles
	infer(20)
	if r.Stats()[0].Tiles == before {
		t.Fatalf("A is up again but took no tile: %+v", r.Stats())
	}
}

// TestNoWorkerUp: a tile waits DownWait for a worker, then fails saying why.
func TestNoWorkerUp(t *testing.T) {
	man := manifest(t, "identity")
	a := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: shade})
	r, err := Dial(context.Background(), []string{a.addr}, man, ClientOptions{DownWait: 300 * time.Millisecond, Tries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a.g.Stop()
	_, err = r.Infer(context.Background(), tile(16, 16, 0), 16, 16, nil)
	if err == nil || !strings.Contains(err.Error(), "no worker is up") || !strings.Contains(err.Error(), a.addr) {
		t.Fatalf("Infer with every worker gone: %v", err)
	}
	if _, err := Dial(context.Background(), []string{a.addr}, man, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "no worker answered") {
		t.Fatalf("Dial with no worker: %v", err)
	}
}

// TestQueueFull: a server whose queue is full refuses with RESOURCE_EXHAUSTED, and the caller
// backs off and retries until it is served, without marking the worker down.
func TestQueueFull(t *testing.T) {
	man := manifest(t, "identity")
	eng := &counting{eng: shade}
	s := startServer(t, "", ServerConfig{Queue: 1}, inference.Model{Manifest: man, Engine: eng})
	r, err := Dial(context.Background(), []string{s.addr}, man, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	eng.gate.Lock()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := r.Infer(context.Background(), tile(16, 16, 0), 16, 16, nil); err != nil {
				t.Error(err)
			}
		})
	}
	for r.Stats()[0].Busy < 2 {
		time.Sleep(time.Millisecond)
	}
	eng.gate.Unlock()
	wg.Wait()
	st := r.Stats()[0]
	if st.Tiles != 3 || st.Downs != 0 || !st.Up {
		t.Fatalf("stats %+v", st)
	}
	var m bytes.Buffer
	s.srv.WriteMetrics(&m)
	for _, want := range []string{
		`jpegrestore_serve_requests_total{model="identity",code="OK"} 3`,
		`jpegrestore_serve_requests_total{model="identity",code="ResourceExhausted"}`,
		`jpegrestore_serve_tiles_total{model="identity"} 3`,
		`jpegrestore_serve_request_tiles_bucket{model="identity",le="1"} 3`,
		`jpegrestore_serve_request_seconds_count{model="identity"} 3`,
		`jpegrestore_serve_queue_limit 1`,
	} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, m.String())
		}
	}
}

// TestDrain: a draining server is not ready and refuses new work, and its running requests
// finish.
func TestDrain(t *testing.T) {
	man := manifest(t, "identity")
	eng := &counting{eng: shade}
	s := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: eng})
	conn, err := grpc.NewClient(s.addr, dialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := oippb.NewGRPCInferenceServiceClient(conn)
	req := (&Remote{man: man}).request(tile(16, 16, 0), 16, 16, nil)
	eng.gate.Lock()
	running := make(chan error, 1)
	go func() {
		_, err := c.ModelInfer(context.Background(), req)
		running <- err
	}()
	for eng.tiles.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.srv.Drain()
	ready, err := c.ServerReady(context.Background(), &oippb.ServerReadyRequest{})
	if err != nil || ready.GetReady() {
		t.Fatalf("ServerReady while draining: %v, %v", ready, err)
	}
	if _, err := c.ModelInfer(context.Background(), req); status.Code(err) != codes.Unavailable {
		t.Fatalf("new request while draining: %v, want UNAVAILABLE", err)
	}
	stopped := make(chan struct{})
	go func() { s.g.GracefulStop(); close(stopped) }()
	eng.gate.Unlock()
	if err := <-running; err != nil {
		t.Fatalf("the running request: %v", err)
	}
	<-stopped
}

// TestBadRequests: requests that break the contract are refused with INVALID_ARGUMENT or
// NOT_FOUND, saying what is wrong.
func TestBadRequests(t *testing.T) {
	man := manifest(t, "qcond")
	s := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: shade})
	conn, err := grpc.NewClient(s.addr, dialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := oippb.NewGRPCInferenceServiceClient(conn)
	good := func() *oippb.ModelInferRequest {
		return (&Remote{man: man}).request(tile(16, 16, 0), 16, 16, qtable(0))
	}
	for _, tc := range []struct {
		name string
		edit func(*oippb.ModelInferRequest)
		code codes.Code
		want string
	}{
		{"model", func(r *oippb.ModelInferRequest) { r.ModelName = "nope" }, codes.NotFound, `model "nope" version "test" is not served here`},
		{"version", func(r *oippb.ModelInferRequest) { r.ModelVersion = "9" }, codes.NotFound, "this server serves qcond version test"},
		{"no qtable", func(r *oippb.ModelInferRequest) { r.Inputs, r.RawInputContents = r.Inputs[:1], r.RawInputContents[:1] }, codes.InvalidArgument, "got 1 inputs"},
		{"shape", func(r *oippb.ModelInferRequest) { r.Inputs[0].Shape = []int64{1, 3, 15, 16} }, codes.InvalidArgument, "multiples of 16"},
		{"short raw", func(r *oippb.ModelInferRequest) { r.RawInputContents[0] = r.RawInputContents[0][:10] }, codes.InvalidArgument, "10 raw bytes"},
		{"huge", func(r *oippb.ModelInferRequest) { r.Inputs[0].Shape = []int64{1 << 40, 3, 1 << 40, 16} }, codes.InvalidArgument, "larger than a message may be"},
		{"dtype", func(r *oippb.ModelInferRequest) { r.Inputs[1].Datatype = "FP64" }, codes.InvalidArgument, "datatype FP64"},
		{"output", func(r *oippb.ModelInferRequest) { r.Outputs[0].Name = "other" }, codes.InvalidArgument, `output "other"`},
		{"mixed", func(r *oippb.ModelInferRequest) {
			r.Inputs[0].Contents = &oippb.InferTensorContents{Fp32Contents: make([]float32, 3*16*16)}
		}, codes.InvalidArgument, "contents given with raw_input_contents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := good()
			tc.edit(req)
			_, err := c.ModelInfer(context.Background(), req)
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ModelInfer: %v, want %v saying %q", err, tc.code, tc.want)
			}
		})
	}
	// The same tiles as fp32_contents, two in one request, are answered in that form.
	x := append(tile(16, 16, 0.1), tile(16, 16, 0.3)...)
	q := append(qtable(0.5), qtable(0.25)...)
	resp, err := c.ModelInfer(context.Background(), &oippb.ModelInferRequest{ModelName: "qcond", Id: "two",
		Inputs: []*oippb.ModelInferRequest_InferInputTensor{
			{Name: "image", Datatype: "FP32", Shape: []int64{2, 3, 16, 16}, Contents: &oippb.InferTensorContents{Fp32Contents: x}},
			{Name: "qtable", Datatype: "FP32", Shape: []int64{2, 128}, Contents: &oippb.InferTensorContents{Fp32Contents: q}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	out := resp.GetOutputs()[0]
	w1, _ := shade.Infer(context.Background(), x[:768], 16, 16, q[:128])
	w2, _ := shade.Infer(context.Background(), x[768:], 16, 16, q[128:])
	if resp.GetId() != "two" || len(resp.GetRawOutputContents()) != 0 || !equal(out.GetContents().GetFp32Contents(), append(w1, w2...)) ||
		len(out.GetShape()) != 4 || out.GetShape()[0] != 2 {
		t.Fatalf("answer: id %q, shape %v, %d values", resp.GetId(), out.GetShape(), len(out.GetContents().GetFp32Contents()))
	}
}

func TestFloatsRoundTrip(t *testing.T) {
	v := []float32{0, 1, -2.5, 1.0 / 255, float32(math.Inf(1)), math.MaxFloat32, math.SmallestNonzeroFloat32}
	b := bytes.Clone(asBytes(v))
	if len(b) != 4*len(v) || b[4] != 0 || b[7] != 0x3f || b[6] != 0x80 { // 1.0 is 0x3f800000, little-endian
		t.Fatalf("raw bytes % x", b)
	}
	if got := asFloats(b); !equal(got, v) {
		t.Fatalf("round trip %v, want %v", got, v)
	}
	if got := asFloats(append([]byte{0}, b...)[1:]); !equal(got, v) { // not aligned for float32
		t.Fatalf("round trip from unaligned bytes %v, want %v", got, v)
	}
}

func TestSince(t *testing.T) {
	before := map[string][]WorkerStats{"fast": {{Addr: "a", Tiles: 5, Downs: 1, BytesSent: 50}, {Addr: "b", Tiles: 2}}}
	after := map[string][]WorkerStats{"fast": {{Addr: "a", Tiles: 9, Downs: 1, BytesSent: 90, Up: true}, {Addr: "b", Tiles: 2}, {Addr: "c", Tiles: 1}},
		"best": {{Addr: "a", Tiles: 3}}}
	got := Since(before, after)
	want := map[string][]WorkerStats{"fast": {{Addr: "a", Tiles: 4, BytesSent: 40, Up: true}, {Addr: "b"}, {Addr: "c", Tiles: 1}},
		"best": {{Addr: "a", Tiles: 3}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Since = %v, want %v", got, want)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want outcome
	}{
		{status.Error(codes.Unavailable, "gone"), failed},
		{status.Error(codes.NotFound, "another model now"), failed},
		{status.Error(codes.Internal, "model failed"), failed},
		{status.Error(codes.DeadlineExceeded, "slow"), failed},
		{errors.New("answered with model sha256 …"), failed},
		{status.Error(codes.ResourceExhausted, "queue full"), busy},
		{status.Error(codes.InvalidArgument, "bad shape"), permanent},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestBackWithAnotherModel: a worker that comes back serving another model file stays down.
func TestBackWithAnotherModel(t *testing.T) {
	man := manifest(t, "identity")
	a := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: shade})
	b := startServer(t, "", ServerConfig{}, inference.Model{Manifest: man, Engine: shade})
	r, err := Dial(context.Background(), []string{a.addr, b.addr}, man, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a.g.Stop()
	other := *man
	other.SHA256 = strings.Repeat("cd", 32)
	startServer(t, a.addr, ServerConfig{}, inference.Model{Manifest: &other, Engine: shade})
	for range 8 { // A's tiles fail over to B; A is marked down
		if _, err := r.Infer(context.Background(), tile(16, 16, 0), 16, 16, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.Stats()[0].LastError, "another model file") {
		if time.Now().After(deadline) {
			t.Fatalf("worker A: %+v", r.Stats()[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := r.Stats()[0]; st.Up {
		t.Fatalf("worker A with another model is up: %+v", st)
	}
}
