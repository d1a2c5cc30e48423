package jobs

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/oip"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
	"jpegrestore/transforms"
)

// UsageError is an error the user can fix before anything runs: a setting that does not suit the
// model, an input that cannot be listed, an output that cannot be written. The command line
// answers it in one line, with exit status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// checkIO checks, before a job starts, that its inputs can be listed and its outputs written.
func checkIO(ctx context.Context, job string, inputs []string, outs ...string) error {
	for _, in := range inputs {
		if err := storage.CheckReadable(ctx, in); err != nil {
			return UsageError{fmt.Errorf("%s: cannot read the input %s: %w", job, in, err)}
		}
	}
	for i, out := range outs {
		if out == "" || slices.Contains(outs[:i], out) {
			continue
		}
		if err := storage.CheckWritable(ctx, out); err != nil {
			return UsageError{fmt.Errorf("%s: cannot write to %s: %w", job, out, err)}
		}
	}
	return nil
}

// Result is what a job run leaves behind.
type Result struct {
	Summary *report.Summary
	// Report is where summary.json, records.jsonl, failures.jsonl and report.html are.
	Report string
	// Failed counts the inputs that failed.
	Failed int64
	// DryRun says the runner only built the job (Dataflow's --dry_run): nothing ran, no report.
	DryRun bool
}

// preload loads the models of the routes in this process, so that a missing, corrupt or
// mismatched model fails before the pipeline starts (with Prism in-process the DoFns then share
// the pools), and records in meta the models (name, weights, sha256: int8 or float), the device
// asked for, the devices used and why they differ, and the DCT projection's alpha.
// release lets the models go.
func preload(models enhance.ModelConfig, rt transforms.Runtime, routes route.Routes, meta map[string]any) (release func() error, err error) {
	m := enhance.NewModels(models, rt.Loader())
	rms, err := m.Preload(routes)
	var bad *enhance.SettingError
	var contract *oip.ContractError
	if errors.As(err, &bad) || errors.As(err, &contract) {
		return nil, UsageError{err}
	}
	if err != nil {
		return nil, err
	}
	var used, notes, names []string
	for _, rm := range rms {
		man := rm.Manifest
		name := fmt.Sprintf("%s (%s, sha256 %.12s)", man.Name, cmp.Or(man.Weights, "float32"), man.SHA256)
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		if !slices.Contains(used, rm.Device) {
			used = append(used, rm.Device)
		}
		if rm.Note != "" && !slices.Contains(notes, rm.Note) {
			notes = append(notes, rm.Note)
		}
	}
	if len(rt.Workers) > 0 {
		meta["workers"] = strings.Join(rt.Workers, ",")
	} else {
		meta["device"] = string(cmp.Or(rt.Pool.Device, gpuworker.DeviceCPU))
	}
	meta[report.MetaModels] = strings.Join(names, ", ")
	// The DCT projection that finishes each restored image (package qcs): its alpha, or off.
	meta["qcs"] = models.QCSName()
	meta[report.MetaDeviceUsed] = strings.Join(used, ", ")
	if len(notes) > 0 {
		meta[report.MetaDeviceNote] = strings.Join(notes, "; ")
	}
	return m.Close, nil
}

// sentTiles reports whether this process sent tiles to --workers: not when Beam's workers ran in
// processes of their own, which count what they sent themselves (a figure of 0 would mislead).
func sentTiles(stats map[string][]oip.WorkerStats) bool {
	for _, ws := range stats {
		for _, w := range ws {
			if w.Tiles+w.Failed+w.Busy > 0 {
				return true
			}
		}
	}
	return false
}

// run builds and executes a job's pipeline for a new run of the report folder at root, with a
// progress line, and completes the folder (report.Finish); with examples, the report shows
// before/after crops. after, when not nil, adds to the meta once the pipeline has run.
func run(ctx context.Context, job string, build func(report.Folder) *beam.Pipeline, root string, meta map[string]any, prog *report.Progress, examples bool, after func(meta map[string]any)) (*Result, error) {
	folder := report.Folder{Root: root, Run: report.NewRun()}
	p := build(folder)
	if prog == nil {
		prog = report.NewProgress(io.Discard, false)
	} else {
		prog.Reset() // one line per run: a watch's cycles each count their own
		prog.Start(prog.Interval())
	}
	transforms.SetProgress(prog)
	defer transforms.SetProgress(nil)
	start := time.Now()
	retries, workers := storage.Retries(), oip.Workers()
	res, err := beamx.RunWithMetrics(ctx, p) // the runner named by Beam's --runner flag; Prism in-process by default
	prog.Stop()
	if err != nil {
		if line := sinkUnusable(err); line != "" {
			return nil, fmt.Errorf("%s: stopped: %s", job, line)
		}
		return nil, fmt.Errorf("%s: pipeline: %w", job, err)
	}
	if res == nil && beamDryRun() {
		return &Result{Report: root, DryRun: true}, nil
	}
	meta["started"], meta["finished"] = start.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339)
	meta[report.MetaSeconds] = time.Since(start).Seconds()
	if res != nil {
		meta[report.MetaBeamMetrics] = beamMetrics(res)
	}
	meta[report.MetaPools] = gpuworker.Pools()
	if w := oip.Since(workers, oip.Workers()); sentTiles(w) {
		meta[report.MetaWorkerStats] = w
	}
	meta[report.MetaStorageRetries] = countsSince(retries, storage.Retries())
	var crops report.CropFunc
	if examples {
		crops = func(ctx context.Context, r report.Record) (report.Example, error) {
			return enhance.Crops(ctx, storage.Store{}, r)
		}
	}
	meta[report.MetaRun] = folder.Run
	if after != nil {
		after(meta)
	}
	s, err := report.Finish(ctx, folder, meta, crops)
	if err != nil {
		return nil, fmt.Errorf("%s: report: %w", job, err)
	}
	return &Result{Summary: s, Report: root, Failed: s.Failures}, nil
}

// sinkUnusable returns the line that says why the output became unusable when err (a pipeline's
// failure, whose text the runner may have wrapped in much else) holds one, else "".
func sinkUnusable(err error) string {
	msg := err.Error()
	i := strings.Index(msg, enhance.ErrSinkUnusable.Error())
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(msg[i:], "\n")
	return line
}

// countsSince returns the counts of now that grew since before.
func countsSince(before, now map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, n := range now {
		if d := n - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// beamDryRun reports whether Beam's --dry_run is set (the Dataflow runner then builds the job and
// submits nothing).
func beamDryRun() bool {
	f := flag.Lookup("dry_run")
	return f != nil && f.Value.String() == "true"
}
