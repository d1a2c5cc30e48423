package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	gcs "cloud.google.com/go/storage"
)

// Open returns a reader of the whole file or object uri, for content too large to hold in memory.
func Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	if IsGCS(uri) {
		r, err := openGCS(ctx, uri, -1)
		if err != nil {
			return nil, wrapErr("open", uri, err)
		}
		return r, nil
	}
	f, err := os.Open(uri)
	if err != nil {
		return nil, wrapErr("open", uri, err)
	}
	return f, nil
}

// Writer streams a new file or object. Nothing appears under the name until Commit succeeds;
// Abort (or a failed Commit) leaves the old content, if any, in place.
type Writer struct {
	*bufio.Writer
	uri    string
	commit func() error
	abort  func()
}

// Create starts writing uri. Locally it writes a temporary file beside the target and renames it
// on Commit; on GCS it streams one upload that Commit completes and Abort cancels.
func Create(ctx context.Context, uri string) (*Writer, error) {
	if IsGCS(uri) {
		bucket, object, err := splitGCS(uri)
		if err != nil {
			return nil, err
		}
		c, err := client(ctx)
		if err != nil {
			return nil, wrapErr("create", uri, err)
		}
		ctx, cancel := context.WithCancel(ctx)
		w := c.Bucket(bucket).Object(object).NewWriter(ctx)
		return &Writer{Writer: bufio.NewWriterSize(w, 1<<20), uri: uri,
			commit: func() error { defer cancel(); return w.Close() },
			abort:  func() { cancel(); _ = w.Close() }}, nil
	}
	dir := filepath.Dir(uri)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, wrapErr("create", uri, err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"-*")
	if err != nil {
		return nil, wrapErr("create", uri, err)
	}
	tmp := f.Name()
	return &Writer{Writer: bufio.NewWriterSize(f, 1<<20), uri: uri,
		commit: func() error {
			err := errors.Join(f.Chmod(0o644), f.Sync(), f.Close())
			if err == nil {
				err = os.Rename(tmp, uri)
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			return syncDir(dir)
		},
		abort: func() { f.Close(); os.Remove(tmp) }}, nil
}

// Commit flushes and publishes the content under the name.
func (w *Writer) Commit() error {
	if err := w.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("storage: write %s: %w", w.uri, err)
	}
	if err := w.commit(); err != nil {
		return fmt.Errorf("storage: write %s: %w", w.uri, err)
	}
	return nil
}

// Abort discards what was written.
func (w *Writer) Abort() { w.abort() }

// Delete removes a file or object; a missing one is not an error.
func Delete(ctx context.Context, uri string) error {
	var err error
	if IsGCS(uri) {
		var bucket, object string
		if bucket, object, err = splitGCS(uri); err != nil {
			return err
		}
		var c *gcs.Client
		if c, err = client(ctx); err == nil {
			err = c.Bucket(bucket).Object(object).Delete(ctx)
			if errors.Is(err, gcs.ErrObjectNotExist) {
				err = nil
			}
		}
	} else if err = os.Remove(uri); errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return wrapErr("delete", uri, err)
	}
	return nil
}
