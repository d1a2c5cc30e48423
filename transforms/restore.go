package transforms

import (
	"context"
	"errors"
	"io/fs"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, enhance.Input, func(report.Record), error](&restoreFn{})
	register.Emitter1[report.Record]()
}

// RestoreConfig is what every restoring worker needs; it is serialized into the DoFn.
type RestoreConfig struct {
	Settings enhance.Settings    `json:"settings"`
	Models   enhance.ModelConfig `json:"models"`
	// ORTLib is the ONNX Runtime library path ("" to search as gpuworker.LibraryPath does).
	ORTLib string `json:"ort_lib"`
}

// Restore reads, probes, routes, restores and writes every input, and returns one record per
// input: restored, skipped (already done, passthrough, not a JPEG) or failed (stage and reason).
// It panics at build time on an invalid config.
func Restore(s beam.Scope, cfg RestoreConfig, inputs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Restore")
	if err := cfg.Settings.Validate(); err != nil {
		panic("transforms.Restore: " + err.Error())
	}
	return beam.ParDo(s, &restoreFn{Config: cfg}, inputs)
}

type restoreFn struct {
	Config RestoreConfig `json:"config"`

	models *enhance.Models
	win    window[report.Record]
}

// inFlightPerBundle is how many inputs one bundle keeps in flight: while one decodes or encodes,
// another's tiles keep the model busy.
const inFlightPerBundle = 3

// pixels bounds the pixels being restored at once in this process (see budget).
var pixels = newBudget(64 << 20)

func (f *restoreFn) Setup() error {
	m, err := sharedModels(f.Config.ORTLib, f.Config.Models)
	f.models = m
	return err
}

func (f *restoreFn) StartBundle(ctx context.Context, emit func(report.Record)) {
	f.win.reset(inFlightPerBundle)
}

// ProcessElement starts the input and emits the records of the inputs that have finished. A
// transient storage fault fails the bundle, and the runner retries it.
func (f *restoreFn) ProcessElement(ctx context.Context, in enhance.Input, emit func(report.Record)) error {
	work := context.WithoutCancel(ctx) // it may outlive this call, up to FinishBundle
	return f.win.submit(func() (report.Record, error) {
		return restoreOne(work, in, f.Config.Settings, f.models)
	}, recordEmitter(ctx, emit))
}

func (f *restoreFn) FinishBundle(ctx context.Context, emit func(report.Record)) error {
	return f.win.flush(recordEmitter(ctx, emit))
}

// recordEmitter counts a finished record in the progress bar and the Beam metrics, and emits it.
func recordEmitter(ctx context.Context, emit func(report.Record)) func(report.Record) {
	return func(rec report.Record) {
		progress().Done(float64(rec.Width*rec.Height) / 1e6)
		counters.record(ctx, rec)
		emit(rec)
	}
}

// restoreOne runs one input end to end. It returns an error only for transient storage faults.
func restoreOne(ctx context.Context, in enhance.Input, set enhance.Settings, models *enhance.Models) (report.Record, error) {
	t := now()
	data, err := storage.ReadFile(ctx, in.URI)
	if err != nil {
		if storage.Transient(err) {
			return report.Record{}, err
		}
		return enhance.Fail(enhance.NewRecord(in, 0), "read", "read", err), nil
	}
	readTime := since(t)
	plan, final, ok := enhance.Prepare(in, data, set, models)
	if !ok {
		final.Timings["read"] = readTime
		return final, nil
	}
	plan.Record.Timings["read"] = readTime
	head, err := storage.ReadHead(ctx, plan.Record.Output, enhance.TagHeadBytes)
	switch {
	case err == nil && enhance.Done(head, plan.Tag):
		return enhance.Skip(plan), nil
	case err != nil && !errors.Is(err, fs.ErrNotExist) && storage.Transient(err):
		return report.Record{}, err
	}
	n := pixels.acquire(int64(plan.Record.Width) * int64(plan.Record.Height))
	out, rec := enhance.Run(ctx, data, plan, set, models)
	pixels.release(n)
	if rec.Status == report.StatusFailed {
		return rec, nil
	}
	t = now()
	if err := storage.WriteFile(ctx, rec.Output, out); err != nil {
		if storage.Transient(err) {
			return report.Record{}, err
		}
		return enhance.Fail(rec, "write", "write_failed", err), nil
	}
	rec.Timings["write"] = since(t)
	return rec, nil
}
