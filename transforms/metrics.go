package transforms

import (
	"context"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"jpegrestore/report"
)

// MetricsNamespace is the namespace of every Beam metric of jpegrestore.
const MetricsNamespace = "jpegrestore"

// counters are the Beam metrics of the DoFns, built once: records by status, dead letters by
// reason, and per-stage latency distributions in nanoseconds.
var counters = newRecordMetrics()

type recordMetrics struct {
	mu     sync.Mutex
	byName map[string]beam.Counter
	dists  map[string]beam.Distribution
	pixels beam.Counter
}

func newRecordMetrics() *recordMetrics {
	return &recordMetrics{byName: map[string]beam.Counter{}, dists: map[string]beam.Distribution{},
		pixels: beam.NewCounter(MetricsNamespace, "restore_pixels_total")}
}

func (m *recordMetrics) counter(name string) beam.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.byName[name]
	if !ok {
		c = beam.NewCounter(MetricsNamespace, name)
		m.byName[name] = c
	}
	return c
}

func (m *recordMetrics) dist(name string) beam.Distribution {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dists[name]
	if !ok {
		d = beam.NewDistribution(MetricsNamespace, name)
		m.dists[name] = d
	}
	return d
}

// record counts one finished record.
func (m *recordMetrics) record(ctx context.Context, r report.Record) {
	m.counter("records_total{status="+string(r.Status)+"}").Inc(ctx, 1)
	if r.Status == report.StatusFailed {
		m.counter("dead_letters_total{reason="+string(r.Reason)+"}").Inc(ctx, 1)
	}
	if r.Status == report.StatusRestored {
		m.pixels.Inc(ctx, int64(r.Width)*int64(r.Height))
	}
	for stage, sec := range r.Timings {
		m.dist("stage_latency_ns{stage="+string(stage)+"}").Update(ctx, int64(sec*1e9))
	}
}
