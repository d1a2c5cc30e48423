package main

import (
	"flag"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/jpeg"
	"jpegrestore/oip"
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

// runnerFlags give a job Beam's own pipeline options: every flag the SDK and its runners register
// on flag.CommandLine (--runner, --endpoint, --environment_type, --environment_config,
// --worker_binary; Dataflow's --project, --region, --temp_location, --staging_location,
// --sdk_container_image, --worker_machine_type, --num_workers, --max_num_workers, --dry_run, ...),
// but those only a worker takes. They share Beam's values, so a job parses them as Beam would.
type runnerFlags struct {
	fs      *flag.FlagSet
	verbose bool
}

// workerOnly are Beam flags a worker process gets from its runner, not from a user.
var workerOnly = map[string]bool{"worker": true, "id": true, "control_endpoint": true, "logging_endpoint": true,
	"semi_persist_dir": true, "options": true}

// isBeamOption reports whether a flag of flag.CommandLine is a pipeline option a user may set.
func isBeamOption(name string) bool { return !workerOnly[name] && !strings.HasPrefix(name, "test.") }

func (r *runnerFlags) register(fs *flag.FlagSet) {
	r.fs = fs
	fs.BoolVar(&r.verbose, "verbose", false, "show Beam's and Prism's own log lines")
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if isBeamOption(f.Name) {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	fs.Usage = func() { printUsage(fs) }
}

// printUsage lists a command's own flags, then Beam's pipeline options.
func printUsage(fs *flag.FlagSet) {
	own, beam := flag.NewFlagSet(fs.Name(), flag.ContinueOnError), flag.NewFlagSet("beam", flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		to := own
		if flag.CommandLine.Lookup(f.Name) != nil {
			to = beam
		}
		to.Var(f.Value, f.Name, f.Usage)
	})
	out := fs.Output()
	fmt.Fprintf(out, "usage: jpegrestore %s [flags]\n\n", fs.Name())
	own.SetOutput(out)
	own.PrintDefaults()
	fmt.Fprint(out, "\nBeam's pipeline options (the runner, Dataflow's and the portable runners' settings; README.md, Runners):\n")
	beam.SetOutput(out)
	beam.PrintDefaults()
}

// apply marks the Beam options the command line set as set on flag.CommandLine too (Beam reads
// only those into the pipeline's options), and defaults --environment_type to LOOPBACK for
// --runner universal.
func (r *runnerFlags) apply() error {
	var err error
	r.fs.Visit(func(f *flag.Flag) {
		if flag.CommandLine.Lookup(f.Name) != nil && err == nil {
			err = flag.CommandLine.Set(f.Name, f.Value.String())
		}
	})
	if err != nil {
		return err
	}
	if flag.Lookup("runner").Value.String() == "universal" && flag.Lookup("environment_type").Value.String() == "" {
		return flag.CommandLine.Set("environment_type", "LOOPBACK")
	}
	return nil
}

// poolFlags say where and how this process runs models: ONNX Runtime and its pool's options.
type poolFlags struct {
	device, ortLib           string
	sessions, threads, batch int
	soloPixels               int
	maxWait                  time.Duration
}

func (p *poolFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.device, "device", "cpu", "cpu, cuda:N, or auto (CUDA when available, else CPU)")
	fs.StringVar(&p.ortLib, "ort-lib", "", "ONNX Runtime shared library (default $"+gpuworker.EnvLibrary+", then .deps/onnxruntime/)")
	fs.IntVar(&p.sessions, "sessions", 0, "model sessions run side by side (default on the CPU: cores/threads, or min(cores, 4); 1 on CUDA)")
	fs.IntVar(&p.threads, "threads", 0, "CPU threads per model session (default: cores/sessions)")
	fs.IntVar(&p.batch, "batch", 0, "most tiles per model run (default 1 on the CPU, 4 on CUDA)")
	fs.DurationVar(&p.maxWait, "batch-wait", 0, "longest a partial batch waits for more tiles (default none on the CPU, 2ms on CUDA)")
	fs.IntVar(&p.soloPixels, "solo-pixels", 0, fmt.Sprintf("on the CPU, tiles of at least this many pixels run only on the session with every core, which holds half the memory (default %d; -1: on every session, 7–23%% faster with best on 12–50 MP images, twice the memory)", gpuworker.DefaultSoloPixels))
}

func (p *poolFlags) options() gpuworker.Options {
	return gpuworker.Options{Device: gpuworker.Device(p.device), Sessions: p.sessions, Threads: p.threads, MaxBatch: p.batch, MaxWait: p.maxWait,
		SoloPixels: p.soloPixels}
}

