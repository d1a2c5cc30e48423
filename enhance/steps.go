package enhance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png" // also decodes PNG references
	"sync/atomic"
	"time"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/qcs"
	"jpegrestore/quality"
	"jpegrestore/report"
	"jpegrestore/route"
)

// The steps of the journeys. Each fills its part of the record (fields and timing) and returns
// nil, an *outcome (the input ends here: skipped, or failed at the step's stage for a typed
// reason), or ErrSinkUnusable (the job must stop).

// outcome ends an input's journey early.
type outcome struct {
	status report.Status
	stage  report.Stage
	reason report.Reason
	err    error
}

func (o *outcome) Error() string { return fmt.Sprintf("%s at %s: %v", o.reason, o.stage, o.err) }
func (o *outcome) Unwrap() error { return o.err }

// fail ends the journey with a failure at stage: the reason of the jpeg error in err's chain when
// there is one, else fallback.
func fail(stage report.Stage, fallback report.Reason, err error) error {
	return &outcome{status: report.StatusFailed, stage: stage, reason: reasonOf(err, fallback), err: err}
}

// failIf is fail for a non-nil err, else nil.
func failIf(stage report.Stage, fallback report.Reason, err error) error {
	if err == nil {
		return nil
	}
	return fail(stage, fallback, err)
}

// skip ends the journey with a skip; err (may be nil) explains it.
func skip(reason report.Reason, err error) error {
	return &outcome{status: report.StatusSkipped, reason: reason, err: err}
}

// jpegReasons maps the decoder's error kinds to record reasons.
var jpegReasons = map[jpeg.Kind]report.Reason{
	jpeg.KindCorrupt:     report.ReasonCorrupt,
	jpeg.KindTruncated:   report.ReasonTruncated,
	jpeg.KindUnsupported: report.ReasonUnsupported,
	jpeg.KindTooLarge:    report.ReasonTooLarge,
	jpeg.KindNotJPEG:     report.ReasonNotJPEG,
	jpeg.KindEncode:      report.ReasonEncodeFailed,
}

func reasonOf(err error, fallback report.Reason) report.Reason {
	var e *jpeg.Error
	if errors.As(err, &e) {
		if r, ok := jpegReasons[e.Kind]; ok {
			return r
		}
	}
	return fallback
}

// end returns the record of a journey that ended with err: an outcome becomes the record's
// status, stage, reason and error; any other error (ErrSinkUnusable) is the job's, for the caller.
func end(rec report.Record, err error) (report.Record, error) {
	var o *outcome
	if !errors.As(err, &o) {
		return report.Record{}, err
	}
	rec.Status, rec.Stage, rec.Reason = o.status, o.stage, o.reason
	if o.err != nil {
		rec.Error = o.err.Error()
	}
	return rec, nil
}

