package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"jpegrestore/enhance"
	"jpegrestore/pipeline"
	"jpegrestore/report"
	"jpegrestore/storage"
	"jpegrestore/transforms"
)

// EvalConfig is the eval job: compress clean images with libjpeg at each QF (the NTIRE 2024 /
// FBCNN protocol), restore them, and report PSNR, SSIM and PSNR-B before and after per QF.
type EvalConfig struct {
	// Reference is the folder (or glob, or bucket prefix) of clean images, PNG or JPEG.
	Reference string
	Out       string
	transforms.EvalConfig
	// Progress is the progress line to draw, or nil for none.
	Progress *report.Progress
}

// EvalFile is the per-QF table the eval job writes beside the report.
const EvalFile = "eval.json"

// Validate checks the config.
func (c *EvalConfig) Validate() error {
	if c.Reference == "" || c.Out == "" {
		return errors.New("eval: --reference and --out are required")
	}
	if len(c.QFs) == 0 {
		return errors.New("eval: no --qf given")
	}
	for _, q := range c.QFs {
		if q < 1 || q > 100 {
			return fmt.Errorf("eval: QF %d outside 1..100", q)
		}
	}
	return nil
}

// Pipeline builds the eval graph, its report going to f.
func (c *EvalConfig) Pipeline(f report.Folder) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	records := pipeline.Eval(s, []string{c.Reference}, c.EvalConfig)
	pipeline.WriteReport(s, f, records)
	return p
}

// EvalTable is eval.json: per QF, the reference metrics of JPEG and of the restored images.
type EvalTable struct {
	Model string           `json:"model"`
	Rows  []report.EvalRow `json:"rows"`
}

// RunEval runs the eval job and writes eval.json next to the report.
func RunEval(ctx context.Context, c EvalConfig) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkIO(ctx, "eval", []string{c.Reference}, c.Out); err != nil {
		return nil, err
	}
	meta := map[string]any{report.MetaJob: "eval", "reference": c.Reference, "model": c.Models.Default, "qfs": c.QFs}
	release, err := preload(c.Models, c.Runtime, enhance.EvalRoutes, meta)
	if err != nil {
		return nil, err
	}
	defer release()
	c.Models, c.Runtime = c.Models.WithFound(enhance.EvalRoutes), c.Runtime.WithFound()
	res, err := run(ctx, "eval", c.Pipeline, c.Out, meta, c.Progress, false, nil)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(EvalTable{Model: c.Models.Default, Rows: res.Summary.Eval}, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, storage.WriteFile(ctx, storage.Join(c.Out, EvalFile), b)
}
