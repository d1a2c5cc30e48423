package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"jpegrestore/enhance"
	"jpegrestore/jpeg"
	"jpegrestore/oip/oippb"
	"jpegrestore/pix"
	"jpegrestore/transforms"
)

// TestMain lets a test start this package's test binary as the jpegrestore command, in a
// process of its own (JPEGRESTORE_TEST_AS_MAIN=1): `serve` runs as it does from the real binary.
func TestMain(m *testing.M) {
	if os.Getenv("JPEGRESTORE_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// server is a `jpegrestore serve` process.
type server struct {
	cmd           *exec.Cmd
	addr, metrics string
	out           *bytes.Buffer // what it printed after its address: read it once copied is closed
	copied        chan struct{}
}

func startServe(t testing.TB, args ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "JPEGRESTORE_TEST_AS_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &server{cmd: cmd, out: new(bytes.Buffer), copied: make(chan struct{})}
	lines := bufio.NewScanner(pipe)
	for s.addr == "" && lines.Scan() {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) >= 3 && f[0] == "metrics":
			s.metrics = strings.TrimSuffix(f[2], ",")
		case len(f) >= 3 && f[0] == "listening":
			s.addr = f[2]
		}
	}
	if s.addr == "" || s.metrics == "" {
		cmd.Wait()
		t.Fatalf("serve did not say where it listens; stderr:\n%s", stderr.String())
	}
	go func() {
		io.Copy(s.out, pipe) // until it exits
		close(s.copied)
	}()
	return s
}

// tiles returns the tiles the server has answered, from its metrics.
func (s *server) tiles(t testing.TB) int {
	resp, err := http.Get(s.metrics)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `jpegrestore_serve_tiles_total{model="fast"} `); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no tile count in the metrics:\n%s", b)
	return 0
}

// writePhoto writes a textured w×h JPEG, so that the model has work and the outputs differ.
func writePhoto(t testing.TB, path string, w, h, q int, seed uint64) {
	t.Helper()
	img := pix.New(w, h, 3)
	rng := rand.New(rand.NewPCG(seed, 7))
	for y := range h {
		for x := range w {
			for c := range 3 {
				v := (x*(c+1)+y*(3-c))%256/2 + 64*((x/24+y/24+c)%2) + rng.IntN(32)
				img.Pix[(y*w+x)*3+c] = uint8(min(v, 255))
			}
		}
	}
	data, err := jpeg.EncodeJPEG(img, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServe runs two `jpegrestore serve` processes and restores through them with --workers:
// the outputs are the bytes of an in-process restore and both servers take work; with one server
// killed (SIGKILL) in the middle of a run, the run still restores every input once, with the same
// bytes; a caller that expects another model is refused; a plain client of the protocol (the
// generated stubs, not jpegrestore's client) gets the model's metadata and output; and SIGTERM
// drains a server, which then exits 0.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two serve processes and restores through them")
	}
	a, b := startServe(t, "--preset", "fast"), startServe(t, "--preset", "fast")
	in := t.TempDir()
	const inputs = 12
	for i := range inputs {
		writePhoto(t, filepath.Join(in, fmt.Sprintf("p%02d.jpg", i)), 512, 384, 15+5*i, uint64(i))
	}
	ctx := context.Background()
	restore := func(out string, args ...string) (code int, stdout, stderr string) {
		var o, e bytes.Buffer
		code = run(ctx, append([]string{"restore", "--quiet", "--ensemble", "4", "--in", in, "--out", out}, args...), &o, &e)
		return code, o.String(), e.String()
	}
	here := filepath.Join(t.TempDir(), "here")
	if code, _, stderr := restore(here); code != exitOK {
		t.Fatalf("in-process restore: exit %d\n%s", code, stderr)
	}
	want := outputs(t, here)
	if len(want) != inputs {
		t.Fatalf("in-process restore made %d outputs", len(want))
	}
	same := func(t *testing.T, dir string) {
		t.Helper()
		got := outputs(t, dir)
		if len(got) != len(want) {
			t.Fatalf("%d outputs, want %d", len(got), len(want))
		}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("%s differs from the in-process restore's", name)
			}
		}
	}
	workers := "--workers=" + a.addr + "," + b.addr

	t.Run("byte-identical, work spread", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "remote")
		code, stdout, stderr := restore(out, workers)
		if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("%d inputs: %d restored", inputs, inputs)) {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		same(t, out)
		if ta, tb := a.tiles(t), b.tiles(t); ta == 0 || tb == 0 || ta+tb != 4*inputs {
			t.Errorf("tiles answered: %d by one server, %d by the other; want both, %d in all", ta, tb, 4*inputs)
		}
		stats := workerStats(t, out)
		if len(stats) != 2 || stats[0].Tiles == 0 || stats[1].Tiles == 0 {
			t.Errorf("summary's worker_stats: %+v", stats)
		}
	})

	t.Run("one server killed mid-run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "killed")
		before := a.tiles(t)
		done := make(chan struct{})
		var code int
		var stdout, stderr string
		go func() { code, stdout, stderr = restore(out, workers); close(done) }()
		killedMidRun := false
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-time.After(5 * time.Millisecond):
				if a.tiles(t) >= before+3 {
					a.cmd.Process.Signal(syscall.SIGKILL)
					select {
					case <-done:
					default:
						killedMidRun = true
					}
					<-done
					break wait
				}
			}
		}
		if !killedMidRun {
			t.Fatal("the run ended before the server was killed: give it more work")
		}
		if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("%d inputs: %d restored, 0 failed", inputs, inputs)) {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		if !strings.Contains(stderr, "worker "+a.addr+" is down") {
			t.Errorf("stderr does not say the worker went down:\n%s", stderr)
		}
		same(t, out)
		restoredOnce(t, out, inputs)
		stats := workerStats(t, out)
		if len(stats) != 2 || stats[0].Downs != 1 || stats[0].Up || stats[1].Tiles == 0 {
			t.Errorf("worker_stats after the kill: %+v", stats)
		}
	})

	t.Run("another model refused", func(t *testing.T) {
		code, _, stderr := restore(filepath.Join(t.TempDir(), "best"), "--preset", "best", "--workers", b.addr)
		for _, want := range []string{"worker " + b.addr, "this job restores with best version", "which it does not serve", "this server serves fast version"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if code != exitUsage {
			t.Errorf("exit %d, want %d", code, exitUsage)
		}
	})

	t.Run("plain client", func(t *testing.T) { plainClient(t, b.addr) })

	t.Run("SIGTERM drains", func(t *testing.T) {
		ready, err := http.Get(strings.TrimSuffix(b.metrics, "/metrics") + "/v2/health/ready")
		if err != nil || ready.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/health/ready: %v %v", ready, err)
		}
		ready.Body.Close()
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-b.copied // its stdout, to the end, before Wait closes the pipe
		if err := b.cmd.Wait(); err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
		if !strings.Contains(b.out.String(), "draining: ") || !strings.Contains(b.out.String(), "stopped") {
			t.Errorf("serve said:\n%s", b.out.String())
		}
	})
}

