package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"jpegrestore/pipeline"
	"jpegrestore/report"
	"jpegrestore/storage"
	"jpegrestore/transforms"
)

// RestoreConfig is the restore job: restore every JPEG matched by Inputs into Out, mirroring
// paths, and write the report under Report.
type RestoreConfig struct {
	// Inputs are local paths or gs://bucket/prefix URIs, globs allowed.
	Inputs []string
	// Out is the output root; Report defaults to Out/_report.
	Out, Report string
	transforms.RestoreConfig
	// Progress is the progress line to draw, or nil for none.
	Progress *report.Progress

	// outputsChecked skips the write probe of the outputs: a watch's later cycles, whose first
	// cycle wrote there (the inputs are still listed first, to say plainly when they are gone).
	outputsChecked bool
}

// ReportDirName is the report folder under the output root.
const ReportDirName = report.DirName

// Validate fills the defaults and checks the config.
func (c *RestoreConfig) Validate() error {
	if len(c.Inputs) == 0 {
		return errors.New("restore: no --in given")
	}
	if c.Out == "" {
		return errors.New("restore: no --out given")
	}
	for _, in := range c.Inputs {
		if strings.TrimSuffix(in, "/") == strings.TrimSuffix(c.Out, "/") {
			return fmt.Errorf("restore: --out %s is also an input; outputs must go elsewhere", c.Out)
		}
	}
	if c.Report == "" {
		c.Report = storage.Join(c.Out, ReportDirName)
	}
	c.Settings.Out = c.Out
	if err := c.Settings.Validate(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// Pipeline builds the restore graph, its report going to f.
func (c *RestoreConfig) Pipeline(f report.Folder) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	cfg := c.RestoreConfig
	cfg.Settings.Run = f.Run // the records of the outputs this run makes say so
	records := pipeline.Restore(s, c.Inputs, report.Folder{Root: c.Report}.Records(), c.Report, cfg)
	pipeline.WriteReport(s, f, records)
	return p
}

// RunRestore validates the config, loads the models (failing fast on a missing or corrupt one),
// runs the pipeline and writes the final summary and HTML report.
func RunRestore(ctx context.Context, c RestoreConfig) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	outs := []string{c.Out, c.Report}
	if c.outputsChecked {
		outs = nil
	}
	if err := checkIO(ctx, "restore", c.Inputs, outs...); err != nil {
		return nil, err
	}
	meta := map[string]any{
		report.MetaJob: "restore", "inputs": c.Inputs, "out": c.Out, "format": c.Settings.Format,
		report.MetaRoutes: c.Settings.Routes.String(), "model": c.Models.Default,
	}
	release, err := preload(c.Models, c.Runtime, c.Settings.Routes, meta)
	if err != nil {
		return nil, err
	}
	defer release()
	// Workers that run in other processes find what this one found (enhance.ModelConfig.Resolve,
	// gpuworker.LibraryPath).
	c.Models, c.Runtime = c.Models.WithFound(c.Settings.Routes), c.Runtime.WithFound()
	return run(ctx, "restore", c.Pipeline, c.Report, meta, c.Progress, true, nil)
}