// ended is end for journeys without storage, whose every error is an outcome.
func ended(rec report.Record, err error) report.Record {
	rec, err = end(rec, err)
	if err != nil {
		rec.Status, rec.Reason, rec.Error = report.StatusFailed, report.ReasonUnknown, err.Error()
	}
	return rec
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// name names the input's output under the output root: its path below the input root with the
// format's extension. A path that could leave the output root, or an output another input of the
// job claimed first, ends the journey before anything is read.
func (j *Journey) name(rec *report.Record, in Input) error {
	if err := CheckRel(rec.Rel); err != nil {
		return fail(report.StageName, report.ReasonUnsafeName, err)
	}
	rec.Format = j.Settings.Format
	rec.Output = OutputURI(j.Settings.Out, rec.Rel, j.Settings.Format)
	if in.OutputTakenBy != "" {
		return fail(report.StageName, report.ReasonOutputTaken,
			fmt.Errorf("%s would be written as %s, which %s gets", rec.Rel, rec.Output, in.OutputTakenBy))
	}
	return nil
}

// read reads the input (the store has retried what a retry may fix).
func (j *Journey) read(ctx context.Context, rec *report.Record, in Input) ([]byte, error) {
	if in.OutsideRoot {
		return nil, fail(report.StageRead, report.ReasonOutsideRoot, fmt.Errorf("%s is a symbolic link to a file outside %s", in.URI, in.Root))
	}
	t := time.Now()
	data, err := j.Store.ReadFile(ctx, rec.URI)
	if err != nil {
		return nil, fail(report.StageRead, report.ReasonReadFailed, err)
	}
	rec.Bytes = int64(len(data))
	rec.Timings[report.StageRead] = since(t)
	return data, nil
}

// readProbe reads the input and probes it: the first steps of every journey over a JPEG.
func (j *Journey) readProbe(ctx context.Context, rec *report.Record, in Input) ([]byte, *Probed, error) {
	data, err := j.read(ctx, rec, in)
	if err != nil {
		return nil, nil, err
	}
	p, err := probe(rec, data, j.Settings.Limits)
	return data, p, err
}

// Probed is what probing learned about an input from its markers: the parsed headers and the
// quality factor estimated from the quantization tables.
type Probed struct {
	Info    *jpeg.Info
	Quality jpeg.Quality
}

// probe parses the markers (no pixel decode), estimates the quality and fills the record's size
// and quality fields. Not a JPEG: skipped.
func probe(rec *report.Record, data []byte, lim jpeg.Limits) (*Probed, error) {
	t := time.Now()
	info, err := jpeg.Parse(data, lim)
	rec.Timings[report.StageProbe] = since(t)
	if errors.Is(err, jpeg.ErrNotJPEG) {
		return nil, skip(report.ReasonNotJPEG, err)
	}
	if err != nil {
		return nil, fail(report.StageProbe, report.ReasonCorrupt, err)
	}
	q := jpeg.EstimateFileQuality(info)
	rec.Width, rec.Height = info.Width, info.Height
	rec.QF, rec.Confidence = q.Luma.Quality, string(q.Luma.Confidence)
	if q.Chroma != nil {
		rec.QFChroma = q.Chroma.Quality
	}
	return &Probed{Info: info, Quality: q}, nil
}

// route picks the input's band by its luma QF and, unless the band passes through, loads the
// band's model (rm is nil for a passthrough band).
func (j *Journey) route(rec *report.Record, p *Probed) (r route.Route, rm *RouteModel, err error) {
	r = j.Settings.Routes.Pick(p.Quality.Luma.Quality)
	rec.Route = r.Name
	if !r.Passthrough {
		rm, err = j.model(rec, r)
	}
	return r, rm, err
}

// model loads a route's model and names it in the record.
func (j *Journey) model(rec *report.Record, r route.Route) (*RouteModel, error) {
	rm, err := j.Models.For(r)
	if err != nil {
		return nil, fail(report.StageEnhance, report.ReasonInferFailed, err)
	}
	rm.Name(rec)
	return rm, nil
}

// resume skips the input as done when its output exists and carries the record's tag. An output
// that is missing, made otherwise or unreadable is redone: writing it again is safe.
func (j *Journey) resume(ctx context.Context, rec *report.Record, in Input) error {
	if in.OutputListed && in.OutputBytes == 0 {
		return nil // the listing showed no output
	}
	head, err := j.Store.ReadHead(ctx, rec.Output, TagHeadBytes)
	if err == nil && Done(head, rec.Tag) {
		rec.OutputBytes = in.OutputBytes
		var prev report.Record
		if in.Previous != "" && json.Unmarshal([]byte(in.Previous), &prev) == nil && prev.Tag == rec.Tag {
			keepNumbers(rec, prev)
		}
		return skip(report.ReasonDone, nil)
	}
	return nil
}

// decode decodes a probed input exactly as libjpeg does.
func decode(rec *report.Record, data []byte, p *Probed, s Settings) (pix.Image, error) {
	t := time.Now()
	d, err := jpeg.DecodeParsed(data, p.Info, jpeg.DecodeOptions{Limits: s.Limits, CMYK: s.CMYK})
	rec.Timings[report.StageDecode] = since(t)
	if err != nil {
		return pix.Image{}, fail(report.StageDecode, report.ReasonCorrupt, err)
	}
	return d.Image, nil
}

// decodeReference decodes a clean reference image (decodeImage), failing the record.
func decodeReference(data []byte) (pix.Image, error) {
	m, err := decodeImage(data)
	if err != nil {
		return pix.Image{}, fail(report.StageDecode, report.ReasonCorrupt, fmt.Errorf("reference image: %w", err))
	}
	return m, nil
}

// decodeImage decodes a JPEG through the libjpeg decode (as stored, no orientation applied) and
// anything else (PNG) through the standard library.
func decodeImage(data []byte) (pix.Image, error) {
	if len(data) > 2 && data[0] == 0xff && data[1] == 0xd8 {
		d, err := jpeg.Decode(data, jpeg.DecodeOptions{})
		return d.Image, err
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return pix.Image{}, err
	}
	return pix.FromStd(m), nil
}

// restore runs the route's model on the image, conditioned on the file's quantization tables
// when the model takes them.
func restore(ctx context.Context, rec *report.Record, rm *RouteModel, img pix.Image, info *jpeg.Info) (pix.Image, error) {
	var q []float32
	if rm.Manifest.Conditioned() {
		v := jpeg.ModelQTable(info)
		q = v[:]
	}
	t := time.Now()
	out, err := rm.Restore(ctx, img, q)
	rec.Timings[report.StageEnhance] = since(t)
	switch {
	case err != nil && ctx.Err() != nil:
		return pix.Image{}, fail(report.StageEnhance, report.ReasonCancelled, err)
	case err != nil:
		return pix.Image{}, fail(report.StageEnhance, report.ReasonInferFailed, err)
	}
	return out, nil
}

// SingleQCS is the alpha of the DCT projection (package qcs) for files compressed once: of 0.35,
// 0.4, 0.45 and 0.5 the best for best at QF 10..70 on training images, and within 0.001 dB of the
// best for fast. It is not the default: on re-saved JPEGs the projection costs more than it gains
// on single ones (models/fast.md, Projection).
const SingleQCS = 0.4

// project finishes a restored image with the DCT projection onto what its file says (package
// qcs), when the route's setting asks for it, and adds the time to the enhance stage. A file it
// cannot project (CMYK or YCCK, odd sampling factors), or, with QCSAuto, one that shows an earlier
// compression (decoded: the image as decoded), keeps the model's output, and its record says why
// (QCSSkipped).
func project(rec *report.Record, set Setting, decoded, img pix.Image, data []byte, info *jpeg.Info) {
	if set.QCS == 0 {
		return
	}
	t := time.Now()
	defer func() { rec.Timings[report.StageEnhance] += since(t) }()
	c, err := jpeg.ReadCoefficients(data, info)
	if err == nil && set.QCSAuto {
		if score := qcs.DoubleQuantized(c); score > qcs.DoubleQuantizedAbove {
			rec.QCSSkipped = fmt.Sprintf("re-saved: its coefficients were quantized twice (score %.3f over %g)", score, qcs.DoubleQuantizedAbove)
			return
		}
		if score := qcs.ShiftedGrid(decoded); score > qcs.ShiftedGridAbove {
			rec.QCSSkipped = fmt.Sprintf("re-saved: it shows an earlier compression on another grid (score %.3f over %g)", score, qcs.ShiftedGridAbove)
			return
		}
	}
	moved := 0
	if err == nil {
		moved, err = qcs.Project(img, c, set.QCS)
	}
	if err != nil {
		rec.QCSSkipped = err.Error()
		return
	}
	rec.QCS, rec.QCSMoved = set.QCS, moved
}

// measureNR returns the no-reference JPEG quality score and the blockiness of an image, or zeros
// for images too small to score, and adds the time to the record's measure stage.
func measureNR(rec *report.Record, img pix.Image) (score, blockiness float64) {
	t := time.Now()
	defer func() { rec.Timings[report.StageMeasure] += since(t) }()
	r, err := quality.NoReference(img)
	if err != nil {
		return 0, 0
	}
	return r.Score.S, r.Blockiness
}

// measureRef fills PSNR, SSIM and PSNR-B of the compressed and of the restored image against the
// reference (FBCNN's definitions, package quality), and the no-reference scores of both.
func measureRef(rec *report.Record, ref, before, after pix.Image) error {
	for _, m := range []struct {
		f    func(a, b quality.Image) (float64, error)
		b, a **float64
	}{
		{quality.PSNR, &rec.PSNRBefore, &rec.PSNRAfter},
		{quality.SSIM, &rec.SSIMBefore, &rec.SSIMAfter},
		{quality.PSNRB, &rec.PSNRBBefore, &rec.PSNRBAfter},
	} {
		vb, err := m.f(ref, before)
		if err != nil {
			return err
		}
		va, err := m.f(ref, after)
		if err != nil {
			return err
		}
		*m.b, *m.a = report.Float(vb), report.Float(va)
	}
	if s, err := quality.NRScore(before); err == nil {
		rec.NRBefore = s.S
	}
	if s, err := quality.NRScore(after); err == nil {
		rec.NRAfter = s.S
	}
	return nil
}

// encode writes the image as the output format with the input's ICC profile and EXIF and the
// output tag (rec.Tag). The image is restored in the stored orientation (the block grid is anchored there);
// here it is turned upright, and the EXIF says so.
func encode(rec *report.Record, img pix.Image, info *jpeg.Info, s Settings) ([]byte, error) {
	md := jpeg.Metadata{ICC: info.ICC, Tag: rec.Tag}
	if info.EXIF != nil {
		md.EXIF = info.EXIF
		if info.Orientation > 1 {
			img = jpeg.Orient(img, info.Orientation)
			md.EXIF = jpeg.EXIFWithOrientation(info.EXIF, 1)
		}
	}
	t := time.Now()
	var out []byte
	var err error
	if s.Format == FormatJPEG {
		out, err = jpeg.EncodeJPEG(img, jpeg.EncodeOptions{Quality: s.JPEGQuality, Subsampling: jpeg.Sub444, Metadata: md})
	} else {
		out, err = jpeg.EncodePNG(img, md, png.BestSpeed)
	}
	rec.Timings[report.StageEncode] = since(t)
	return out, failIf(report.StageEncode, report.ReasonEncodeFailed, err)
}

// SinkFailureLimit is how many writes in a row may fail (after their retries) before a journey
// calls its output unusable.
const SinkFailureLimit = 10

// ErrSinkUnusable says that the output cannot take writes any more (the bucket is gone, the
// permission was revoked, the disk is full): a job that meets it stops rather than churn
// through its inputs marking each failed. What was written stays written.
var ErrSinkUnusable = errors.New("jpegrestore: the output is unusable")

// SinkGuard counts the writes to one output root that failed in a row, over every journey that
// shares it (all of a process's, with transforms). The zero value is ready to use.
type SinkGuard struct{ failures atomic.Int64 }

// write writes the output atomically (the store has retried what a retry may fix). A failure
// fails the input; SinkFailureLimit failures in a row make the output unusable.
func (j *Journey) write(ctx context.Context, rec *report.Record, out []byte) error {
	sink := j.Sink
	if sink == nil {
		sink = &j.ownSink
	}
	t := time.Now()
	if err := j.Store.WriteFile(ctx, rec.Output, out); err != nil {
		if n := sink.failures.Add(1); n >= SinkFailureLimit {
			return fmt.Errorf("%w: %d writes in a row failed, the last: %v", ErrSinkUnusable, n, err)
		}
		return fail(report.StageWrite, report.ReasonWriteFailed, err)
	}
	sink.failures.Store(0)
	rec.Timings[report.StageWrite] = since(t)
	rec.OutputBytes = int64(len(out))
	return nil
}
