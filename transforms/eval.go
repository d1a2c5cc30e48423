package transforms

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png" // references are PNG or JPEG
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/quality"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, enhance.Input, func(report.Record), error](&evalFn{})
}

// EvalConfig configures Eval.
type EvalConfig struct {
	// QFs are the quality factors each reference is compressed at.
	QFs    []int               `json:"qfs"`
	Models enhance.ModelConfig `json:"models"`
	ORTLib string              `json:"ort_lib"`
}

// EvalRoute is the route name of eval records.
const EvalRoute = "eval"

// Eval compresses every clean reference image with libjpeg at each QF (baseline, IJG tables, 4:2:0:
// the NTIRE 2024 / FBCNN protocol, the same bytes Pillow writes), restores it, and emits one
// record per image and QF with PSNR, SSIM and PSNR-B before and after. It panics at build time on
// an empty QF list.
func Eval(s beam.Scope, cfg EvalConfig, refs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Eval")
	if len(cfg.QFs) == 0 {
		panic("transforms.Eval: no quality factors")
	}
	return beam.ParDo(s, &evalFn{Config: cfg}, refs)
}

type evalFn struct {
	Config EvalConfig `json:"config"`

	models *enhance.Models
	win    window[report.Record]
}

func (f *evalFn) Setup() error {
	m, err := sharedModels(f.Config.ORTLib, f.Config.Models)
	f.models = m
	return err
}

func (f *evalFn) StartBundle(ctx context.Context, emit func(report.Record)) {
	f.win.reset(inFlightPerBundle)
}

func (f *evalFn) FinishBundle(ctx context.Context, emit func(report.Record)) error {
	return f.win.flush(recordEmitter(ctx, emit))
}

// ProcessElement reads and decodes one reference, then runs its QFs side by side with the other
// work in flight (see window), emitting the records that have finished.
func (f *evalFn) ProcessElement(ctx context.Context, in enhance.Input, emit func(report.Record)) error {
	emitRec := recordEmitter(ctx, emit)
	data, err := storage.ReadFile(ctx, in.URI)
	if err != nil {
		if storage.Transient(err) {
			return err
		}
		emitRec(enhance.Fail(enhance.NewRecord(in, 0), "read", "read", err))
		return nil
	}
	ref, err := decodeReference(data)
	if err != nil {
		rec := enhance.NewRecord(in, len(data))
		emitRec(enhance.Fail(rec, "decode", "corrupt", err))
		return nil
	}
	work := context.WithoutCancel(ctx)
	for _, qf := range f.Config.QFs {
		err := f.win.submit(func() (report.Record, error) {
			return evalOne(work, enhance.NewRecord(in, len(data)), ref, qf, f.models), nil
		}, emitRec)
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeReference reads a clean image: JPEG through the libjpeg decode, anything else through the
// standard library (PNG).
func decodeReference(data []byte) (pix.Image, error) {
	if len(data) > 2 && data[0] == 0xff && data[1] == 0xd8 {
		d, err := jpeg.Decode(data, jpeg.DecodeOptions{})
		if err != nil {
			return pix.Image{}, err
		}
		return d.Image, nil
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return pix.Image{}, fmt.Errorf("reference image: %w", err)
	}
	return pix.FromStd(m), nil
}

// evalOne compresses ref at qf, restores it and measures both against ref.
func evalOne(ctx context.Context, rec report.Record, ref pix.Image, qf int, models *enhance.Models) report.Record {
	rec.Route, rec.QF, rec.Width, rec.Height = EvalRoute, qf, ref.W, ref.H
	enc, err := jpeg.EncodeJPEG(ref, jpeg.EncodeOptions{Quality: qf, Subsampling: jpeg.Sub420})
	if err != nil {
		return enhance.Fail(rec, "encode", "encode_failed", err)
	}
	d, err := jpeg.Decode(enc, jpeg.DecodeOptions{})
	if err != nil {
		return enhance.Fail(rec, "decode", "corrupt", err)
	}
	r := route.Route{Name: EvalRoute, MinQF: 1, MaxQF: 100}
	rs, man, err := models.Restorer(r)
	if err != nil {
		return enhance.Fail(rec, "enhance", "infer_failed", err)
	}
	_, ens, _ := models.Settings(r)
	rec.Model, rec.ModelSHA256, rec.Ensemble = man.Name, man.SHA256, ens
	var q []float32
	if man.Conditioned() {
		v := jpeg.ModelQTable(d.Info)
		q = v[:]
	}
	t := time.Now()
	out, err := rs.Restore(ctx, d.Image, q)
	rec.Timings["enhance"] = time.Since(t).Seconds()
	if err != nil {
		return enhance.Fail(rec, "enhance", "infer_failed", err)
	}
	if err := setRefMetrics(&rec, ref, d.Image, out); err != nil {
		return enhance.Fail(rec, "measure", "measure_failed", err)
	}
	if s, err := quality.NRScore(d.Image); err == nil {
		rec.NRBefore = s.S
	}
	if s, err := quality.NRScore(out); err == nil {
		rec.NRAfter = s.S
	}
	rec.Status = report.StatusRestored
	return rec
}

// setRefMetrics fills PSNR, SSIM and PSNR-B of the compressed and the restored image against the
// reference (FBCNN's definitions, package quality).
func setRefMetrics(rec *report.Record, ref, before, after pix.Image) error {
	type metric struct {
		f    func(a, b quality.Image) (float64, error)
		b, a **float64
	}
	for _, m := range []metric{
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
	return nil
}