type workerStat struct {
	Tiles, Downs  int
	Up            bool
	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
}

// workerStats reads the worker_stats of the fast model from a restore's summary.
func workerStats(t testing.TB, out string) []workerStat { return workerStatsOf(t, out, "fast") }

func workerStatsOf(t testing.TB, out, model string) []workerStat {
	t.Helper()
	var s struct {
		Meta map[string]json.RawMessage `json:"meta"`
	}
	b, err := os.ReadFile(filepath.Join(out, "_report", "summary.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	var byModel map[string][]workerStat
	if err == nil {
		err = json.Unmarshal(s.Meta["worker_stats"], &byModel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return byModel[model]
}

// restoredOnce checks that the run's records restored each of n inputs once.
func restoredOnce(t *testing.T, out string, n int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "_report", "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ URI, Status string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status == "restored" {
			seen[r.URI]++
		}
	}
	if len(seen) != n {
		t.Errorf("%d inputs restored, want %d", len(seen), n)
	}
	for uri, k := range seen {
		if k != 1 {
			t.Errorf("%s restored %d times", uri, k)
		}
	}
}

// plainClient speaks the protocol to a server with the generated stubs alone, as any client of
// the Open Inference Protocol would, and checks the answer against the model run in this process.
func plainClient(t *testing.T, addr string) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := oippb.NewGRPCInferenceServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if live, err := c.ServerLive(ctx, &oippb.ServerLiveRequest{}); err != nil || !live.GetLive() {
		t.Fatalf("ServerLive: %v %v", live, err)
	}
	if ready, err := c.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "fast"}); err != nil || !ready.GetReady() {
		t.Fatalf("ModelReady: %v %v", ready, err)
	}
	md, err := c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "fast"})
	if err != nil {
		t.Fatal(err)
	}
	path, err := enhance.ResolveModel("fast", "")
	if err != nil {
		t.Fatal(err)
	}
	model, release, err := transforms.Runtime{}.Loader()(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	man := model.Manifest
	var shapes []string
	for _, in := range md.GetInputs() {
		shapes = append(shapes, fmt.Sprintf("%s %s %v", in.GetName(), in.GetDatatype(), in.GetShape()))
	}
	for _, o := range md.GetOutputs() {
		shapes = append(shapes, fmt.Sprintf("%s %s %v", o.GetName(), o.GetDatatype(), o.GetShape()))
	}
	if got, want := strings.Join(shapes, "; "), "image FP32 [-1 3 -1 -1]; qtable FP32 [-1 128]; restored FP32 [-1 3 -1 -1]"; got != want ||
		md.GetName() != "fast" || len(md.GetVersions()) != 1 || md.GetVersions()[0] != man.Version ||
		md.GetParameters()["sha256"].GetStringParam() != man.SHA256 {
		t.Fatalf("ModelMetadata: %v\ntensors %s, want %s", md, got, want)
	}
	// One 64×64 tile and a qtable, as fp32_contents.
	const h, w = 64, 64
	x := make([]float32, 3*h*w)
	for i := range x {
		x[i] = float32((i*37)%251) / 255
	}
	q := make([]float32, 128)
	for i := range q {
		q[i] = float32(8+i%24) / 255
	}
	resp, err := c.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "fast", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
		{Name: "image", Datatype: "FP32", Shape: []int64{1, 3, h, w}, Contents: &oippb.InferTensorContents{Fp32Contents: x}},
		{Name: "qtable", Datatype: "FP32", Shape: []int64{1, 128}, Contents: &oippb.InferTensorContents{Fp32Contents: q}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := model.Engine.Infer(ctx, x, h, w, q)
	if err != nil {
		t.Fatal(err)
	}
	out := resp.GetOutputs()
	if len(out) != 1 || out[0].GetName() != "restored" || fmt.Sprint(out[0].GetShape()) != "[1 3 64 64]" {
		t.Fatalf("ModelInfer answered %v", out)
	}
	got := out[0].GetContents().GetFp32Contents()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("value %d: %v from the server, %v in this process", i, got[i], want[i])
		}
	}
}

