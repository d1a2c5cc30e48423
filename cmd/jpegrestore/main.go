// Command jpegrestore restores archives of over-compressed JPEGs. This file only turns flags into
// job configs and runs them; the jobs live in package jobs.
//
//	jpegrestore restore --in URI [--in URI ...] --out URI [--report URI] [--preset fast|best] ...
//	jpegrestore watch   --in URI --out URI [--interval 30s] ...
//	jpegrestore report  --in URI [--out URI]
//	jpegrestore eval    --reference DIR --qf 10,20,30,40,50,60,70 --out DIR
//	jpegrestore probe   [--json] PATH...
//	jpegrestore doctor
//	jpegrestore serve   [--listen HOST:PORT] [--preset fast,best] [--device cuda:0] ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/inference"
	"jpegrestore/jobs"
	"jpegrestore/jpeg"
	"jpegrestore/oip"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/transforms"
)

// Exit codes: 0 all inputs fine, 3 the run finished but some inputs failed, 1 the job itself
// failed, 2 bad usage.
const (
	exitOK          = 0
	exitJobFailed   = 1
	exitUsage       = 2
	exitInputFailed = 3
)

const usage = `usage: jpegrestore COMMAND [flags]

commands:
  restore  --in URI --out URI    restore every JPEG under the inputs into --out (PNG by default)
  watch    --in URI --out URI    restore what is new, every --interval, until stopped
  report   --in URI [--out URI]  survey: QF histogram and no-reference quality, no restoring
  eval     --reference DIR --out DIR [--qf 10,20,...]
                                 compress clean images at each QF, restore, report PSNR/SSIM/PSNR-B
  probe    PATH...               read each JPEG's markers: size, coding, quality factor
  doctor                         check ONNX Runtime, libjpeg-turbo and the presets' models on --device
  serve    [--listen HOST:PORT]  run models for the --workers of restore, watch and eval (Open
                                 Inference Protocol over gRPC) until SIGTERM, then drain

URIs are local paths or gs://bucket/prefix, globs allowed. Run "jpegrestore COMMAND -h" for flags.
`

func main() {
	// A Beam worker process (Dataflow, Flink, Spark, a remote Prism) starts this binary with
	// Beam's own flags (--worker ...), not with a command: beam.Init then runs the worker.
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-") && os.Args[1] != "-h" && os.Args[1] != "--help" {
		flag.Parse()
		beam.Init()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) int{
		"restore": restore, "watch": watch, "report": survey, "eval": eval, "probe": probe, "doctor": doctor, "serve": serve,
	}
	if f, ok := cmds[args[0]]; ok {
		return f(ctx, args[1:], stdout, stderr)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "jpegrestore: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// parseExit is the exit code of a command whose flags did not parse: 0 when help was asked for
// (the usage is printed), 2 otherwise.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// newFlags returns a flag set for a command, printing its usage to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// startBeam applies the runner flags and initialises Beam in launcher mode. Beam's and Prism's own
// log lines go to stderr with --verbose, and nowhere without: a job says what went wrong itself.
func startBeam(rf *runnerFlags, stderr io.Writer) error {
	if err := rf.apply(); err != nil {
		return err
	}
	oip.SetLog(func(msg string) { fmt.Fprintln(stderr, "jpegrestore:", msg) })
	log.LogLevel = "warn" // Prism's INFO lines would bury the job's own output
	if rf.verbose {
		log.SetLogger(beamLogger{stderr})
	} else {
		log.SetLogger(beamLogger{io.Discard})
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	beam.Init()
	return nil
}

// beamLogger writes Beam's warnings and errors to w and drops its INFO chatter.
type beamLogger struct{ w io.Writer }

func (l beamLogger) Log(ctx context.Context, sev log.Severity, calldepth int, msg string) {
	if sev >= log.SevWarn {
		fmt.Fprintf(l.w, "beam (severity %d): %s\n", int(sev), msg)
	}
}

// progressTo returns the progress line of a job on stderr: redrawn in place on a terminal, a line
// every 30 seconds elsewhere (a log, cron, CI); nil with --quiet.
func progressTo(stderr io.Writer, quiet bool) *report.Progress {
	if quiet {
		return nil
	}
	f, ok := stderr.(*os.File)
	return report.NewProgress(stderr, ok && report.IsTerminal(f))
}

// finishJob prints where the results are and turns a result into an exit code.
func finishJob(res *jobs.Result, err error, what string, stdout, stderr io.Writer) int {
	var usage jobs.UsageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return exitJobFailed
	}
	if res.DryRun {
		fmt.Fprintf(stdout, "%s: --dry_run: the job was built and not submitted\n", what)
		return exitOK
	}
	t := res.Summary.Totals
	main := report.StatusRestored
	if what == "report" {
		main = report.StatusSurveyed
	}
	fmt.Fprintf(stdout, "%s: %s\n", what, t.Line(main))
	fmt.Fprintf(stdout, "report: %s/report.html (summary.json, records.jsonl, failures.jsonl)\n", strings.TrimSuffix(res.Report, "/"))
	if res.Failed > 0 {
		return exitInputFailed
	}
	return exitOK
}

type restoreFlags struct {
	in             listFlag
	out, reportDir string
	quiet          bool
	model          modelFlags
	output         outputFlags
	runner         runnerFlags
}

func (f *restoreFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.in, "in", "input: folder, file, glob or gs://bucket/prefix (repeatable)")
	fs.StringVar(&f.out, "out", "", "output root: folder or gs://bucket/prefix")
	fs.StringVar(&f.reportDir, "report", "", "report folder (default <out>/_report)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line")
	f.model.register(fs)
	f.output.register(fs)
	f.runner.register(fs)
}

