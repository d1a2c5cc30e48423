package jobs

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"

	"jpegrestore/transforms"
)

// beamMetrics flattens the pipeline's jpegrestore counters and distributions for summary.json,
// summed over the steps that report them.
func beamMetrics(res beam.PipelineResult) map[string]any {
	out := map[string]any{}
	all := res.Metrics().AllMetrics()
	counts := map[string]int64{}
	for _, c := range all.Counters() {
		if c.Namespace() == transforms.MetricsNamespace {
			counts[c.Name()] += c.Result()
		}
	}
	dists := map[string]metrics.DistributionValue{}
	for _, d := range all.Distributions() {
		if d.Namespace() != transforms.MetricsNamespace {
			continue
		}
		r, acc := d.Result(), dists[d.Name()]
		if acc.Count == 0 {
			acc.Min, acc.Max = r.Min, r.Max
		}
		acc.Count, acc.Sum = acc.Count+r.Count, acc.Sum+r.Sum
		acc.Min, acc.Max = min(acc.Min, r.Min), max(acc.Max, r.Max)
		dists[d.Name()] = acc
	}
	for k, v := range counts {
		out[k] = v
	}
	for k, d := range dists {
		mean := 0.0
		if d.Count > 0 {
			mean = float64(d.Sum) / float64(d.Count)
		}
		out[k] = map[string]any{"count": d.Count, "sum": d.Sum, "min": d.Min, "max": d.Max, "mean": mean}
	}
	return out
}
