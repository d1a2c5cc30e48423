package transforms

import (
	"context"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn3x1[context.Context, string, func(enhance.Input), error](&matchFn{})
	register.Emitter1[enhance.Input]()
}

// Match expands input URIs (files, folders, bucket prefixes, globs) into one enhance.Input per
// object, skipping anything under the exclude prefixes (the job's own output and report folders
// when they sit inside an input) and in the tool's own report folders (a folder named
// report.DirName that holds a summary.json or records.jsonl; a user's folder of that name is
// walked as any other). One listing emits every input, so the caller spreads them over workers
// next (beam.Reshuffle, or ClaimOutputs, which groups them).
func Match(s beam.Scope, patterns []string, exclude []string) beam.PCollection {
	s = s.Scope("transforms.Match")
	in := beam.CreateList(s, patterns)
	return beam.ParDo(s, &matchFn{Exclude: exclude}, in)
}

type matchFn struct {
	Exclude []string `json:"exclude"`
}

func (f *matchFn) ProcessElement(ctx context.Context, pattern string, emit func(enhance.Input)) error {
	root := storage.Root(pattern)
	own := report.OwnFolders{}
	return storage.Match(ctx, pattern, func(o storage.Object) error {
		if excluded(o.URI, f.Exclude) {
			return nil
		}
		if skip, err := own.Holds(ctx, root, o.URI); err != nil || skip {
			return err
		}
		progress().AddTotal(1)
		emit(enhance.Input{URI: o.URI, Root: root, OutsideRoot: o.OutsideRoot, Version: o.Version()})
		return nil
	})
}

// excluded reports whether uri is one of the exclude URIs or lies under one.
func excluded(uri string, exclude []string) bool {
	for _, ex := range exclude {
		if ex != "" && (uri == ex || strings.HasPrefix(uri, strings.TrimSuffix(ex, "/")+"/")) {
			return true
		}
	}
	return false
}
