package gpuworker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"jpegrestore/inference"
	"jpegrestore/pix"
)

// Benchmarks run the model named by $JPEGRESTORE_BENCH_MODEL (a manifest or .onnx path, e.g.
// models/fast.json) or the bench fixture, whose shape and cost are like a CPU preset's. Each
// reports MP/s of model input; compare them side by side in one run:
//
//	go test -run '^$' -bench . -benchtime 20x ./gpuworker
//
// tiling overhead = RawSession/batch1 ÷ Restore/ensemble-1 − 1 (in MP/s of image, the restorer's
// tiles overlap); pool efficiency = Pool/callers-N ÷ RawSession/batch1, the faster raw batch on
// the CPU.
func benchModel(b *testing.B) *inference.Manifest {
	initORT(b)
	if p := os.Getenv("JPEGRESTORE_BENCH_MODEL"); p != "" {
		m, err := inference.LoadManifest(p)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	return fixture(b, "bench")
}

// benchTile is the side of the tiles of BenchmarkRawSession and BenchmarkPool: DefaultTile, or
// JPEGRESTORE_BENCH_TILE (a multiple of 16), e.g. the 1184-1200 px tiles a 12 MP photo is cut into
// at the shipped models' overlap, where big activations no longer fit in the caches.
var benchTile = func() int {
	if v, err := strconv.Atoi(os.Getenv("JPEGRESTORE_BENCH_TILE")); err == nil && v > 0 && v%16 == 0 {
		return v
	}
	return inference.DefaultTile
}()

// benchOptions are the pool's defaults; JPEGRESTORE_BENCH_SPIN=1 lets ORT's threads spin (ORT's
// own default), in the raw session too, and JPEGRESTORE_BENCH_BATCH, _SESSIONS, _THREADS and
// _SOLOPIXELS set the pool's MaxBatch, Sessions, Threads and SoloPixels (-1: big tiles run on
// every session, as before SoloPixels).
func benchOptions() Options {
	n := func(name string) int {
		v, _ := strconv.Atoi(os.Getenv("JPEGRESTORE_BENCH_" + name))
		return v
	}
	return Options{Spin: benchSpin(), MaxBatch: n("BATCH"), Sessions: n("SESSIONS"), Threads: n("THREADS"),
		SoloPixels: n("SOLOPIXELS")}
}

func benchSpin() bool { return os.Getenv("JPEGRESTORE_BENCH_SPIN") != "" }

// bareSession opens the baseline: one ORT session with every core and no pool, closed when the
// benchmark ends. JPEGRESTORE_BENCH_PROFILE=PREFIX has ORT write its per-operator profile to
// PREFIX_<date>.json (scripts/ort_profile.py sums it by operator); JPEGRESTORE_BENCH_OPTIMIZED=FILE
// has it save the graph it runs, after its own rewrites (the int8 fusions, the layout changes), to FILE.
func bareSession(b *testing.B, m *inference.Manifest) *ort.DynamicAdvancedSession {
	opts, err := newSessionOptions(sessionConf{threads: defaultThreads(1), memPattern: true}, -1, benchSpin())
	if err != nil {
		b.Fatal(err)
	}
	if prefix := os.Getenv("JPEGRESTORE_BENCH_PROFILE"); prefix != "" {
		if err := opts.EnableProfiling(prefix); err != nil {
			opts.Destroy()
			b.Fatal(err)
		}
	}
	if path := os.Getenv("JPEGRESTORE_BENCH_OPTIMIZED"); path != "" {
		if err := opts.SetOptimizedModelFilePath(path); err != nil {
			opts.Destroy()
			b.Fatal(err)
		}
	}
	s, err := ort.NewDynamicAdvancedSession(m.Path(), modelInputs(m), []string{m.Output}, opts)
	opts.Destroy()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Destroy() })
	return s
}

