package jobs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/inference"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/storage"
	"jpegrestore/storage/gcstest"
)

// benchModelPath is $JPEGRESTORE_BENCH_MODEL (e.g. models/fast.json) or the bench fixture.
func benchModelPath() string {
	if p := os.Getenv("JPEGRESTORE_BENCH_MODEL"); p != "" {
		return p
	}
	return fixtureModel("bench")
}

// benchPoolOptions are the pool's defaults, or JPEGRESTORE_BENCH_SESSIONS and _THREADS.
func benchPoolOptions() gpuworker.Options {
	n := func(name string) int {
		v, _ := strconv.Atoi(os.Getenv("JPEGRESTORE_BENCH_" + name))
		return v
	}
	return gpuworker.Options{Sessions: n("SESSIONS"), Threads: n("THREADS")}
}

// photo makes a w×h test image with texture, so JPEG at QF 20..50 looks like a photo's.
func photo(w, h, seed int) pix.Image {
	m := pix.New(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			m.Pix[o] = uint8((x*3 + y*seed) ^ (y * 5))
			m.Pix[o+1] = uint8((x*y)>>5 + seed*7)
			m.Pix[o+2] = uint8(x + y*2)
		}
	}
	return m
}

func encodeJPEGErr(m pix.Image, q int) ([]byte, error) {
	return jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420})
}

// BenchmarkPipelineEfficiency restores 200 images of 512×384 (0.2 MP each; QF 20..59, all
// restored) through the whole pipeline on Prism, and runs the bare model on the same tiles in
// the same process: efficiency = pipeline MP/s ÷ model MP/s (the issue asks ≥ 85%). The machine
// is shared and its speed drifts, so the runs alternate — model, pipeline, model, pipeline, …,
// model — and each pipeline run is compared with the mean of the model runs on either side;
// b.N counts pipeline runs (use -benchtime 3x).
//
//	JPEGRESTORE_BENCH_MODEL=models/fast.json go test -run '^$' -bench PipelineEfficiency -benchtime 3x ./jobs
func BenchmarkPipelineEfficiency(b *testing.B) {
	const n, w, h = 200, 512, 384
	in := b.TempDir()
	for i := 0; i < n; i++ {
		data, err := encodeJPEGErr(photo(w, h, i), 20+i%40)
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(in, fmt.Sprintf("img%03d.jpg", i)), data, 0o644)
	}
	man, err := inference.LoadManifest(benchModelPath())
	if err != nil {
		b.Fatal(err)
	}
	lib, err := gpuworker.LibraryPath("")
	if err != nil {
		b.Fatal(err)
	}
	if err := gpuworker.Init(lib); err != nil {
		b.Fatal(err)
	}
	model := rawModelMPs(b, man, w, h, n)
	var pipeSum, modelSum float64
	effs := make([]float64, 0, b.N)
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "out")
		c := restoreConfig(in, out, "")
		c.Models = enhance.ModelConfig{Default: benchModelPath()}
		c.Runtime.Pool = benchPoolOptions()
		start := time.Now()
		res, err := RunRestore(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		sec := time.Since(start).Seconds()
		if res.Summary.Totals.Restored != n {
			b.Fatalf("%d restored of %d", res.Summary.Totals.Restored, n)
		}
		pipe := float64(n*w*h) / 1e6 / sec
		next := rawModelMPs(b, man, w, h, n)
		effs = append(effs, pipe/((model+next)/2))
		pipeSum += pipe
		modelSum += (model + next) / 2
		model = next
	}
	slices.Sort(effs)
	b.ReportMetric(pipeSum/float64(b.N), "pipeline-MP/s")
	b.ReportMetric(modelSum/float64(b.N), "model-MP/s")
	b.ReportMetric(100*effs[len(effs)/2], "median-efficiency-%")
	b.ReportMetric(100*effs[0], "min-efficiency-%")
}

