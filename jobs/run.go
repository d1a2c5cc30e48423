package jobs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
	"jpegrestore/transforms"
)

// Result is what a job run leaves behind.
type Result struct {
	Summary *report.Summary
	// Report is where summary.json, records.jsonl, failures.jsonl and report.html are.
	Report string
	// Failed counts the inputs that failed.
	Failed int64
}

// preload loads the models of the routes in this process, so that a missing, corrupt or
// mismatched model fails before the pipeline starts (with Prism in-process the DoFns then share
// the pools), and records in meta the device asked for, the devices used and why they differ.
// release lets the models go.
func preload(models enhance.ModelConfig, rt transforms.Runtime, routes route.Routes, meta map[string]any) (release func() error, err error) {
	m := enhance.NewModels(models, rt.Loader())
	rms, err := m.Preload(routes)
	if err != nil {
		return nil, err
	}
	var used, notes []string
	for _, rm := range rms {
		if !slices.Contains(used, rm.Device) {
			used = append(used, rm.Device)
		}
		if rm.Note != "" && !slices.Contains(notes, rm.Note) {
			notes = append(notes, rm.Note)
		}
	}
	meta["device"] = string(cmp.Or(rt.Pool.Device, gpuworker.DeviceCPU))
	meta[report.MetaDeviceUsed] = strings.Join(used, ", ")
	if len(notes) > 0 {
		meta[report.MetaDeviceNote] = strings.Join(notes, "; ")
	}
	return m.Close, nil
}

// run executes a pipeline with a progress line and finishes its report folder (report.Finish);
// with examples, the report shows before/after crops.
func run(ctx context.Context, job string, p *beam.Pipeline, root string, meta map[string]any, progressTo io.Writer, examples bool) (*Result, error) {
	prog := report.NewProgress(io.Discard, false)
	if progressTo != nil {
		prog = report.NewProgress(progressTo, true)
	}
	transforms.SetProgress(prog)
	defer transforms.SetProgress(nil)
	prog.Start(500 * time.Millisecond)
	start := time.Now()
	res, err := beamx.RunWithMetrics(ctx, p) // the runner named by Beam's --runner flag; Prism in-process by default
	prog.Stop()
	if err != nil {
		return nil, fmt.Errorf("%s: pipeline: %w", job, err)
	}
	meta["started"], meta["finished"] = start.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339)
	meta["seconds"] = time.Since(start).Seconds()
	if res != nil {
		meta["beam_metrics"] = beamMetrics(res)
	}
	meta["pools"] = gpuworker.Pools()
	var crops report.CropFunc
	if examples {
		crops = func(ctx context.Context, r report.Record) (report.Example, error) {
			return enhance.Crops(ctx, storage.Store{}, r)
		}
	}
	s, err := report.Finish(ctx, report.Folder{Root: root}, meta, crops)
	if err != nil {
		return nil, fmt.Errorf("%s: report: %w", job, err)
	}
	return &Result{Summary: s, Report: root, Failed: s.Failures}, nil
}