// benchPool opens a pool with benchOptions, closed when the benchmark ends.
func benchPool(b *testing.B, m *inference.Manifest) *Pool {
	p, err := Open(m, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

func reportMPs(b *testing.B, pixels int) {
	b.ReportMetric(float64(pixels)*float64(b.N)/1e6/b.Elapsed().Seconds(), "MP/s")
}

// BenchmarkRawSession runs the model on a bare ORT session with the pool's default threads: the
// baseline the pool and the restorer are measured against.
func BenchmarkRawSession(b *testing.B) {
	m := benchModel(b)
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			s := bareSession(b, m)
			shape := ort.NewShape(int64(n), 3, int64(benchTile), int64(benchTile))
			x, _ := ort.NewTensor(shape, randomTile(n*3*benchTile*benchTile, 1))
			y, _ := ort.NewEmptyTensor[float32](shape)
			defer x.Destroy()
			defer y.Destroy()
			in := []ort.Value{x}
			if m.Conditioned() {
				q, _ := ort.NewTensor(ort.NewShape(int64(n), inference.QTableLen), randomTile(n*inference.QTableLen, 2))
				defer q.Destroy()
				in = append(in, q)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Run(in, []ort.Value{y}); err != nil {
					b.Fatal(err)
				}
			}
			reportMPs(b, n*benchTile*benchTile)
		})
	}
}

// BenchmarkPool submits 512² tiles from 1, 2 and 4 concurrent callers; b.N counts tiles.
func BenchmarkPool(b *testing.B) {
	m := benchModel(b)
	for _, callers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("callers-%d", callers), func(b *testing.B) {
			p := benchPool(b, m)
			x := randomTile(3*benchTile*benchTile, 1)
			var q []float32
			if m.Conditioned() {
				q = randomTile(inference.QTableLen, 2)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			work := make(chan struct{})
			for c := 0; c < callers; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						if _, err := p.Infer(context.Background(), x, benchTile, benchTile, q); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for i := 0; i < b.N; i++ {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			reportMPs(b, benchTile*benchTile)
			b.ReportMetric(p.Metrics().Snapshot().MeanBatch, "tiles/batch")
		})
	}
}

// BenchmarkRestore restores a 4000×3000 RGB image (12 MP, a camera photo) through the pool at the default tile,
// with and without self-ensemble; MP/s counts image pixels.
func BenchmarkRestore(b *testing.B) {
	m := benchModel(b)
	p := benchPool(b, m)
	img := pix.New(4000, 3000, 3)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 / 3)
	}
	var q []float32
	if m.Conditioned() {
		q = randomTile(inference.QTableLen, 2)
	}
	for _, ens := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("ensemble-%d", ens), func(b *testing.B) {
			r, err := inference.NewRestorer(p, m, inference.Config{Ensemble: ens})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.Restore(context.Background(), img, q); err != nil {
					b.Fatal(err)
				}
			}
			reportMPs(b, img.W*img.H)
		})
	}
}

// BenchmarkPoolEfficiency alternates rounds of four tiles on a bare session and four tiles through
// the pool from N callers, so drift on a shared machine hits both alike; it reports the pool's
// throughput as a share of the bare session's (b.N counts rounds).
func BenchmarkPoolEfficiency(b *testing.B) {
	m := benchModel(b)
	s := bareSession(b, m)
	const round = 4
	x := randomTile(3*benchTile*benchTile, 1)
	var q []float32
	shape := ort.NewShape(1, 3, int64(benchTile), int64(benchTile))
	xt, _ := ort.NewTensor(shape, x)
	yt, _ := ort.NewEmptyTensor[float32](shape)
	defer xt.Destroy()
	defer yt.Destroy()
	in := []ort.Value{xt}
	if m.Conditioned() {
		q = randomTile(inference.QTableLen, 2)
		qt, _ := ort.NewTensor(ort.NewShape(1, inference.QTableLen), q)
		defer qt.Destroy()
		in = append(in, qt)
	}
	for _, callers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("callers-%d", callers), func(b *testing.B) {
			p := benchPool(b, m)
			var raw, pool time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for j := 0; j < round; j++ {
					if err := s.Run(in, []ort.Value{yt}); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				var wg sync.WaitGroup
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func(c int) {
						defer wg.Done()
						for j := c; j < round; j += callers {
							if _, err := p.Infer(context.Background(), x, benchTile, benchTile, q); err != nil {
								b.Error(err)
							}
						}
					}(c)
				}
				wg.Wait()
				raw += t1.Sub(t0)
				pool += time.Since(t1)
			}
			mp := float64(round*b.N*benchTile*benchTile) / 1e6
			b.ReportMetric(mp/raw.Seconds(), "raw-MP/s")
			b.ReportMetric(mp/pool.Seconds(), "pool-MP/s")
			b.ReportMetric(100*raw.Seconds()/pool.Seconds(), "%-of-raw")
		})
	}
}

