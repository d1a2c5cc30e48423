package transforms

import (
	"context"
	"path"
	"slices"
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
// when they sit inside an input) and in any folder named report.DirName (the tool's own reports). One listing emits every input, so the caller spreads them over
// workers next (beam.Reshuffle, or ClaimOutputs, which groups them).
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
	return storage.Match(ctx, pattern, func(o storage.Object) error {
		if excluded(o.URI, f.Exclude) || inReportFolder(o.URI, root) {
			return nil
		}
		progress().AddTotal(1)
		emit(enhance.Input{URI: o.URI, Root: root, OutsideRoot: o.OutsideRoot, Version: o.Version()})
		return nil
	})
}

// inReportFolder reports whether uri lies in a folder named report.DirName below root: the tool's
// own report of an earlier job (an old default put the report job's inside its input).
func inReportFolder(uri, root string) bool {
	rel, err := storage.Rel(root, uri)
	return err == nil && slices.Contains(strings.Split(path.Dir(rel), "/"), report.DirName)
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
