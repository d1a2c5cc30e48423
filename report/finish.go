package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"jpegrestore/storage"
)

// CropFunc cuts the before/after crops of a restored record's input and output for the report's
// examples.
type CropFunc func(ctx context.Context, r Record) (Example, error)

// Finish completes a report folder after its pipeline has run: it takes the pipeline's combined
// summary (an empty one when nothing matched) and adds the job's meta, merges the record shards
// into records.jsonl and failures.jsonl, cuts the examples' crops (when crop is not nil), writes
// summary.json and report.html, and the run's own copies under runs/RUN/ (keeping the runs
// earlierRuns keeps), and deletes the pipeline's parts. An example whose files cannot be read is
// left out of the page; it never fails the job.
func Finish(ctx context.Context, f Folder, meta map[string]any, crop CropFunc) (*Summary, error) {
	s := NewAccumulator()
	b, err := storage.ReadFile(ctx, f.SummaryPart())
	switch {
	case err == nil:
		if s, err = DecodeSummary(b); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	s.Meta = meta
	merged, err := f.MergeShards(ctx)
	if err != nil {
		return nil, err
	}
	page := Page{Summary: s, NotRestored: merged.NotRestored}
	if crop != nil {
		page.Examples = f.examples(ctx, crop)
	}
	enc, err := EncodeSummary(s)
	if err != nil {
		return nil, err
	}
	own, err := pageBytes(page) // the run's own page: no links to other runs
	if err != nil {
		return nil, err
	}
	if page.Runs, err = f.earlierRuns(ctx, merged.Made); err != nil {
		return nil, err
	}
	latest, err := pageBytes(page)
	if err != nil {
		return nil, err
	}
	for uri, data := range map[string][]byte{f.Summary(): enc, f.runFile(SummaryFile): enc, f.HTML(): latest, f.runFile(HTMLFile): own} {
		if err := storage.WriteFile(ctx, uri, data); err != nil {
			return nil, err
		}
	}
	return s, f.removeParts(ctx)
}

func pageBytes(p Page) ([]byte, error) {
	var b bytes.Buffer
	err := WriteHTML(&b, p)
	return b.Bytes(), err
}

// examples reads the records the pipeline picked and crops each.
func (f Folder) examples(ctx context.Context, crop CropFunc) []Example {
	b, err := storage.ReadFile(ctx, f.ExamplesPart())
	if err != nil {
		return nil
	}
	var top TopN
	if err := json.Unmarshal(b, &top); err != nil {
		return nil
	}
	var out []Example
	for _, sel := range []struct {
		caption string
		recs    []Record
	}{{"most changed", top.Most}, {"least changed", top.Least}} {
		for _, r := range sel.recs {
			ex, err := crop(ctx, r)
			if err != nil {
				continue
			}
			ex.Caption = fmt.Sprintf("%s: QF %d, route %s", sel.caption, r.QF, r.Route)
			out = append(out, ex)
		}
	}
	return out
}
