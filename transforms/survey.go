package transforms

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/jpeg"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, enhance.Input, func(report.Record), error](&surveyFn{})
}

// SurveyConfig configures Survey.
type SurveyConfig struct {
	Limits jpeg.Limits   `json:"limits"`
	CMYK   jpeg.CMYKMode `json:"cmyk"`
	// Routes are the bands a restore would send the inputs to (route.Default() when empty).
	Routes route.Routes `json:"routes"`
}

// Survey takes each input through enhance's survey journey: its quality factor from the
// quantization tables, the route a restore would take it and its no-reference score, nothing
// restored ("how bad is this bucket?").
// Surveyed images get status report.StatusSurveyed.
func Survey(s beam.Scope, cfg SurveyConfig, inputs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Survey")
	return beam.ParDo(s, &surveyFn{Config: cfg}, inputs)
}

type surveyFn struct {
	Config SurveyConfig `json:"config"`

	journey *enhance.Journey
}

// BandRoutes are the routes the survey assigns: Routes, or route.Default() when empty.
func (c SurveyConfig) BandRoutes() route.Routes {
	if len(c.Routes) == 0 {
		return route.Default()
	}
	return c.Routes
}

func (f *surveyFn) Setup() {
	f.journey = &enhance.Journey{Settings: enhance.Settings{Limits: f.Config.Limits, CMYK: f.Config.CMYK, Routes: f.Config.BandRoutes()}, Store: storage.Store{}}
}

func (f *surveyFn) ProcessElement(ctx context.Context, in enhance.Input, emit func(report.Record)) error {
	rec, err := f.journey.Survey(ctx, in)
	if err != nil {
		return err
	}
	recordEmitter(ctx, emit)(rec)
	return nil
}