// BenchmarkWorkersOverhead measures what the protocol costs: the same restore in-process and
// through one local `jpegrestore serve` (--workers), side by side on the same cores, alternating
// run by run. It reports both throughputs (restored MP per second of wall time), their ratio and
// the tile bytes moved per restored megapixel (sent and received). JPEGRESTORE_BENCH_PRESET
// chooses the model (default fast).
func BenchmarkWorkersOverhead(b *testing.B) {
	preset := cmp.Or(os.Getenv("JPEGRESTORE_BENCH_PRESET"), "fast")
	srv := startServe(b, "--preset", preset)
	for _, set := range []struct {
		name    string
		n, w, h int
	}{{"768x512", 24, 768, 512}, {"2048x1536", 4, 2048, 1536}} {
		b.Run(set.name, func(b *testing.B) {
			in := b.TempDir()
			for i := range set.n {
				writePhoto(b, filepath.Join(in, fmt.Sprintf("p%02d.jpg", i)), set.w, set.h, 15+5*(i%12), uint64(i))
			}
			mp := float64(set.n*set.w*set.h) / 1e6
			var local, remote, moved float64
			for i := 0; i < b.N; i++ {
				for _, mode := range []string{"local", "remote"} {
					out := filepath.Join(b.TempDir(), mode)
					args := []string{"restore", "--quiet", "--preset", preset, "--in", in, "--out", out}
					if mode == "remote" {
						args = append(args, "--workers", srv.addr)
					}
					var o, e bytes.Buffer
					start := time.Now()
					if code := run(context.Background(), args, &o, &e); code != exitOK {
						b.Fatalf("%s: exit %d\n%s", mode, code, e.String())
					}
					rate := mp / time.Since(start).Seconds()
					if mode == "local" {
						local += rate
						continue
					}
					remote += rate
					for _, w := range workerStatsOf(b, out, preset) {
						moved += float64(w.BytesSent+w.BytesReceived) / mp
					}
				}
			}
			n := float64(b.N)
			b.ReportMetric(local/n, "local-MP/s")
			b.ReportMetric(remote/n, "serve-MP/s")
			b.ReportMetric(remote/local, "serve/local")
			b.ReportMetric(moved/n/1e6, "MB-moved/MP")
		})
	}
}
