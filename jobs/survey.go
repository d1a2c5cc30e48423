package jobs

import (
	"context"
	"errors"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"jpegrestore/pipeline"
	"jpegrestore/report"
	"jpegrestore/storage"
	"jpegrestore/transforms"
)

// SurveyConfig is the report job: how bad is this bucket? QF histogram and no-reference quality
// per bucket and prefix, before spending any compute on restoring.
type SurveyConfig struct {
	Inputs []string
	// Out is the report folder; it defaults to <first input>/_report.
	Out string
	transforms.SurveyConfig
	Progress io.Writer
}

// Validate fills the defaults and checks the config.
func (c *SurveyConfig) Validate() error {
	if len(c.Inputs) == 0 {
		return errors.New("report: no --in given")
	}
	if c.Out == "" {
		c.Out = storage.Join(storage.Root(c.Inputs[0]), ReportDirName)
	}
	return nil
}

// Pipeline builds the survey graph, its report going to f.
func (c *SurveyConfig) Pipeline(f report.Folder) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	records := pipeline.Survey(s, c.Inputs, c.SurveyConfig)
	pipeline.WriteReport(s, f, records)
	return p
}

// RunSurvey runs the report job.
func RunSurvey(ctx context.Context, c SurveyConfig) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	meta := map[string]any{"job": "report", "inputs": c.Inputs}
	return run(ctx, "report", c.Pipeline, c.Out, meta, c.Progress, false)
}
