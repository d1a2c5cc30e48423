package transforms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/storage"
)

func init() {
	register.DoFn2x1[context.Context, string, error](&writeShardsFn{})
}

// WriteShards appends each line to shard files under dir, one or more per bundle, each holding at
// most maxLines lines; nothing is grouped, so memory stays bounded by maxLines whatever the
// collection's size (Beam's textio.Write groups every line onto one worker first). A bundle that
// is retried may leave the lines of its failed attempt in a shard too: whoever merges the shards
// drops repeated elements.
func WriteShards(s beam.Scope, dir string, maxLines int, lines beam.PCollection) {
	s = s.Scope("transforms.WriteShards")
	if maxLines <= 0 {
		panic("transforms.WriteShards: maxLines must be positive")
	}
	beam.ParDo0(s, &writeShardsFn{Dir: dir, MaxLines: maxLines}, lines)
}

type writeShardsFn struct {
	Dir      string `json:"dir"`
	MaxLines int    `json:"max_lines"`

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
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	name := storage.Join(f.Dir, fmt.Sprintf("shard-%s.jsonl", hex.EncodeToString(id[:])))
	if err := storage.WriteFile(ctx, name, f.buf.Bytes()); err != nil {
		return err // transient or not, the bundle is retried: its lines must not be lost
	}
	f.buf.Reset()
	f.n = 0
	return nil
}
