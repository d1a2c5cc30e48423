package transforms

import (
	"context"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/inference"
	"jpegrestore/oip"
	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, enhance.Input, func(report.Record), error](&restoreFn{})
	register.Emitter1[report.Record]()
}

// Runtime is how a worker runs models: the ONNX Runtime library and the pool options, or the
// Open Inference Protocol servers that run them (Workers). It travels
// in the serialized config of the DoFns that restore, so a worker in another process, started
// from another folder without the launcher's environment, finds the library by the rule of
// gpuworker.LibraryPath: ORTLib, else $JPEGRESTORE_ORT_LIB there, else ORTLibFound if that file
// exists there, else the usual places.
type Runtime struct {
	// ORTLib is the ONNX Runtime library given by --ort-lib ("" to search).
	ORTLib string `json:"ort_lib"`
	// ORTLibFound is the library the launcher found (WithFound).
	ORTLibFound string            `json:"ort_lib_found,omitempty"`
	Pool        gpuworker.Options `json:"pool"`
	// Workers, when set, are the HOST:PORT of servers (jpegrestore serve) that run the models in
	// place of this process's pools (--workers); Remote says how tiles are sent to them.
	Workers []string          `json:"workers,omitempty"`
	Remote  oip.ClientOptions `json:"remote,omitempty"`
}

// Loader returns the loader that runs models in this process's ORT pools, or on the Workers.
func (r Runtime) Loader() inference.Loader {
	if len(r.Workers) > 0 {
		return oip.Loader(r.Workers, r.Remote)
	}
	return gpuworker.Loader(r.ORTLib, r.Pool, r.ORTLibFound)
}

// WithFound returns the runtime with the library this process finds recorded in it, for workers
// that run elsewhere.
func (r Runtime) WithFound() Runtime {
	if p, err := gpuworker.LibraryPath(r.ORTLib); err == nil {
		r.ORTLibFound = p
	}
	return r
}

// RestoreConfig is what every restoring worker needs; it is serialized into the DoFn.
type RestoreConfig struct {
	Settings enhance.Settings    `json:"settings"`
	Models   enhance.ModelConfig `json:"models"`
	Runtime  Runtime             `json:"runtime"`
}

// Restore takes every input through enhance's restore journey and returns one record per input:
// restored, skipped (already done, passthrough, not a JPEG) or failed (stage and reason). It
// panics at build time on an invalid config.
func Restore(s beam.Scope, cfg RestoreConfig, inputs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Restore")
	if err := cfg.Settings.Validate(); err != nil {
		panic("transforms.Restore: " + err.Error())
	}
	return beam.ParDo(s, &restoreFn{Config: cfg}, inputs)
}

type restoreFn struct {
	Config RestoreConfig `json:"config"`

	// load runs the models; nil means the ORT pools of Config.Runtime. Tests set a pure-Go one.
	load    inference.Loader
	journey *enhance.Journey
	win     window[report.Record]
}

// inFlightPerBundle is how many inputs one bundle keeps in flight: while one decodes or encodes,
// another's tiles keep the model busy.
const inFlightPerBundle = 3

// pixels bounds the pixels being restored at once in this process, over every bundle: 16 Mi,
// two 8 MP photos. Restoring four photos of 4–8 MP (scripts/make_photoset.py), a budget of 16
// rather than 64 took 1.44–1.50 GB instead of 1.64–1.69 with best, 1.36–1.52 instead of
// 1.59–1.80 with fast, in the same time (models/best.md, Memory).
var pixels = enhance.NewBudget(16 << 20)

// sinks counts the failed writes in a row per output root, over every bundle of the process.
var sinks = struct {
	sync.Mutex
	m map[string]*enhance.SinkGuard
}{m: map[string]*enhance.SinkGuard{}}

func sinkFor(out string) *enhance.SinkGuard {
	sinks.Lock()
	defer sinks.Unlock()
	g := sinks.m[out]
	if g == nil {
		g = new(enhance.SinkGuard)
		sinks.m[out] = g
	}
	return g
}

// Setup builds the journey and loads the routes' models, so a worker that cannot run them fails
// here rather than on every input. The models come from the process-wide pools: with Prism
// in-process, the ones the launcher loaded.
func (f *restoreFn) Setup() error {
	models := enhance.NewModels(f.Config.Models, loader(f.load, f.Config.Runtime))
	f.journey = &enhance.Journey{Settings: f.Config.Settings, Models: models, Store: storage.Store{}, Budget: pixels,
		Sink: sinkFor(f.Config.Settings.Out)}
	_, err := models.Preload(f.Config.Settings.Routes)
	return err
}

func (f *restoreFn) StartBundle(ctx context.Context, emit func(report.Record)) {
	f.win.reset(inFlightPerBundle)
}

// ProcessElement starts the input and emits the records of the inputs that have finished. An
// output that has become unusable (enhance.ErrSinkUnusable) fails the bundle, and so the job.
func (f *restoreFn) ProcessElement(ctx context.Context, in enhance.Input, emit func(report.Record)) error {
	work := context.WithoutCancel(ctx) // it may outlive this call, up to FinishBundle
	return f.win.submit(func() (report.Record, error) { return f.journey.Restore(work, in) }, recordEmitter(ctx, emit))
}

func (f *restoreFn) FinishBundle(ctx context.Context, emit func(report.Record)) error {
	return f.win.flush(recordEmitter(ctx, emit))
}

// loader returns load, or the ORT loader of rt when load is nil.
func loader(load inference.Loader, rt Runtime) inference.Loader {
	if load != nil {
		return load
	}
	return rt.Loader()
}

// recordEmitter counts a finished record in the progress line and the Beam metrics, and emits it.
func recordEmitter(ctx context.Context, emit func(report.Record)) func(report.Record) {
	return func(rec report.Record) {
		mp := 0.0
		if rec.Status == report.StatusRestored {
			mp = rec.Megapixels()
		}
		progress().Done(mp)
		counters.record(ctx, rec)
		emit(rec)
	}
}
