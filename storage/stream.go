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

// Open returns a reader of the whole file or object uri, for content too large to hold in
// memory. Opening retries transient faults; so does reading a GCS object: a read that fails
// midway opens the object again where it stopped (a range read of the generation first opened,
// so a replaced object cannot be mixed into it), at most MaxTries times in a row.
func Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	if !IsGCS(uri) {
		f, err := os.Open(uri)
		if err != nil {
			return nil, wrapErr("open", uri, err)
		}
		return f, nil
	}
	r := &gcsReader{ctx: ctx, uri: uri}
	if err := r.open(); err != nil {
		return nil, wrapErr("open", uri, err)
	}
	return r, nil
}

// gcsReader reads a GCS object, reopening it where it stopped after a transient fault.
type gcsReader struct {
	ctx    context.Context
	uri    string
	gen    int64 // the generation first opened; 0 before
	off    int64
	r      io.ReadCloser
	faults int // in a row
}

func (g *gcsReader) open() error {
	bucket, object, err := splitGCS(g.uri)
	if err != nil {
		return err
	}
	return retry(g.ctx, defaultRetry, func(ctx context.Context) error {
		c, err := client(ctx)
		if err != nil {
			return err
		}
		obj := c.Bucket(bucket).Object(object)
		if g.gen != 0 {
			obj = obj.Generation(g.gen)
		}
		// The reader outlives this try: it reads with the caller's context.
		r, err := obj.NewRangeReader(g.ctx, g.off, -1)
		if err != nil {
			return err
		}
		g.r, g.gen = r, r.Attrs.Generation
		return nil
	})
}

func (g *gcsReader) Read(p []byte) (int, error) {
	for {
		if g.r == nil {
			if err := g.open(); err != nil {
				return 0, wrapErr("read", g.uri, err)
			}
		}
		n, err := g.r.Read(p)
		g.off += int64(n)
		if err == nil || err == io.EOF || !Transient(err) {
			if n > 0 {
				g.faults = 0
			}
			return n, err
		}
		g.r.Close()
		g.r = nil
		if g.faults++; g.faults >= MaxTries {
			return n, wrapErr("read", g.uri, fmt.Errorf("%w (after %d tries)", err, g.faults))
		}
		countRetry(g.ctx, faultKind(err))
		if n > 0 {
			return n, nil
		}
	}
}

func (g *gcsReader) Close() error {
	if g.r == nil {
		return nil
	}
	return g.r.Close()
}
