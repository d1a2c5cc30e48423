package transforms

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/inference"
	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, enhance.Input, func(report.Record), error](&evalFn{})
}

// EvalConfig configures Eval.
type EvalConfig struct {
	// QFs are the quality factors each reference is compressed at.
	QFs     []int               `json:"qfs"`
	Models  enhance.ModelConfig `json:"models"`
	Runtime Runtime             `json:"runtime"`
}

// Eval takes every clean reference image through enhance's eval journey at each QF (compress with
// libjpeg by the NTIRE 2024 / FBCNN protocol, restore, measure) and emits one record per image
// and QF with PSNR, SSIM and PSNR-B before and after. It panics at build time on an empty QF list.
func Eval(s beam.Scope, cfg EvalConfig, refs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Eval")
	if len(cfg.QFs) == 0 {
		panic("transforms.Eval: no quality factors")
	}
	return beam.ParDo(s, &evalFn{Config: cfg}, refs)
}

type evalFn struct {
	Config EvalConfig `json:"config"`

	// load runs the models; nil means the ORT pools of Config.Runtime. Tests set a pure-Go one.
	load    inference.Loader
	journey *enhance.Journey
	win     window[report.Record]
}

func (f *evalFn) Setup() error {
	models := enhance.NewModels(f.Config.Models, loader(f.load, f.Config.Runtime))
	f.journey = &enhance.Journey{Models: models, Store: storage.Store{}}
	_, err := models.Preload(enhance.EvalRoutes)
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
	ref, rec, err := f.journey.Reference(ctx, in)
	if err != nil {
		return err
	}
	if ref == nil {
		emitRec(rec)
		return nil
	}
	work := context.WithoutCancel(ctx)
	for _, qf := range f.Config.QFs {
		err := f.win.submit(func() (report.Record, error) { return f.journey.EvalAt(work, ref, qf), nil }, emitRec)
		if err != nil {
			return err
		}
	}
	return nil
}
