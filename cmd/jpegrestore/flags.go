package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/jpeg"
	"jpegrestore/route"
	"jpegrestore/transforms"
)

// listFlag is a repeatable string flag (--in A --in B).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// intsFlag is a comma-separated list of integers (--qf 10,20,30).
type intsFlag []int

func (l *intsFlag) String() string {
	var s []string
	for _, v := range *l {
		s = append(s, strconv.Itoa(v))
	}
	return strings.Join(s, ",")
}

func (l *intsFlag) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not an integer", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// runnerFlags are the Beam settings every job takes; they are copied onto Beam's own global flags.
type runnerFlags struct {
	runner, endpoint, environment string
}

func (r *runnerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.runner, "runner", "", "Beam runner: prism (default, in-process), universal, dataflow, flink, spark")
	fs.StringVar(&r.endpoint, "endpoint", "", "job service endpoint for --runner=universal|flink|spark (host:port)")
	fs.StringVar(&r.environment, "environment_type", "", "SDK harness environment (LOOPBACK, DOCKER, PROCESS); universal defaults to LOOPBACK")
}

// apply copies the settings onto Beam's flags (registered on flag.CommandLine by the SDK).
func (r *runnerFlags) apply() error {
	env := r.environment
	if env == "" && r.runner == "universal" {
		env = "LOOPBACK"
	}
	for name, v := range map[string]string{"runner": r.runner, "endpoint": r.endpoint, "environment_type": env} {
		if v == "" {
			continue
		}
		if err := flag.CommandLine.Set(name, v); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil
}

// modelFlags choose and run the model.
type modelFlags struct {
	preset, model, modelsDir, device, ortLib string
	ensemble, tile, sessions, threads, batch int
	maxWait                                  time.Duration
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.preset, "preset", "fast", "shipped model: "+strings.Join(enhance.Presets, " or "))
	fs.StringVar(&m.model, "model", "", "model manifest (.json) or .onnx with its manifest beside it; overrides --preset")
	fs.StringVar(&m.modelsDir, "models", "", "folder of the shipped models (default: models/ of the checkout or beside the binary, or $"+enhance.ModelsDirEnv+")")
	fs.StringVar(&m.device, "device", "cpu", "cpu, cuda:N, or auto (CUDA when available, else CPU)")
	fs.StringVar(&m.ortLib, "ort-lib", "", "ONNX Runtime shared library (default $"+gpuworker.EnvLibrary+", then .deps/onnxruntime/)")
	fs.IntVar(&m.ensemble, "ensemble", 0, "self-ensemble size 1, 2, 4 or 8 for routes that set none (default 1)")
	fs.IntVar(&m.tile, "tile", 0, "tile side in pixels, a multiple of 16 (default 512, larger for models whose overlap would dominate it: 1024 for fast, 1376 for best)")
	fs.IntVar(&m.sessions, "sessions", 0, "model sessions run side by side (default on the CPU: cores/threads, or min(cores, 4); 1 on CUDA)")
	fs.IntVar(&m.threads, "threads", 0, "CPU threads per model session (default: cores/sessions)")
	fs.IntVar(&m.batch, "batch", 0, "most tiles per model run (default 1 on the CPU, 4 on CUDA)")
	fs.DurationVar(&m.maxWait, "batch-wait", 0, "longest a partial batch waits for more tiles (default none on the CPU, 2ms on CUDA)")
}

// config returns which models restore and how, and how a worker runs them.
func (m *modelFlags) config() (enhance.ModelConfig, transforms.Runtime) {
	def := m.preset
	if m.model != "" {
		def = m.model
	}
	return enhance.ModelConfig{Default: def, Dir: m.modelsDir, Ensemble: m.ensemble, Tile: m.tile},
		transforms.Runtime{ORTLib: m.ortLib, Pool: gpuworker.Options{Device: gpuworker.Device(m.device),
			Sessions: m.sessions, Threads: m.threads, MaxBatch: m.batch, MaxWait: m.maxWait}}
}

// outputFlags shape the restored files.
type outputFlags struct {
	format, routes, cmyk string
	jpegQuality          int
	maxPixels            int64
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "png", "output format: png (lossless) or jpeg")
	fs.IntVar(&o.jpegQuality, "jpeg-quality", 95, "quality of --format jpeg outputs (4:4:4)")
	fs.StringVar(&o.routes, "routes", route.Default().String(), "QF bands: NAME=LO-HI[:ensemble=N][:tile=N][:model=M][:passthrough],...")
	fs.StringVar(&o.cmyk, "cmyk", "auto", "CMYK/YCCK to RGB: auto (Adobe-inverted when an Adobe segment says so), inverted, plain")
	fs.Int64Var(&o.maxPixels, "max-pixels", jpeg.DefaultMaxPixels, "refuse images above this many pixels before decoding")
}

func (o *outputFlags) settings(out string) (enhance.Settings, error) {
	rs, err := route.Parse(o.routes)
	if err != nil {
		return enhance.Settings{}, err
	}
	modes := map[string]jpeg.CMYKMode{"auto": jpeg.CMYKAuto, "inverted": jpeg.CMYKInverted, "plain": jpeg.CMYKPlain}
	mode, ok := modes[o.cmyk]
	if !ok {
		return enhance.Settings{}, fmt.Errorf("--cmyk %q: want auto, inverted or plain", o.cmyk)
	}
	s := enhance.Settings{Out: out, Format: o.format, JPEGQuality: o.jpegQuality, Routes: rs,
		Limits: jpeg.Limits{MaxPixels: o.maxPixels}, CMYK: mode}
	return s, s.Validate()
}