func (f *restoreFlags) config(stderr io.Writer) (jobs.RestoreConfig, error) {
	set, err := f.output.settings(f.out)
	if err != nil && f.out != "" {
		return jobs.RestoreConfig{}, err
	}
	c := jobs.RestoreConfig{Inputs: f.in, Out: f.out, Report: f.reportDir, Progress: progressTo(stderr, f.quiet)}
	c.Settings = set
	if c.Models, c.Runtime, err = f.model.config(); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// parseRestore parses the flags shared by restore and watch (extra registers the command's own)
// into a validated config and starts Beam; when the command must stop instead (help, bad usage),
// ok is false and code is its exit code.
func parseRestore(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (c jobs.RestoreConfig, code int, ok bool) {
	fs := newFlags(name, stderr)
	var f restoreFlags
	f.register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, parseExit(err), false
	}
	c, err := f.config(stderr)
	if !ready(err, &f.runner, stderr) {
		return c, exitUsage, false
	}
	return c, exitOK, true
}

// ready reports whether a command may run: its config validated (err is nil) and Beam started.
// Otherwise it prints why.
func ready(err error, rf *runnerFlags, stderr io.Writer) bool {
	if err == nil {
		err = startBeam(rf, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return false
	}
	return true
}

func restore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, code, ok := parseRestore("restore", args, stderr, nil)
	if !ok {
		return code
	}
	res, err := jobs.RunRestore(ctx, c)
	return finishJob(res, err, "restore", stdout, stderr)
}

func watch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var interval time.Duration
	var cycles int
	c, code, ok := parseRestore("watch", args, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&interval, "interval", 30*time.Second, "pause between cycles")
		fs.IntVar(&cycles, "cycles", 0, "stop after this many cycles (0: until interrupted)")
	})
	if !ok {
		return code
	}
	res, err := jobs.RunWatch(ctx, jobs.WatchConfig{RestoreConfig: c, Interval: interval, Cycles: cycles, Log: stdout})
	if err == nil && res == nil {
		fmt.Fprintln(stdout, "watch: stopped before the first cycle finished")
		return exitOK
	}
	return finishJob(res, err, "watch (last cycle)", stdout, stderr)
}

func survey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", stderr)
	var in listFlag
	fs.Var(&in, "in", "input: folder, file, glob or gs://bucket/prefix (repeatable)")
	out := fs.String("out", "", "report folder (default: beside the first input, named after it: gs://b/archive → gs://b/archive-report)")
	quiet := fs.Bool("quiet", false, "no progress line")
	maxPixels := fs.Int64("max-pixels", jpeg.DefaultMaxPixels, "refuse images above this many pixels before decoding")
	routes := fs.String("routes", route.Default().String(), "the QF bands a restore would use, as restore's --routes")
	estimate := fs.Bool("estimate", true, "measure each preset's speed here and estimate how long a restore would take")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library, for the estimates (default $"+gpuworker.EnvLibrary+", then .deps/onnxruntime/)")
	var rf runnerFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	rs, err := route.Parse(*routes)
	c := jobs.SurveyConfig{Inputs: in, Out: *out, Progress: progressTo(stderr, *quiet), Estimate: *estimate,
		Runtime:      transforms.Runtime{ORTLib: *ortLib},
		SurveyConfig: transforms.SurveyConfig{Limits: jpeg.Limits{MaxPixels: *maxPixels}, Routes: rs}}
	if err == nil {
		err = c.Validate()
	}
	if !ready(err, &rf, stderr) {
		return exitUsage
	}
	res, err := jobs.RunSurvey(ctx, c)
	return finishJob(res, err, "report", stdout, stderr)
}