// modelFlags choose the model and run it: in this process's pool, or on --workers.
type modelFlags struct {
	pool                     poolFlags
	preset, model, modelsDir string
	qcs                      string
	ensemble, tile           int
	workers                  string
	workersInFlight          int
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.preset, "preset", "fast", "shipped model: "+enhance.ShippedHelp())
	fs.StringVar(&m.model, "model", "", "model manifest (.json) or .onnx with its manifest beside it; overrides --preset")
	fs.StringVar(&m.modelsDir, "models", "", "folder of the shipped models (default: models/ of the checkout or beside the binary, or $"+enhance.ModelsDirEnv+")")
	m.pool.register(fs)
	fs.IntVar(&m.ensemble, "ensemble", 0, "self-ensemble size 1, 2, 4 or 8 for routes that set none (default 1)")
	fs.StringVar(&m.qcs, "qcs", "off", fmt.Sprintf("finish each restored image by moving every DCT coefficient that lies more than ALPHA quantization steps from the file's own back to that distance (0.5: the file's own rounding interval). For files compressed once (camera, scanner or export originals; the eval protocol) %g adds 0.02-0.06 dB at QF 10-70; on re-saved JPEGs it loses up to 0.8 dB. auto: %g, but not on files that show an earlier compression, on the same grid or after a crop (a finer earlier one or a resize is not seen). off: the model's output as it is", enhance.SingleQCS, enhance.SingleQCS))
	fs.IntVar(&m.tile, "tile", 0, "tile side in pixels, a multiple of 16 (default 512, larger for models whose overlap would dominate it: 1024 for fast, 1376 for best)")
	fs.StringVar(&m.workers, "workers", "", "HOST:PORT[,HOST:PORT...] of jpegrestore serve processes (Open Inference Protocol) that run the model instead of this process; the tiling and self-ensemble stay here")
	fs.IntVar(&m.workersInFlight, "workers-inflight", 0, "most tiles sent to one --workers server at once (default 8)")
}

// config returns which models restore and how, and how a worker runs them; an error says which
// flag is wrong and what it takes.
func (m *modelFlags) config() (enhance.ModelConfig, transforms.Runtime, error) {
	fail := func(format string, a ...any) (enhance.ModelConfig, transforms.Runtime, error) {
		return enhance.ModelConfig{}, transforms.Runtime{}, fmt.Errorf(format, a...)
	}
	def := m.preset
	if m.model != "" {
		def = m.model
	} else if !enhance.Shipped(m.preset) {
		return fail("--preset %s: the shipped models are %s (or give --model PATH)", m.preset, enhance.ShippedHelp())
	}
	if !slices.Contains([]int{0, 1, 2, 4, 8}, m.ensemble) {
		return fail("--ensemble %d: want 1, 2, 4 or 8", m.ensemble)
	}
	if m.tile < 0 {
		return fail("--tile %d: want a positive tile side (the model says which are valid)", m.tile)
	}
	qcs, qcsAuto := 0.0, false
	switch m.qcs {
	case "off":
	case "auto":
		qcs, qcsAuto = enhance.SingleQCS, true
	default:
		v, err := strconv.ParseFloat(m.qcs, 64)
		if err != nil || !(v > 0 && v <= 0.5) {
			return fail("--qcs %s: want auto, a number in (0, 0.5], or off", m.qcs)
		}
		qcs = v
	}
	rt := transforms.Runtime{ORTLib: m.pool.ortLib, Pool: m.pool.options()}
	if m.workers != "" {
		addrs, err := workerAddrs(m.workers)
		if err != nil {
			return fail("--workers %s: %v", m.workers, err)
		}
		if (m.pool != poolFlags{device: "cpu", ortLib: m.pool.ortLib}) {
			return fail("--device, --sessions, --threads, --batch, --batch-wait and --solo-pixels set a pool in this process; with --workers the model runs on those servers (give these flags to jpegrestore serve there)")
		}
		if m.workersInFlight < 0 {
			return fail("--workers-inflight %d: want a positive number of tiles", m.workersInFlight)
		}
		rt = transforms.Runtime{Workers: addrs, Remote: oip.ClientOptions{InFlight: m.workersInFlight}}
	}
	return enhance.ModelConfig{Default: def, Dir: m.modelsDir, Ensemble: m.ensemble, Tile: m.tile, QCS: qcs, QCSAuto: qcsAuto}, rt, nil
}

// workerAddrs splits a --workers list into HOST:PORT addresses.
func workerAddrs(list string) ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%q is not HOST:PORT", a)
		}
		if slices.Contains(addrs, a) {
			return nil, fmt.Errorf("%s is named twice", a)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
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
