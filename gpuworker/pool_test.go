package gpuworker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"jpegrestore/inference"
	"jpegrestore/pix"
)

// The models are inference/testdata fixtures (see gen_models.py there).
func fixture(t testing.TB, name string) *inference.Manifest {
	t.Helper()
	m, err := inference.LoadManifest(filepath.Join("..", "inference", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func initORT(t testing.TB) {
	t.Helper()
	t.Setenv(EnvLibrary, os.Getenv(EnvLibrary))
	lib, err := LibraryPath("")
	if err != nil {
		t.Fatalf("run `make setup` first: %v", err)
	}
	if err := Init(lib); err != nil {
		t.Fatal(err)
	}
}

func openPool(t testing.TB, name string, opts Options) *Pool {
	t.Helper()
	initORT(t)
	p, err := Open(fixture(t, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func randomTile(n int, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestIdentityModelThroughORT(t *testing.T) {
	p := openPool(t, "identity", Options{})
	x := randomTile(3*32*48, 1)
	y, err := p.Infer(context.Background(), x, 32, 48, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(x, y); d != 0 {
		t.Errorf("identity model changed values by %g", d)
	}
}

// TestTiledEqualsWholeORT: the bounded-receptive-field fixture through ONNX Runtime, tiled at the
// manifest's overlap, equals whole-image inference (max abs diff < 1e-5), with and without
// self-ensemble.
func TestTiledEqualsWholeORT(t *testing.T) {
	p := openPool(t, "conv", Options{MaxBatch: 4})
	for _, tc := range []struct {
		name     string
		h, w     int
		tile     int
		ensemble int
	}{
		{"single-tile-odd", 37, 53, 64, 1},
		{"many-tiles-odd", 150, 203, 64, 1},
		{"many-tiles-x8", 97, 130, 48, 8},
		{"many-tiles-x2", 61, 200, 32, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inference.Planar{C: 3, H: tc.h, W: tc.w, Data: randomTile(3*tc.h*tc.w, 2)}
			whole, err := inference.NewRestorer(p, p.Manifest(), inference.Config{TileConfig: inference.TileConfig{Tile: 1024}, Ensemble: tc.ensemble})
			if err != nil {
				t.Fatal(err)
			}
			tiled, err := inference.NewRestorer(p, p.Manifest(), inference.Config{TileConfig: inference.TileConfig{Tile: tc.tile}, Ensemble: tc.ensemble})
			if err != nil {
				t.Fatal(err)
			}
			want, err := whole.RestorePlanar(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tiled.RestorePlanar(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(want.Data, got.Data); d >= 1e-5 {
				t.Errorf("tiled differs from whole-image by %g", d)
			}
		})
	}
}

// TestBatchingKeepsCallersApart: concurrent callers get batched together and each gets its own
// result, equal to running alone.
func TestBatchingKeepsCallersApart(t *testing.T) {
	p := openPool(t, "qcond", Options{MaxBatch: 4, MaxWait: 50 * time.Millisecond})
	const n, h, w = 12, 32, 32
	xs, qs := make([][]float32, n), make([][]float32, n)
	for i := range xs {
		xs[i], qs[i] = randomTile(3*h*w, int64(i)), randomTile(inference.QTableLen, int64(100+i))
	}
	alone := make([][]float32, n)
	for i := range xs {
		y, err := p.Infer(context.Background(), xs[i], h, w, qs[i])
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = y
	}
	if maxDiff(alone[0], alone[1]) == 0 {
		t.Fatal("different inputs gave the same output")
	}
	before := p.Metrics().Snapshot()
	var wg sync.WaitGroup
	got := make([][]float32, n)
	errs := make([]error, n)
	for i := range xs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = p.Infer(context.Background(), xs[i], h, w, qs[i])
		}(i)
	}
	wg.Wait()
	for i := range xs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if d := maxDiff(alone[i], got[i]); d > 1e-5 {
			t.Errorf("caller %d: batched result differs from its own run by %g", i, d)
		}
	}
	after := p.Metrics().Snapshot()
	if batches := after.Batches - before.Batches; batches >= n {
		t.Errorf("%d concurrent tiles ran in %d batches: nothing was batched", n, batches)
	}
	if after.BatchSizes[4] == 0 || after.Inferences != 2*n || after.Failures != 0 {
		t.Errorf("metrics %v, sizes %v", after, after.BatchSizes)
	}
}

// TestConditioningMatters: the qtable reaches the model.
func TestConditioningMatters(t *testing.T) {
	p := openPool(t, "qcond", Options{})
	x := randomTile(3*16*16, 1)
	a, err := p.Infer(context.Background(), x, 16, 16, make([]float32, inference.QTableLen))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Infer(context.Background(), x, 16, 16, randomTile(inference.QTableLen, 2))
	if err != nil {
		t.Fatal(err)
	}
	if maxDiff(a, b) < 1e-4 {
		t.Error("output does not depend on the qtable")
	}
	if _, err := p.Infer(context.Background(), x, 16, 16, nil); err == nil {
		t.Error("a conditioned model accepted a call without qtable")
	}
	if _, err := p.Infer(context.Background(), x, 16, 17, make([]float32, inference.QTableLen)); err == nil {
		t.Error("a tile of the wrong size was accepted")
	}
}

func TestOpenRejectsMismatchedManifest(t *testing.T) {
	initORT(t)
	for _, tc := range []struct {
		name   string
		model  string
		change func(m *inference.Manifest)
		want   string
	}{
		{"wrong-input-name", "conv", func(m *inference.Manifest) { m.Inputs.Image = "pixels" }, `input "pixels" missing`},
		{"wrong-output-name", "conv", func(m *inference.Manifest) { m.Output = "out" }, `output "out" missing`},
		{"conditioned-model-declared-plain", "qcond", func(m *inference.Manifest) { m.Conditioning, m.Inputs.QTable = "none", "" }, "the manifest names 1"},
		{"plain-model-declared-conditioned", "conv", func(m *inference.Manifest) { m.Conditioning, m.Inputs.QTable = "qtable", "qtable" }, `input "qtable" missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fixture(t, tc.model)
			tc.change(m)
			if _, err := Open(m, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open error = %v, want %q", err, tc.want)
			}
		})
	}
	for _, bad := range []Device{"gpu", "cuda:x", "cuda:-1"} {
		if _, err := Open(fixture(t, "conv"), Options{Device: bad}); err == nil {
			t.Errorf("device %q accepted", bad)
		}
	}
}

// cudaAvailable reports whether this ONNX Runtime build has a working CUDA provider.
func cudaAvailable(t *testing.T) bool {
	p, err := Open(fixture(t, "conv"), Options{Device: "cuda:0"})
	if err != nil {
		return false
	}
	p.Close()
	return true
}

// TestCUDAUnavailable: on a CPU-only library, asking for CUDA fails at start-up with a message
// that says what to do, and auto falls back to the CPU and says so.
func TestCUDAUnavailable(t *testing.T) {
	initORT(t)
	if cudaAvailable(t) {
		t.Skip("this ONNX Runtime has a working CUDA provider; TestCUDA covers it")
	}
	_, err := Open(fixture(t, "conv"), Options{Device: "cuda:0"})
	if err == nil || !strings.Contains(err.Error(), "CUDA execution provider is unavailable") || !strings.Contains(err.Error(), "--device cpu") {
		t.Errorf("Open on cuda:0 error = %v", err)
	}
	p, err := Open(fixture(t, "conv"), Options{Device: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Device() != "cpu" || !strings.Contains(p.Note(), "running on the CPU") {
		t.Errorf("auto: device %q, note %q", p.Device(), p.Note())
	}
	// Falling back, the pool takes the CPU's defaults, not those of the device it asked for.
	if want := (Options{Device: "auto"}).withDefaults(-1); p.Options() != want || p.solo == nil {
		t.Errorf("auto on the CPU runs %+v (solo session %v), want the CPU's defaults %+v", p.Options(), p.solo != nil, want)
	}
}

// TestCUDA runs the fixture on a GPU and compares with the CPU. It needs the GPU build of ONNX
// Runtime and a GPU, which CI machines do not have.
func TestCUDA(t *testing.T) {
	initORT(t)
	if !cudaAvailable(t) {
		t.Skip("no CUDA execution provider in this ONNX Runtime build or no GPU: CPU-only machine")
	}
	gpu, err := Open(fixture(t, "conv"), Options{Device: "cuda:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	cpu := openPool(t, "conv", Options{})
	x := randomTile(3*64*64, 3)
	a, err := gpu.Infer(context.Background(), x, 64, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cpu.Infer(context.Background(), x, 64, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(a, b); d > 1e-4 {
		t.Errorf("GPU and CPU differ by %g", d)
	}
}

func TestClose(t *testing.T) {
	initORT(t)
	p, err := Open(fixture(t, "identity"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Infer(context.Background(), make([]float32, 3*16*16), 16, 16, nil); !errors.Is(err, errClosed) {
		t.Errorf("Infer after Close: %v", err)
	}
}

func TestInferHonoursContext(t *testing.T) {
	p := openPool(t, "identity", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Infer(ctx, make([]float32, 3*16*16), 16, 16, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Infer: %v", err)
	}
}

// TestRestoreImageThroughPool runs the whole 8-bit path: gray and RGB images through the identity
// model come back unchanged.
func TestRestoreImageThroughPool(t *testing.T) {
	p := openPool(t, "identity", Options{})
	r, err := inference.NewRestorer(p, p.Manifest(), inference.Config{TileConfig: inference.TileConfig{Tile: 64}, Ensemble: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []int{1, 3} {
		img := pix.New(131, 77, c)
		rand.New(rand.NewSource(int64(c))).Read(img.Pix)
		got, err := r.Restore(context.Background(), img, nil)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.Pix) != fmt.Sprint(img.Pix) || got.C != c {
			t.Errorf("%d channels: identity restore changed the image", c)
		}
	}
}

// TestSoloSessionTakesLoneCallers: a caller alone on an idle pool runs on the solo session (every
// core); tiles that arrive while others run go to the single-threaded sessions, and every result
// is right wherever it ran.
func TestSoloSessionTakesLoneCallers(t *testing.T) {
	p := openPool(t, "conv", Options{Sessions: 2, Threads: 1, SoloThreads: 2})
	if p.solo == nil {
		t.Fatal("no solo session")
	}
	const h, w = 64, 48
	x := randomTile(3*h*w, 1)
	want, err := p.Infer(context.Background(), x, h, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		y, err := p.Infer(context.Background(), x, h, w, nil)
		if err != nil || maxDiff(want, y) > 1e-6 {
			t.Fatalf("sequential call %d: %v, diff %g", i, err, maxDiff(want, y))
		}
	}
	if s := p.Metrics().Snapshot(); s.Solo != 6 {
		t.Errorf("a lone sequential caller ran %d of 6 batches on the solo session", s.Solo)
	}
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				y, err := p.Infer(context.Background(), x, h, w, nil)
				if err != nil || maxDiff(want, y) > 1e-6 {
					t.Errorf("concurrent call: %v, diff %g", err, maxDiff(want, y))
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := p.Metrics().Snapshot(); s.Batches-s.Solo == 0 || s.Inferences != 86 {
		t.Errorf("8 concurrent callers: %d of %d batches on the solo session, %d tiles", s.Solo, s.Batches, s.Inferences)
	}
	if o := (Options{Device: "cuda:0"}).withDefaults(0); o.SoloThreads > 0 {
		t.Errorf("a solo session on CUDA: %+v", o)
	}
}