func eval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval", stderr)
	ref := fs.String("reference", "", "folder (or glob, or gs:// prefix) of clean PNG/JPEG images")
	out := fs.String("out", "", "folder for eval.json and the report")
	quiet := fs.Bool("quiet", false, "no progress line")
	qfs := intsFlag{10, 20, 30, 40, 50, 60, 70}
	fs.Var(&qfs, "qf", "quality factors to compress at")
	var mf modelFlags
	mf.register(fs)
	var rf runnerFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	c := jobs.EvalConfig{Reference: *ref, Out: *out, Progress: progressTo(stderr, *quiet),
		EvalConfig: transforms.EvalConfig{QFs: qfs}}
	var err error
	if c.Models, c.Runtime, err = mf.config(); err == nil {
		err = c.Validate()
	}
	if !ready(err, &rf, stderr) {
		return exitUsage
	}
	res, err := jobs.RunEval(ctx, c)
	code := finishJob(res, err, "eval", stdout, stderr)
	if err == nil {
		for _, r := range res.Summary.Eval {
			fmt.Fprintf(stdout, "QF %3d  PSNR %.2f → %.2f dB  SSIM %.4f → %.4f  PSNR-B %.2f → %.2f dB  (%d images)\n", r.QF,
				r.Ref.PSNRBefore.Mean(), r.Ref.PSNRAfter.Mean(), r.Ref.SSIMBefore.Mean(), r.Ref.SSIMAfter.Mean(),
				r.Ref.PSNRBBefore.Mean(), r.Ref.PSNRBAfter.Mean(), r.Ref.N())
		}
	}
	return code
}

func probe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("probe", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: jpegrestore probe [flags] PATH...   (files, folders, globs or gs:// prefixes)\n\n")
		fs.PrintDefaults()
	}
	var cfg jobs.ProbeConfig
	fs.BoolVar(&cfg.JSON, "json", false, "write one JSON record per file instead of a table")
	fs.Int64Var(&cfg.MaxPixels, "max-pixels", 0, "refuse frames above this many pixels (0: 200 MP)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	cfg.Inputs = fs.Args()
	if len(cfg.Inputs) == 0 {
		fmt.Fprintln(stderr, "jpegrestore: probe: name the files, folders, globs or gs:// prefixes to probe")
		fs.Usage()
		return exitUsage
	}
	sum, err := jobs.RunProbe(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return exitJobFailed
	}
	if sum.Failed > 0 {
		return exitInputFailed
	}
	return exitOK
}

// doctor checks what a restore needs: ONNX Runtime and libjpeg-turbo load, and each preset's
// model is found, matches its manifest's sha256 and opens on the device (saying which device it
// runs on, and why when that is not the one asked for).
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", stderr)
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default $"+gpuworker.EnvLibrary+", then .deps/onnxruntime/)")
	device := fs.String("device", "cpu", "device to open the models on: cpu, cuda:N or auto")
	modelsDir := fs.String("models", "", "folder of the shipped models (default: models/ of the checkout or beside the binary, or $"+enhance.ModelsDirEnv+")")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	path, err := gpuworker.LibraryPath(*ortLib)
	if err == nil {
		err = gpuworker.Init(path)
	}
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return exitJobFailed
	}
	fmt.Fprintf(stdout, "onnxruntime %s (%s)\n", gpuworker.Version(), path)
	fmt.Fprintf(stdout, "libjpeg-turbo %s (TurboJPEG API)\n", jpeg.LibraryVersion())
	load := gpuworker.Loader(path, gpuworker.Options{Device: gpuworker.Device(*device)})
	code := exitOK
	for _, preset := range slices.Concat(enhance.Presets, enhance.Variants) {
		m, err := enhance.ResolveModel(preset, *modelsDir)
		var model inference.Model
		release := func() error { return nil }
		if err == nil {
			model, release, err = load(m)
		}
		if err != nil {
			fmt.Fprintf(stderr, "jpegrestore: preset %s: %v\n", preset, err)
			code = exitJobFailed
			continue
		}
		fmt.Fprintf(stdout, "preset %s: %s (sha256 checked), runs on %s\n", preset, m, model.Device)
		if model.Note != "" {
			fmt.Fprintf(stdout, "  %s\n", model.Note)
		}
		release()
	}
	return code
}
