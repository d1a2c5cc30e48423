// Package report turns the per-input records of a jpegrestore job into a summary and a
// self-contained HTML report.
//
// Every matched input becomes exactly one [Record] (restored, skipped with a reason, or failed
// with a stage and a reason), written one per line to records.jsonl. [Status], [Stage] and
// [Reason] are declared once, in outcome.go, with what each reason means and whether a rerun may
// end differently. Records are folded into a
// [Summary] with [NewAccumulator], [Add] and [Merge], which are shaped like the methods of a
// Beam CombineFn: the accumulator is the summary itself, its memory is bounded by the number of
// groups (bucket × prefix × route × QF band), never by the number of records, and merging is
// exact, associative and commutative because every sum is kept in integer fixed point (see
// [Stat]). [TopN] picks the restored inputs whose no-reference score changed most and least,
// for the before/after crops of the report; [WriteHTML] renders the page, with its charts drawn
// as inline SVG; [Progress] draws the terminal progress line of a local run.
//
// A report folder ([Folder], folder.go) is filled by the job's pipeline (record shards, the
// combined summary, the examples) and completed by [Finish] (finish.go): it merges the shards
// into records.jsonl and failures.jsonl, writes summary.json once with the job's meta, and
// renders report.html. The package does no Beam (the wiring lives in pipeline/ and transforms/)
// and reads and writes the folder through package storage. The accumulator holds free-form [Summary.Meta] values (interface types), which
// Beam's schema coder cannot encode: register [EncodeSummary] and [DecodeSummary] as the coder
// of *Summary with beam.RegisterCoder.
//
// Evaluation jobs (clean references known) need no separate structure: every record that
// carries reference metrics (PSNR, SSIM, PSNR-B) feeds the means of its group and one
// [EvalRow] per exact luma quality factor in [Summary.Eval], which the report shows as the
// "reference metrics per QF" table next to published results.
package report
