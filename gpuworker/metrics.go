package gpuworker

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Metrics counts what a pool did, like Beam's RunInference metrics: tiles inferred, batches and
// their sizes, batch latency, failures and model load time. Its methods are safe for concurrent
// use.
type Metrics struct {
	LoadTime time.Duration

	mu         sync.Mutex
	inferences int64 // tiles run
	batches    int64
	failures   int64                 // batches that failed
	solo       int64                 // batches run on the solo session
	sizes      []int64               // sizes[n] = batches of n tiles
	latency    [latencyBuckets]int64 // batch latency, bucket i holds [2^i, 2^(i+1)) µs
	latencySum time.Duration
}

const latencyBuckets = 32

func newMetrics(maxBatch int) *Metrics {
	return &Metrics{sizes: make([]int64, maxBatch+1)}
}

func (m *Metrics) observe(n int, d time.Duration, solo bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	if solo {
		m.solo++
	}
	if err != nil {
		m.failures++
		return
	}
	m.inferences += int64(n)
	m.sizes[n]++
	b := 0
	for us := d.Microseconds(); us > 1 && b < latencyBuckets-1; us >>= 1 {
		b++
	}
	m.latency[b]++
	m.latencySum += d
}

// Snapshot is a copy of the metrics at one moment. Pool.Snapshot also names the model, the
// device and the sessions.
type Snapshot struct {
	Model string `json:"model,omitempty"`
	// Device is where the pool runs, and Note why that differs from the device asked for.
	Device string `json:"device,omitempty"`
	Note   string `json:"note,omitempty"`
	// Sessions and Threads are the ORT sessions (besides the solo one) and the threads of each.
	Sessions int `json:"sessions,omitempty"`
	Threads  int `json:"threads,omitempty"`

	LoadTime   time.Duration `json:"load_time_ns"`
	Inferences int64         `json:"inferences"`
	Batches    int64         `json:"batches"`
	Failures   int64         `json:"failures"`
	// Solo counts the batches run on the solo session (see Options.SoloThreads).
	Solo int64 `json:"solo_batches"`
	// BatchSizes[n] counts successful batches of n tiles.
	BatchSizes []int64 `json:"batch_sizes"`
	// MeanBatch is tiles per successful batch.
	MeanBatch float64 `json:"mean_batch"`
	// LatencyMean, LatencyP50 and LatencyP95 describe successful batches; the percentiles are
	// the upper bounds of power-of-two microsecond buckets.
	LatencyMean time.Duration `json:"latency_mean_ns"`
	LatencyP50  time.Duration `json:"latency_p50_ns"`
	LatencyP95  time.Duration `json:"latency_p95_ns"`
}

// Snapshot returns the current values.
func (m *Metrics) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Snapshot{LoadTime: m.LoadTime, Inferences: m.inferences, Batches: m.batches, Failures: m.failures, Solo: m.solo,
		BatchSizes: append([]int64(nil), m.sizes...)}
	ok := m.batches - m.failures
	if ok == 0 {
		return s
	}
	s.MeanBatch = float64(m.inferences) / float64(ok)
	s.LatencyMean = m.latencySum / time.Duration(ok)
	quantile := func(q float64) time.Duration {
		target := int64(q*float64(ok) + 0.5)
		var seen int64
		for b, n := range m.latency {
			seen += n
			if seen >= max(target, 1) {
				return time.Duration(int64(1)<<(b+1)) * time.Microsecond
			}
		}
		return 0
	}
	s.LatencyP50, s.LatencyP95 = quantile(0.5), quantile(0.95)
	return s
}

func (s Snapshot) String() string {
	return fmt.Sprintf("%d tiles in %d batches (mean %.2f, %d failed), batch latency mean %v p50 ≤%v p95 ≤%v, load %v",
		s.Inferences, s.Batches, s.MeanBatch, s.Failures, s.LatencyMean.Round(time.Microsecond), s.LatencyP50, s.LatencyP95, s.LoadTime.Round(time.Millisecond))
}

// WritePrometheus writes the pools' metrics in the Prometheus text format: tiles and batches
// run, failed batches, and batches by size (the dynamic batching of the pools).
func WritePrometheus(w io.Writer, pools []Snapshot) {
	series := func(name, typ, help string, value func(Snapshot) int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range pools {
			fmt.Fprintf(w, "%s{model=%q,device=%q} %d\n", name, s.Model, s.Device, value(s))
		}
	}
	series("jpegrestore_pool_tiles_total", "counter", "Tiles the model pool ran.", func(s Snapshot) int64 { return s.Inferences })
	series("jpegrestore_pool_batches_total", "counter", "Model runs (batches of tiles) of the pool.", func(s Snapshot) int64 { return s.Batches })
	series("jpegrestore_pool_failed_batches_total", "counter", "Model runs that failed.", func(s Snapshot) int64 { return s.Failures })
	name := "jpegrestore_pool_batches_by_size_total"
	fmt.Fprintf(w, "# HELP %s Successful model runs by their number of tiles.\n# TYPE %s counter\n", name, name)
	for _, s := range pools {
		for n, c := range s.BatchSizes {
			if n > 0 {
				fmt.Fprintf(w, "%s{model=%q,device=%q,tiles=\"%d\"} %d\n", name, s.Model, s.Device, n, c)
			}
		}
	}
}
