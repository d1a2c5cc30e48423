package jobs

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"jpegrestore/enhance"
	"jpegrestore/pipeline"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
	"jpegrestore/transforms"
)

// SurveyConfig is the report job: how bad is this bucket? QF histogram and no-reference quality
// per bucket and prefix, before spending any compute on restoring.
type SurveyConfig struct {
	Inputs []string
	// Out is the report folder; it defaults to DefaultSurveyOut.
	Out string
	transforms.SurveyConfig
	// Estimate measures the presets' speeds here (with Runtime), for the report's estimates of
	// how long a restore would take.
	Estimate bool
	Runtime  transforms.Runtime
	// Progress is the progress line to draw, or nil for none.
	Progress *report.Progress
}

// Validate fills the defaults and checks the config.
func (c *SurveyConfig) Validate() error {
	if len(c.Inputs) == 0 {
		return errors.New("report: no --in given")
	}
	if c.Out == "" {
		c.Out = DefaultSurveyOut(c.Inputs[0])
	}
	return nil
}

// DefaultSurveyOut is where the report job writes when no --out is given: beside the first
// input, named after it ("archive-report" for gs://b/archive or data/archive), so never inside
// the input, where a later restore would find it. A whole bucket's (or file system's) report goes
// in its report.DirName folder, which jobs never take as input.
func DefaultSurveyOut(input string) string {
	root := storage.Root(input)
	if storage.IsGCS(root) {
		bucket, object, _ := strings.Cut(strings.TrimPrefix(root, "gs://"), "/")
		if object == "" {
			return "gs://" + bucket + "/" + report.DirName
		}
		return "gs://" + bucket + "/" + object + "-report"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		abs = root
	}
	if dir, name := filepath.Split(abs); name != "" {
		return filepath.Join(dir, name+"-report")
	}
	return filepath.Join(abs, report.DirName)
}

// Pipeline builds the survey graph, its report going to f.
func (c *SurveyConfig) Pipeline(f report.Folder) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	records := pipeline.Survey(s, c.Inputs, []string{c.Out}, c.SurveyConfig)
	pipeline.WriteReport(s, f, records)
	return p
}

// RunSurvey runs the report job.
func RunSurvey(ctx context.Context, c SurveyConfig) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkIO(ctx, "report", c.Inputs, c.Out); err != nil {
		return nil, err
	}
	meta := map[string]any{report.MetaJob: "report", "inputs": c.Inputs, report.MetaRoutes: c.BandRoutes().String()}
	var estimate func(map[string]any)
	if c.Estimate {
		estimate = func(meta map[string]any) { // once the survey has run, before its report
			if speeds := presetSpeeds(ctx, c.Runtime); len(speeds) > 0 {
				meta[report.MetaPresetSpeeds] = speeds
			}
		}
	}
	return run(ctx, "report", c.Pipeline, c.Out, meta, c.Progress, false, estimate)
}

// presetSpeeds measures each shipped preset's restoring speed here (enhance.Speed), for the
// report's estimates; a preset that does not load is left out.
func presetSpeeds(ctx context.Context, rt transforms.Runtime) map[string]float64 {
	out := map[string]float64{}
	for _, p := range enhance.Presets {
		m := enhance.NewModels(enhance.ModelConfig{Default: p}, rt.Loader())
		rm, err := m.For(route.Route{Name: p, MinQF: 1, MaxQF: 100})
		if err == nil {
			if mps, err := enhance.Speed(ctx, rm); err == nil {
				out[p] = mps
			}
		}
		m.Close()
	}
	return out
}
