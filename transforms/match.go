package transforms

import (
	"context"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, string, func(enhance.Input), error](&matchFn{})
	register.Emitter1[enhance.Input]()
}

// Match expands input URIs (files, folders, bucket prefixes, globs) into one enhance.Input per
// object, skipping anything under the exclude prefixes (the job's own output and report folders
// when they sit inside an input), then reshuffles so later stages spread over workers.
func Match(s beam.Scope, patterns []string, exclude []string) beam.PCollection {
	s = s.Scope("transforms.Match")
	in := beam.CreateList(s, patterns)
	matched := beam.ParDo(s, &matchFn{Exclude: exclude}, in)
	return beam.Reshuffle(s, matched)
}

type matchFn struct {
	Exclude []string `json:"exclude"`
}

func (f *matchFn) ProcessElement(ctx context.Context, pattern string, emit func(enhance.Input)) error {
	root := storage.Root(pattern)
	return storage.Match(ctx, pattern, func(o storage.Object) error {
		for _, ex := range f.Exclude {
			if ex != "" && (o.URI == ex || strings.HasPrefix(o.URI, strings.TrimSuffix(ex, "/")+"/")) {
				return nil
			}
		}
		progress().AddTotal(1)
		emit(enhance.Input{URI: o.URI, Root: root})
		return nil
	})
}