// BenchmarkTilingOverhead restores a W×H image (default 4000×3000, a 12 MP photo;
// JPEGRESTORE_BENCH_SIZE=WxH to change) two ways, alternating so that drift on a shared machine
// hits both alike: untiled, the whole padded image in one run of a bare session with every core,
// and tiled, through the Restorer on a pool with its defaults, at the default tile and overlap
// (JPEGRESTORE_BENCH_TILE and JPEGRESTORE_BENCH_OVERLAP to change them). It reports
// both in MP/s of image and overhead = tiled time ÷ untiled time − 1. b.N counts rounds.
func BenchmarkTilingOverhead(b *testing.B) {
	m := benchModel(b)
	w, h := 4000, 3000
	if s := os.Getenv("JPEGRESTORE_BENCH_SIZE"); s != "" {
		if _, err := fmt.Sscanf(s, "%dx%d", &w, &h); err != nil {
			b.Fatalf("JPEGRESTORE_BENCH_SIZE=%q: %v", s, err)
		}
	}
	img := pix.New(w, h, 3)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 / 3)
	}
	var q []float32
	if m.Conditioned() {
		q = randomTile(inference.QTableLen, 2)
	}
	// Untiled: one session, all cores, the image padded to the model's multiple.
	s := bareSession(b, m)
	ph, pw := (h+m.PadMultiple-1)/m.PadMultiple*m.PadMultiple, (w+m.PadMultiple-1)/m.PadMultiple*m.PadMultiple
	shape := ort.NewShape(1, 3, int64(ph), int64(pw))
	xt, _ := ort.NewTensor(shape, randomTile(3*ph*pw, 1))
	yt, _ := ort.NewEmptyTensor[float32](shape)
	defer xt.Destroy()
	defer yt.Destroy()
	in := []ort.Value{xt}
	if m.Conditioned() {
		qt, _ := ort.NewTensor(ort.NewShape(1, inference.QTableLen), q)
		defer qt.Destroy()
		in = append(in, qt)
	}
	p := benchPool(b, m)
	var tc inference.TileConfig
	tc.Tile, _ = strconv.Atoi(os.Getenv("JPEGRESTORE_BENCH_TILE"))
	tc.Overlap, _ = strconv.Atoi(os.Getenv("JPEGRESTORE_BENCH_OVERLAP"))
	r, err := inference.NewRestorer(p, m, inference.Config{TileConfig: tc})
	if err != nil {
		b.Fatal(err)
	}
	var whole, tiled time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := s.Run(in, []ort.Value{yt}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := r.Restore(context.Background(), img, q); err != nil {
			b.Fatal(err)
		}
		whole += t1.Sub(t0)
		tiled += time.Since(t1)
	}
	mp := float64(w*h*b.N) / 1e6
	b.ReportMetric(mp/whole.Seconds(), "untiled-MP/s")
	b.ReportMetric(mp/tiled.Seconds(), "tiled-MP/s")
	b.ReportMetric(100*(tiled.Seconds()/whole.Seconds()-1), "overhead-%")
	b.ReportMetric(float64(r.Tiles().Overlap), "overlap-px")
	b.ReportMetric(float64(r.Tiles().Tile), "tile-px")
}
