// Package pipeline wires jpegrestore's jobs out of the transforms: composite PTransforms only,
// with build-time validation and no I/O at construction.
//
//	match(glob) ─┐
//	list outputs ─┼► claim outputs ─► restore (enhance's journey: name, read, probe, route, resume,
//	old records ─┘        │                     decode, restore, encode, write) ─┬► records
//	                      └─ settled from the listings (a rerun's done inputs) ───┘
//	records ─► record shards (merged by report.Finish into records.jsonl and failures.jsonl),
//	           the summary (one combiner over bucket × prefix × route × QF band),
//	           the examples (the restored records that changed most and least)
package pipeline

import (
	"encoding/json"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/report"
	"jpegrestore/transforms"
)

func init() {
	// Summary (free-form Meta) and TopN travel as JSON: Beam's schema coder cannot encode
	// map[string]any.
	beam.RegisterCoder(reflect.TypeOf((*report.Summary)(nil)), report.EncodeSummary, report.DecodeSummary)
	beam.RegisterCoder(reflect.TypeOf((*report.TopN)(nil)), encodeTopN, decodeTopN)
	register.Function1x2[report.Record, string, error](recordJSON)
	register.Function1x2[*report.Summary, []byte, error](report.EncodeSummary)
	register.Function1x2[*report.TopN, []byte, error](encodeTopN)
	register.Combiner3[*report.Summary, report.Record, *report.Summary](&summaryFn{})
	register.Combiner3[*report.TopN, report.Record, *report.TopN](&examplesFn{})
}

// ExamplesPerEnd is how many most- and least-changed images the report shows.
const ExamplesPerEnd = 3

// Restore builds match → claim outputs (grouped by output name with the output root's listing and
// the previous run's records, settling what a rerun is done with) → restore, and returns the
// records of every input. previous is the previous run's records.jsonl; report is the report
// folder, left out of the output listing.
func Restore(s beam.Scope, inputs []string, previous, report string, cfg transforms.RestoreConfig) beam.PCollection {
	s = s.Scope("pipeline.Restore")
	if len(inputs) == 0 {
		panic("pipeline.Restore: no inputs")
	}
	out := cfg.Settings.Out
	matched := transforms.Match(s, inputs, []string{out, report})
	outputs := transforms.ListOutputs(s, out, []string{report})
	toRestore, settled := transforms.ClaimOutputs(s, cfg, matched, outputs, transforms.ReadRecords(s, previous))
	return beam.Flatten(s, transforms.Restore(s, cfg, toRestore), settled)
}

// Eval builds match → reshuffle → eval and returns one record per reference and QF.
func Eval(s beam.Scope, refs []string, cfg transforms.EvalConfig) beam.PCollection {
	s = s.Scope("pipeline.Eval")
	return transforms.Eval(s, cfg, beam.Reshuffle(s, transforms.Match(s, refs, nil)))
}

// Survey builds match → reshuffle → survey (probe and no-reference score, no restoring); the
// inputs under exclude (the report folder) are left out.
func Survey(s beam.Scope, inputs, exclude []string, cfg transforms.SurveyConfig) beam.PCollection {
	s = s.Scope("pipeline.Survey")
	return transforms.Survey(s, cfg, beam.Reshuffle(s, transforms.Match(s, inputs, exclude)))
}

// ShardLines bounds the lines a record shard holds, and so the memory a worker spends on them.
const ShardLines = 500

// WriteReport leaves the parts of the report folder f that its job's report.Finish completes
// (see report.Folder): the record shards, the combined summary and the examples. Records go to
// shards per bundle rather than through one grouped writer, so memory stays flat in the number
// of inputs; only the combiners' accumulators cross worker boundaries.
func WriteReport(s beam.Scope, f report.Folder, records beam.PCollection) {
	s = s.Scope("pipeline.WriteReport")
	lines := beam.ParDo(s, recordJSON, records)
	transforms.WriteShards(s, f, ShardLines, lines)
	summary := beam.Combine(s, &summaryFn{}, records)
	transforms.WriteFile(s, f.SummaryPart(), beam.ParDo(s, report.EncodeSummary, summary))
	examples := beam.Combine(s, &examplesFn{N: ExamplesPerEnd}, records)
	transforms.WriteFile(s, f.ExamplesPart(), beam.ParDo(s, encodeTopN, examples))
}

func encodeTopN(t *report.TopN) ([]byte, error) { return json.Marshal(t) }
func decodeTopN(b []byte) (*report.TopN, error) {
	var t report.TopN
	return &t, json.Unmarshal(b, &t)
}

func recordJSON(r report.Record) (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

// summaryFn aggregates records into a Summary; memory is bounded by the number of groups.
type summaryFn struct{}

func (*summaryFn) CreateAccumulator() *report.Summary { return report.NewAccumulator() }
func (*summaryFn) AddInput(a *report.Summary, r report.Record) *report.Summary {
	return report.Add(a, r)
}
func (*summaryFn) MergeAccumulators(a, b *report.Summary) *report.Summary { return report.Merge(a, b) }

// examplesFn keeps the N restored records whose no-reference score rose most and least.
type examplesFn struct {
	N int `json:"n"`
}

func (f *examplesFn) CreateAccumulator() *report.TopN { return report.NewTopN(f.N) }
func (*examplesFn) AddInput(a *report.TopN, r report.Record) *report.TopN {
	a.Add(r)
	return a
}
func (*examplesFn) MergeAccumulators(a, b *report.TopN) *report.TopN {
	a.Merge(b)
	return a
}
