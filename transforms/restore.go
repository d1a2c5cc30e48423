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
}

func (f *restoreFn) Setup() error {
	m, err := sharedModels(f.Config.ORTLib, f.Config.Models)
	f.models = m
	return err
}

func (f *restoreFn) ProcessElement(ctx context.Context, in enhance.Input, emit func(report.Record)) error {
	rec, err := restoreOne(ctx, in, f.Config.Settings, f.models)
	if err != nil {
		return err // transient: the runner retries the bundle
	}
	progress().Done(float64(rec.Width*rec.Height) / 1e6)
	counters.record(ctx, rec)
	emit(rec)
	return nil
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
	out, rec := enhance.Run(ctx, data, plan, set, models)
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
