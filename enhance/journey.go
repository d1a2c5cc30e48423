package enhance

import (
	"context"
	"time"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
)

// Store is where a journey reads inputs and writes outputs: storage.Store (local files and
// gs:// objects) in the product; tests wrap it to inject faults.
type Store interface {
	ReadFile(ctx context.Context, uri string) ([]byte, error)
	ReadHead(ctx context.Context, uri string, n int64) ([]byte, error)
	WriteFile(ctx context.Context, uri string, data []byte) error
}

// Journey takes the inputs of one job through their steps. Each method handles one input from
// start to end and returns its record: restored (or surveyed, probed), skipped with a reason, or
// failed with the stage and the reason. Storage faults are retried by package storage and
// counted in the record; a read or write that still fails is a failed record like any other.
// The error result is for the job, not the input: the output has become unusable (see
// ErrSinkUnusable), and the caller must stop. A Journey is safe for concurrent use.
type Journey struct {
	Settings Settings
	// Models restores; nil for jobs that restore nothing (survey, probe).
	Models *Models
	Store  Store
	// Budget bounds the pixels being decoded, restored and encoded at once; nil bounds nothing.
	Budget *Budget
	// Sink counts the writes that failed in a row; nil: the journey counts its own.
	Sink *SinkGuard

	ownSink SinkGuard
}

// run starts the record of in and takes it through steps, which fill it; it ends the record with
// the steps' outcome and counts the storage retries they met.
func (j *Journey) run(ctx context.Context, in Input, steps func(ctx context.Context, rec *report.Record) error) (report.Record, error) {
	ctx, retries := storage.CountRetries(ctx)
	rec := NewRecord(in)
	err := steps(ctx, &rec)
	rec.Retries = retries.Counts()
	if err != nil {
		return end(rec, err)
	}
	return rec, nil
}

// Restore takes one input through name → read → probe → route → resume check → decode → restore →
// encode → write, measuring its no-reference quality before and after restoring. An input whose
// output is already complete (same tag) is skipped as done, without decoding; one routed to a
// passthrough band is copied with its tag (JPEG output) or converted (PNG) and skipped as
// passthrough.
func (j *Journey) Restore(ctx context.Context, in Input) (report.Record, error) {
	return j.run(ctx, in, func(ctx context.Context, rec *report.Record) error {
		if err := j.name(rec, in); err != nil {
			return err
		}
		data, p, err := j.readProbe(ctx, rec, in)
		if err != nil {
			return err
		}
		r, rm, err := j.route(rec, p)
		if err != nil {
			return err
		}
		var set *Setting
		if rm != nil {
			set = &rm.Setting
		}
		rec.InputSHA256 = contentHash(data)
		rec.Tag = TagFor(rec.InputSHA256, set, j.Settings)
		if err := j.resume(ctx, rec, in); err != nil {
			return err
		}
		var out []byte
		if r.Passthrough && j.Settings.Format == FormatJPEG {
			// The original bytes with the tag inserted: lossless, nothing decoded.
			out, err = jpeg.InsertTag(data, rec.Tag)
			err = failIf(report.StageEncode, report.ReasonEncodeFailed, err)
		} else {
			release := j.Budget.Acquire(int64(rec.Width) * int64(rec.Height))
			out, err = j.convert(ctx, rec, data, p, rm)
			release()
		}
		if err != nil {
			return err
		}
		if err := j.write(ctx, rec, out); err != nil {
			return err
		}
		if r.Passthrough {
			rec.Status, rec.Reason = report.StatusSkipped, report.ReasonPassthrough
		} else {
			rec.Status = report.StatusRestored
		}
		rec.Run = j.Settings.Run
		return nil
	})
}

// convert decodes, restores (rm nil: passes through) and encodes a probed input, measuring its
// no-reference quality before and after.
func (j *Journey) convert(ctx context.Context, rec *report.Record, data []byte, p *Probed, rm *RouteModel) ([]byte, error) {
	img, err := decode(rec, data, p, j.Settings)
	if err != nil {
		return nil, err
	}
	rec.NRBefore, rec.BlockinessBefore = measureNR(rec, img)
	if rm != nil {
		decoded := img
		if img, err = restore(ctx, rec, rm, img, p.Info); err != nil {
			return nil, err
		}
		project(rec, rm.Setting, decoded, img, data, p.Info)
		rec.NRAfter, rec.BlockinessAfter = measureNR(rec, img)
	} else {
		rec.NRAfter, rec.BlockinessAfter = rec.NRBefore, rec.BlockinessBefore
	}
	return encode(rec, img, p.Info, j.Settings)
}

