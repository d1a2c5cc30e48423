package oip

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
)

// Buckets of the server's histograms: request latency in seconds, and tiles per request.
var (
	latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	batchBuckets   = []float64{1, 2, 4, 8, 16, 32, 64}
)

// serverMetrics counts ModelInfer requests per model: by gRPC code, their tiles, their latency
// and their sizes in tiles.
type serverMetrics struct {
	mu     sync.Mutex
	models map[string]*modelMetrics // by model name; requests for other names count under ""
}

type modelMetrics struct {
	codes   map[codes.Code]int64
	tiles   int64 // tiles of the requests answered OK
	latency histogram
	batch   histogram
}

type histogram struct {
	bounds []float64
	counts []int64 // counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last is +Inf
	sum    float64
	n      int64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]int64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func newServerMetrics(names []string) *serverMetrics {
	m := &serverMetrics{models: map[string]*modelMetrics{}}
	for _, n := range names {
		m.model(n)
	}
	return m
}

func (m *serverMetrics) model(name string) *modelMetrics {
	mm := m.models[name]
	if mm == nil {
		mm = &modelMetrics{codes: map[codes.Code]int64{}, latency: newHistogram(latencyBuckets), batch: newHistogram(batchBuckets)}
		m.models[name] = mm
	}
	return mm
}

func (m *serverMetrics) observe(model string, code codes.Code, tiles int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mm := m.models[model]
	if mm == nil {
		mm = m.model("") // not served: one series, whatever names callers send
	}
	mm.codes[code]++
	if code == codes.OK {
		mm.tiles += int64(tiles)
		mm.latency.observe(d.Seconds())
		mm.batch.observe(float64(tiles))
	}
}

// WriteMetrics writes the server's metrics in the Prometheus text format: requests by model and
// gRPC code, tiles inferred, request latency and tiles per request (histograms of the requests
// answered OK), and the tiles queued now.
func (s *Server) WriteMetrics(w io.Writer) {
	m := s.metrics
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.models))
	for n := range m.models {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprintln(w, "# HELP jpegrestore_serve_requests_total ModelInfer requests answered, by model and gRPC code.")
	fmt.Fprintln(w, "# TYPE jpegrestore_serve_requests_total counter")
	for _, n := range names {
		mm := m.models[n]
		var cs []codes.Code
		for c := range mm.codes {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		for _, c := range cs {
			fmt.Fprintf(w, "jpegrestore_serve_requests_total{model=%q,code=%q} %d\n", n, c.String(), mm.codes[c])
		}
	}
	fmt.Fprintln(w, "# HELP jpegrestore_serve_tiles_total Tiles inferred in requests answered OK, by model.")
	fmt.Fprintln(w, "# TYPE jpegrestore_serve_tiles_total counter")
	for _, n := range names {
		fmt.Fprintf(w, "jpegrestore_serve_tiles_total{model=%q} %d\n", n, m.models[n].tiles)
	}
	writeHistogram(w, "jpegrestore_serve_request_seconds", "Latency of ModelInfer requests answered OK, in seconds.", names,
		func(n string) histogram { return m.models[n].latency })
	writeHistogram(w, "jpegrestore_serve_request_tiles", "Tiles per ModelInfer request answered OK (the batch a caller sent).", names,
		func(n string) histogram { return m.models[n].batch })
	fmt.Fprintln(w, "# HELP jpegrestore_serve_queued_tiles Tiles waiting or running now.")
	fmt.Fprintln(w, "# TYPE jpegrestore_serve_queued_tiles gauge")
	fmt.Fprintf(w, "jpegrestore_serve_queued_tiles %d\n", s.queued.Load())
	fmt.Fprintln(w, "# HELP jpegrestore_serve_queue_limit Most tiles waiting or running at once (serve --queue).")
	fmt.Fprintln(w, "# TYPE jpegrestore_serve_queue_limit gauge")
	fmt.Fprintf(w, "jpegrestore_serve_queue_limit %d\n", s.cfg.Queue)
	ready := 0
	if s.Ready() {
		ready = 1
	}
	fmt.Fprintln(w, "# HELP jpegrestore_serve_ready 1 while the server takes work, 0 while it drains.")
	fmt.Fprintln(w, "# TYPE jpegrestore_serve_ready gauge")
	fmt.Fprintf(w, "jpegrestore_serve_ready %d\n", ready)
}

func writeHistogram(w io.Writer, name, help string, models []string, h func(string) histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for _, n := range models {
		hh := h(n)
		var cum int64
		for i, b := range hh.bounds {
			cum += hh.counts[i]
			fmt.Fprintf(w, "%s_bucket{model=%q,le=%q} %d\n", name, n, strconv.FormatFloat(b, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "%s_bucket{model=%q,le=\"+Inf\"} %d\n", name, n, hh.n)
		fmt.Fprintf(w, "%s_sum{model=%q} %g\n%s_count{model=%q} %d\n", name, n, hh.sum, name, n, hh.n)
	}
}
