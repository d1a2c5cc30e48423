package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/png"
	"io/fs"
	"os"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"jpegrestore/jpeg"
	"jpegrestore/pipeline"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/storage"
)

// runPipeline runs p on the runner named by Beam's --runner flag (Prism in-process by default).
func runPipeline(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	return beamx.RunWithMetrics(ctx, p)
}

// beamMetrics flattens the pipeline's jpegrestore counters and distributions for summary.json,
// summed over the steps that report them.
func beamMetrics(res beam.PipelineResult) map[string]any {
	out := map[string]any{}
	if res == nil {
		return out
	}
	all := res.Metrics().AllMetrics()
	counts := map[string]int64{}
	for _, c := range all.Counters() {
		if c.Namespace() == "jpegrestore" {
			counts[c.Name()] += c.Result()
		}
	}
	dists := map[string]metrics.DistributionValue{}
	for _, d := range all.Distributions() {
		if d.Namespace() != "jpegrestore" {
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

// finish completes a report folder after the pipeline: it reads the summary the pipeline wrote
// (an empty one when nothing matched), adds the job's meta, makes sure every report file exists,
// renders before/after crops of the examples, and writes summary.json and report.html.
func finish(ctx context.Context, root string, meta map[string]any, withExamples bool) (*report.Summary, error) {
	s := report.NewAccumulator()
	b, err := storage.ReadFile(ctx, storage.Join(root, pipeline.SummaryFile))
	switch {
	case err == nil:
		if s, err = report.DecodeSummary(b); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	s.Meta = meta
	if err := mergeShards(ctx, root); err != nil {
		return nil, err
	}
	var examples []report.Example
	if withExamples {
		examples = loadExamples(ctx, root)
	}
	enc, err := report.EncodeSummary(s)
	if err != nil {
		return nil, err
	}
	if err := storage.WriteFile(ctx, storage.Join(root, pipeline.SummaryFile), enc); err != nil {
		return nil, err
	}
	var html bytes.Buffer
	if err := report.WriteHTML(&html, s, examples); err != nil {
		return nil, err
	}
	return s, storage.WriteFile(ctx, storage.Join(root, pipeline.HTMLFile), html.Bytes())
}

// loadExamples reads the records the pipeline picked and crops the same region of each input and
// output. An example whose files cannot be read is left out of the page (the report says so in
// its caption count); it never fails the job.
func loadExamples(ctx context.Context, root string) []report.Example {
	b, err := storage.ReadFile(ctx, storage.Join(root, pipeline.ExamplesFile))
	if err != nil {
		return nil
	}
	var top report.TopN
	if err := json.Unmarshal(b, &top); err != nil {
		return nil
	}
	var out []report.Example
	for _, sel := range []struct {
		caption string
		recs    []report.Record
	}{{"most changed", top.Most}, {"least changed", top.Least}} {
		for _, r := range sel.recs {
			ex, err := crops(ctx, r)
			if err != nil {
				continue
			}
			ex.Caption = fmt.Sprintf("%s: %s, QF %d, route %s", sel.caption, r.Rel, r.QF, r.Route)
			out = append(out, ex)
		}
	}
	return out
}

// mergeShards streams the record shards the pipeline left under root into records.jsonl and
// failures.jsonl, dropping lines a retried bundle wrote twice (by input URI), and deletes the
// shards. Memory grows only by 8 bytes of hash per input.
func mergeShards(ctx context.Context, root string) error {
	var shards []string
	dir := storage.Join(root, pipeline.ShardsDir)
	err := storage.Match(ctx, dir, func(o storage.Object) error {
		shards = append(shards, o.URI)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	records, err := storage.Create(ctx, storage.Join(root, pipeline.RecordsFile))
	if err != nil {
		return err
	}
	failures, err := storage.Create(ctx, storage.Join(root, pipeline.FailuresFile))
	if err != nil {
		records.Abort()
		return err
	}
	seen := map[uint64]bool{}
	merge := func(uri string) error {
		r, err := storage.Open(ctx, uri)
		if err != nil {
			return err
		}
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var head struct{ URI, Status string }
			if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
				return fmt.Errorf("record shard %s: %w", uri, err)
			}
			h := fnv.New64a()
			h.Write([]byte(head.URI))
			if k := h.Sum64(); seen[k] {
				continue
			} else {
				seen[k] = true
			}
			records.Write(sc.Bytes())
			records.WriteByte('\n')
			if head.Status == report.StatusFailed {
				failures.Write(sc.Bytes())
				failures.WriteByte('\n')
			}
		}
		return sc.Err()
	}
	for _, sh := range shards {
		if err := merge(sh); err != nil {
			records.Abort()
			failures.Abort()
			return err
		}
	}
	if err := errors.Join(records.Commit(), failures.Commit()); err != nil {
		return err
	}
	for _, sh := range shards {
		if err := storage.Delete(ctx, sh); err != nil {
			return err
		}
	}
	if !storage.IsGCS(dir) {
		os.Remove(dir) // the now empty local folder; GCS has no folders
	}
	return nil
}

// cropSide is the side of the before/after crops, in pixels.
const cropSide = 192

// crops decodes an input and its output (both upright) and cuts the same centre square of each.
func crops(ctx context.Context, r report.Record) (report.Example, error) {
	in, err := storage.ReadFile(ctx, r.URI)
	if err != nil {
		return report.Example{}, err
	}
	d, err := jpeg.Decode(in, jpeg.DecodeOptions{ApplyOrientation: true})
	if err != nil {
		return report.Example{}, err
	}
	ob, err := storage.ReadFile(ctx, r.Output)
	if err != nil {
		return report.Example{}, err
	}
	var after pix.Image
	if od, err := jpeg.Decode(ob, jpeg.DecodeOptions{}); err == nil {
		after = od.Image
	} else {
		m, _, err := image.Decode(bytes.NewReader(ob))
		if err != nil {
			return report.Example{}, err
		}
		after = pix.FromStd(m)
	}
	if !pix.SameShape(d.Image, after) {
		return report.Example{}, fmt.Errorf("input %dx%d and output %dx%d differ", d.Image.W, d.Image.H, after.W, after.H)
	}
	before, err := cropPNG(d.Image)
	if err != nil {
		return report.Example{}, err
	}
	afterPNG, err := cropPNG(after)
	if err != nil {
		return report.Example{}, err
	}
	return report.Example{Rel: r.Rel, Before: before, After: afterPNG, NRBefore: r.NRBefore, NRAfter: r.NRAfter}, nil
}

func cropPNG(m pix.Image) ([]byte, error) {
	w, h := min(cropSide, m.W), min(cropSide, m.H)
	x0, y0 := (m.W-w)/2, (m.H-h)/2
	c := pix.New(w, h, m.C)
	for y := 0; y < h; y++ {
		copy(c.Pix[y*w*m.C:(y+1)*w*m.C], m.Pix[((y0+y)*m.W+x0)*m.C:])
	}
	return jpeg.EncodePNG(c, jpeg.Metadata{}, png.DefaultCompression)
}
