package transforms

import (
	"bytes"
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn2x1[context.Context, string, error](&writeShardsFn{})
	register.DoFn2x1[context.Context, []byte, error](&writeFileFn{})
}

// WriteShards appends each line to record shards of the report folder (report.Folder.NewShard),
// one or more per bundle, each holding at most maxLines lines; nothing is grouped, so memory stays
// bounded by maxLines whatever the collection's size (Beam's textio.Write groups every line onto
// one worker first). A bundle that is retried may leave the lines of its failed attempt in a
// shard too: report.Folder.MergeShards drops repeated records.
func WriteShards(s beam.Scope, f report.Folder, maxLines int, lines beam.PCollection) {
	s = s.Scope("transforms.WriteShards")
	if maxLines <= 0 {
		panic("transforms.WriteShards: maxLines must be positive")
	}
	beam.ParDo0(s, &writeShardsFn{Folder: f, MaxLines: maxLines}, lines)
}

type writeShardsFn struct {
	Folder   report.Folder `json:"folder"`
	MaxLines int           `json:"max_lines"`

	buf bytes.Buffer
	n   int
}

func (f *writeShardsFn) StartBundle(ctx context.Context) error {
	f.buf.Reset()
	f.n = 0
	return nil
}

func (f *writeShardsFn) ProcessElement(ctx context.Context, line string) error {
	f.buf.WriteString(line)
	f.buf.WriteByte('\n')
	f.n++
	if f.n >= f.MaxLines {
		return f.flush(ctx)
	}
	return nil
}

func (f *writeShardsFn) FinishBundle(ctx context.Context) error { return f.flush(ctx) }

func (f *writeShardsFn) flush(ctx context.Context) error {
	if f.n == 0 {
		return nil
	}
	name, err := f.Folder.NewShard()
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, name, f.buf.Bytes()); err != nil {
		return err // transient or not, the bundle is retried: its lines must not be lost
	}
	f.buf.Reset()
	f.n = 0
	return nil
}

// WriteFile writes each element of data (a collection of one: a combiner's output, encoded) to
// uri.
func WriteFile(s beam.Scope, uri string, data beam.PCollection) {
	s = s.Scope("transforms.WriteFile")
	beam.ParDo0(s, &writeFileFn{URI: uri}, data)
}

type writeFileFn struct {
	URI string `json:"uri"`
}

func (f *writeFileFn) ProcessElement(ctx context.Context, data []byte) error {
	return storage.WriteFile(ctx, f.URI, data)
}