// Survey takes one input through read → probe → decode → measure: its quality factor, the route
// a restore would send it to (with Settings.Routes) and its no-reference score, with nothing
// restored or written ("how bad is this bucket?").
func (j *Journey) Survey(ctx context.Context, in Input) (report.Record, error) {
	return j.run(ctx, in, func(ctx context.Context, rec *report.Record) error {
		data, p, err := j.readProbe(ctx, rec, in)
		if err != nil {
			return err
		}
		rec.Route = report.RouteSurvey
		if len(j.Settings.Routes) > 0 {
			rec.Route = j.Settings.Routes.Pick(p.Quality.Luma.Quality).Name // the band a restore would take
		}
		img, err := decode(rec, data, p, j.Settings)
		if err != nil {
			return err
		}
		rec.NRBefore, rec.BlockinessBefore = measureNR(rec, img)
		rec.Status = report.StatusSurveyed
		return nil
	})
}

// Probe takes one input through read → probe: its markers and quality factor, nothing decoded.
// p is nil unless the record is probed.
func (j *Journey) Probe(ctx context.Context, in Input) (rec report.Record, p *Probed, err error) {
	rec, err = j.run(ctx, in, func(ctx context.Context, rec *report.Record) error {
		var err error
		if _, p, err = j.readProbe(ctx, rec, in); err != nil {
			return err
		}
		rec.Status = report.StatusProbed
		return nil
	})
	return rec, p, err
}

// EvalRoutes are the routes of an eval job: one, every QF through the job's default model.
var EvalRoutes = route.Routes{{Name: report.RouteEval, MinQF: 1, MaxQF: 100}}

// Reference is a clean image that an eval job compresses at each quality factor.
type Reference struct {
	Input Input
	// Bytes is the size of the reference file.
	Bytes int64
	Image pix.Image
}

// Reference takes a clean reference image through read → decode (libjpeg for a JPEG, the standard
// library for a PNG). When it cannot be used, ref is nil and rec is its final record.
func (j *Journey) Reference(ctx context.Context, in Input) (ref *Reference, rec report.Record, err error) {
	rec, err = j.run(ctx, in, func(ctx context.Context, rec *report.Record) error {
		data, err := j.read(ctx, rec, in)
		if err != nil {
			return err
		}
		img, err := decodeReference(data)
		if err != nil {
			return err
		}
		ref = &Reference{Input: in, Bytes: rec.Bytes, Image: img}
		return nil
	})
	return ref, rec, err
}

// EvalAt takes a reference through the published protocol at one quality factor: compress with
// libjpeg (baseline, IJG tables, 4:2:0: the NTIRE 2024 / FBCNN protocol) → decode → restore →
// measure PSNR, SSIM and PSNR-B of the compressed and of the restored image against the
// reference, and their no-reference scores.
func (j *Journey) EvalAt(ctx context.Context, ref *Reference, qf int) report.Record {
	rec := NewRecord(ref.Input)
	rec.Bytes, rec.Route, rec.QF, rec.Width, rec.Height = ref.Bytes, report.RouteEval, qf, ref.Image.W, ref.Image.H
	compressed, err := jpeg.EncodeJPEG(ref.Image, jpeg.EncodeOptions{Quality: qf, Subsampling: jpeg.Sub420})
	if err != nil {
		return ended(rec, fail(report.StageEncode, report.ReasonEncodeFailed, err))
	}
	d, err := jpeg.Decode(compressed, jpeg.DecodeOptions{})
	if err != nil {
		return ended(rec, fail(report.StageDecode, report.ReasonCorrupt, err))
	}
	rm, err := j.model(&rec, EvalRoutes[0])
	if err != nil {
		return ended(rec, err)
	}
	out, err := restore(ctx, &rec, rm, d.Image, d.Info)
	if err != nil {
		return ended(rec, err)
	}
	project(&rec, rm.Setting, d.Image, out, compressed, d.Info)
	t := time.Now()
	err = measureRef(&rec, ref.Image, d.Image, out)
	rec.Timings[report.StageMeasure] = since(t)
	if err != nil {
		return ended(rec, fail(report.StageMeasure, report.ReasonMeasure, err))
	}
	rec.Status = report.StatusRestored
	return rec
}