// rawModelMPs runs the model through a pool with its default sessions and 4 concurrent callers
// on tiles of the images' size (what the pipeline feeds it), for as many pixels as the archive
// holds. (BenchmarkPoolEfficiency in gpuworker puts such a pool at 93–100% of a bare session.)
func rawModelMPs(b *testing.B, man *inference.Manifest, w, h, n int) float64 {
	p, err := gpuworker.Open(man, benchPoolOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	x := make([]float32, 3*w*h)
	for i := range x {
		x[i] = float32(i%255) / 255
	}
	var q []float32
	if man.Conditioned() {
		q = make([]float32, inference.QTableLen)
	}
	start := time.Now()
	work := make(chan struct{})
	done := make(chan error)
	for c := 0; c < 4; c++ {
		go func() {
			var err error
			for range work {
				if _, e := p.Infer(context.Background(), x, h, w, q); e != nil {
					err = e
				}
			}
			done <- err
		}()
	}
	for i := 0; i < n; i++ {
		work <- struct{}{}
	}
	close(work)
	for c := 0; c < 4; c++ {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	return float64(n*w*h) / 1e6 / time.Since(start).Seconds()
}

// BenchmarkMemoryFlat restores 2,000 and then 20,000 small JPEGs, each run in its own process,
// and reports both peak RSS values and their ratio (the issue asks for ±20%).
//
//	go test -run '^$' -bench MemoryFlat -benchtime 1x -timeout 30m ./jobs
func BenchmarkMemoryFlat(b *testing.B) {
	var rss [2]float64
	for i, n := range []int{2000, 20000} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("JPEGRESTORE_MEMORY_CHILD=%d", n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child %d: %v\n%s", n, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PEAK_RSS_MIB "); ok {
				rss[i], _ = strconv.ParseFloat(v, 64)
			}
		}
		if rss[i] == 0 {
			b.Fatalf("child %d printed no peak:\n%s", n, out)
		}
	}
	b.ReportMetric(rss[0], "rss-2k-MiB")
	b.ReportMetric(rss[1], "rss-20k-MiB")
	b.ReportMetric(rss[1]/rss[0], "ratio")
}

// TestMemoryChild is BenchmarkMemoryFlat's child: it restores N 64×48 JPEGs and prints its peak
// RSS. It does nothing in a normal test run.
func TestMemoryChild(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("JPEGRESTORE_MEMORY_CHILD"))
	if n == 0 {
		t.Skip("child of BenchmarkMemoryFlat")
	}
	in := t.TempDir()
	data, err := encodeJPEGErr(photo(64, 48, 1), 30)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		dir := filepath.Join(in, fmt.Sprintf("d%03d", i/1000))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.jpg", i)), data, 0o644)
	}
	res, err := RunRestore(context.Background(), restoreConfig(in, filepath.Join(t.TempDir(), "out"), "conv"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Totals.Restored != int64(n) {
		t.Fatalf("%d restored of %d", res.Summary.Totals.Restored, n)
	}
	fmt.Printf("PEAK_RSS_MIB %.1f\n", peakRSSMiB(t))
}

func peakRSSMiB(t *testing.T) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// BenchmarkRerunCost restores N small JPEGs gs:// → gs:// on fake-gcs-server, then measures what a
// rerun over the finished archive costs in requests and bytes (an idle watch cycle is such a
// rerun), for two sizes of N: with the previous run's records.jsonl, from which the listings
// decide, and without it, when every input is read and its output's head checked (the only way
// before the records kept the inputs' versions). The proxy counts what passes: object reads,
// listings, writes, and the bytes read.
//
//	go test -run '^$' -bench RerunCost -benchtime 1x ./jobs
func BenchmarkRerunCost(b *testing.B) {
	for _, n := range []int{100, 400} {
		b.Run(fmt.Sprint("inputs=", n), func(b *testing.B) {
			objs := map[string][]byte{}
			for i := range n {
				data, err := encodeJPEGErr(photo(64, 48, i), 20+i%40)
				if err != nil {
					b.Fatal(err)
				}
				objs[fmt.Sprintf("in/d%d/img%04d.jpg", i%10, i)] = data
			}
			proxy := gcstest.StartFaulty(b, "archive", objs, gcstest.Faults{})
			ctx := context.Background()
			c := restoreConfig("gs://archive/in", "gs://archive/out", "identity")
			if _, err := RunRestore(ctx, c); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				for _, mode := range []string{"records", "no-records"} {
					if mode == "no-records" {
						if err := storage.Delete(ctx, report.Folder{Root: "gs://archive/out/_report"}.Records()); err != nil {
							b.Fatal(err)
						}
					}
					proxy.ResetTraffic()
					res, err := RunRestore(ctx, c)
					if err != nil {
						b.Fatal(err)
					}
					if done := res.Summary.Totals.Skipped[report.ReasonDone]; done != int64(n) {
						b.Fatalf("%s: %d of %d done", mode, done, n)
					}
					t := proxy.Traffic()
					b.ReportMetric(float64(t.Requests["read"]), "reads-"+mode)
					b.ReportMetric(float64(t.ReadBytes)/1e3, "kB-read-"+mode)
					b.ReportMetric(float64(t.Requests["list"]), "lists-"+mode)
					b.ReportMetric(float64(t.Requests["stat"]), "stats-"+mode)
					b.Logf("%s: %+v", mode, t)
				}
			}
		})
	}
}
