package transforms

import (
	"context"
	"errors"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/jpeg"
	"jpegrestore/quality"
	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, enhance.Input, func(report.Record), error](&surveyFn{})
}

// SurveyConfig configures Survey.
type SurveyConfig struct {
	Limits jpeg.Limits   `json:"limits"`
	CMYK   jpeg.CMYKMode `json:"cmyk"`
}

// Survey reads each input, estimates its quality factor from the quantization tables, decodes it
// and scores it without a reference (no restoring): "how bad is this bucket?". Surveyed images
// get status report.StatusSurveyed.
func Survey(s beam.Scope, cfg SurveyConfig, inputs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Survey")
	return beam.ParDo(s, &surveyFn{Config: cfg}, inputs)
}

type surveyFn struct {
	Config SurveyConfig `json:"config"`
}

func (f *surveyFn) ProcessElement(ctx context.Context, in enhance.Input, emit func(report.Record)) error {
	rec, err := surveyOne(ctx, in, f.Config)
	if err != nil {
		return err
	}
	progress().Done(float64(rec.Width*rec.Height) / 1e6)
	counters.record(ctx, rec)
	emit(rec)
	return nil
}

func surveyOne(ctx context.Context, in enhance.Input, cfg SurveyConfig) (report.Record, error) {
	t := time.Now()
	data, err := storage.ReadFile(ctx, in.URI)
	if err != nil {
		if storage.Transient(err) {
			return report.Record{}, err
		}
		return enhance.Fail(enhance.NewRecord(in, 0), "read", "read", err), nil
	}
	rec := enhance.NewRecord(in, len(data))
	rec.Timings["read"] = time.Since(t).Seconds()
	t = time.Now()
	info, err := jpeg.Parse(data, cfg.Limits)
	rec.Timings["probe"] = time.Since(t).Seconds()
	if err != nil {
		if errors.Is(err, jpeg.ErrNotJPEG) {
			rec.Status, rec.Reason, rec.Error = report.StatusSkipped, report.ReasonNotJPEG, err.Error()
			return rec, nil
		}
		return enhance.Fail(rec, "probe", "corrupt", err), nil
	}
	q := jpeg.EstimateFileQuality(info)
	rec.Width, rec.Height = info.Width, info.Height
	rec.QF, rec.Confidence, rec.Route = q.Luma.Quality, string(q.Luma.Confidence), "survey"
	if q.Chroma != nil {
		rec.QFChroma = q.Chroma.Quality
	}
	t = time.Now()
	d, err := jpeg.DecodeParsed(data, info, jpeg.DecodeOptions{Limits: cfg.Limits, CMYK: cfg.CMYK})
	rec.Timings["decode"] = time.Since(t).Seconds()
	if err != nil {
		return enhance.Fail(rec, "decode", "corrupt", err), nil
	}
	t = time.Now()
	if r, err := quality.NoReference(d.Image); err == nil {
		rec.NRBefore, rec.BlockinessBefore = r.Score.S, r.Blockiness
	}
	rec.Timings["measure"] = time.Since(t).Seconds()
	rec.Status = report.StatusSurveyed
	return rec, nil
}
