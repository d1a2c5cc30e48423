package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	gcs "cloud.google.com/go/storage"
)

// Writer streams a new file or object. Nothing appears under the name until Commit succeeds;
// Abort (or a failed Commit) leaves the old content, if any, in place.
type Writer struct {
	*bufio.Writer
	uri    string
	commit func() error
	abort  func()
}

// Create starts writing uri. Locally it writes a temporary file beside the target and renames it
// on Commit; on GCS it streams one resumable upload that Commit completes and Abort cancels. The
// content is not held, so a try cannot be made again as a whole: the upload retries each chunk
// that meets a transient fault instead (the library's own retries, with this package's bounds).
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
		w := c.Bucket(bucket).Object(object).Retryer(chunkRetry()...).NewWriter(ctx)
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
	err := retry(ctx, defaultRetry, func(ctx context.Context) error {
		if !IsGCS(uri) {
			return os.Remove(uri)
		}
		bucket, object, err := splitGCS(uri)
		if err != nil {
			return err
		}
		c, err := client(ctx)
		if err != nil {
			return err
		}
		return c.Bucket(bucket).Object(object).Delete(ctx)
	})
	if errors.Is(err, gcs.ErrObjectNotExist) || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return wrapErr("delete", uri, err)
	}
	return nil
}
