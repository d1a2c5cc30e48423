package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
)

// ReadFile returns the whole content of the file or object uri.
func ReadFile(ctx context.Context, uri string) ([]byte, error) {
	return read(ctx, "read", uri, -1)
}

// ReadHead returns the first n bytes of the file or object uri, or all of it
// if it is shorter than n bytes. n must not be negative; GCS reads use a range
// request, so only about n bytes travel.
func ReadHead(ctx context.Context, uri string, n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("storage: read head %s: negative length %d", uri, n)
	}
	return read(ctx, "read head", uri, n)
}

// read returns the first n bytes of uri (all of it if n < 0), retrying transient faults.
func read(ctx context.Context, op, uri string, n int64) ([]byte, error) {
	var data []byte
	err := retry(ctx, defaultRetry, func(ctx context.Context) error {
		var err error
		data, err = readOnce(ctx, uri, n)
		return err
	})
	if err != nil {
		return nil, wrapErr(op, uri, err)
	}
	return data, nil
}

// readOnce is one try of read.
func readOnce(ctx context.Context, uri string, n int64) ([]byte, error) {
	var (
		r   io.ReadCloser
		err error
	)
	if IsGCS(uri) {
		r, err = openGCS(ctx, uri, n)
		var gErr *googleapi.Error
		if n >= 0 && errors.As(err, &gErr) && gErr.Code == http.StatusRequestedRangeNotSatisfiable {
			// A range from offset 0 is unsatisfiable only for an empty object
			// (GCS and the fake answer 416 there).
			return []byte{}, nil
		}
	} else {
		r, err = os.Open(uri)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if n >= 0 {
		return io.ReadAll(io.LimitReader(r, n))
	}
	return io.ReadAll(r)
}

// openGCS opens a reader for the first n bytes of the object uri (all of it
// if n < 0).
func openGCS(ctx context.Context, uri string, n int64) (io.ReadCloser, error) {
	bucket, object, err := splitGCS(uri)
	if err != nil {
		return nil, err
	}
	c, err := client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Bucket(bucket).Object(object).NewRangeReader(ctx, 0, n)
}

// Stat describes the file or object uri. If it does not exist, the error
// satisfies errors.Is(err, fs.ErrNotExist). A local folder is an error.
func Stat(ctx context.Context, uri string) (Object, error) {
	if !IsGCS(uri) {
		info, err := os.Stat(uri)
		if err != nil {
			return Object{}, wrapErr("stat", uri, err)
		}
		if info.IsDir() {
			return Object{}, fmt.Errorf("storage: stat %s: is a folder", uri)
		}
		return Object{URI: uri, Size: info.Size(), ModTime: info.ModTime()}, nil
	}
	bucket, object, err := splitGCS(uri)
	if err != nil {
		return Object{}, err
	}
	var attrs *gcs.ObjectAttrs
	err = retry(ctx, defaultRetry, func(ctx context.Context) error {
		c, err := client(ctx)
		if err == nil {
			attrs, err = c.Bucket(bucket).Object(object).Attrs(ctx)
		}
		return err
	})
	if err != nil {
		return Object{}, wrapErr("stat", uri, err)
	}
	return objectFromAttrs(bucket, attrs), nil
}

// WriteFile writes data to the file or object uri, replacing it if it exists.
// Readers see the old content or the new one, never a part.
//
// Locally it writes a temporary file (named ".jpegrestore-tmp*", which Match
// skips) in the target's folder, creating missing parent folders (mode 0755),
// syncs it, renames it over the target (mode 0644) and syncs the folder. On
// GCS it makes one upload, which creates the object only when it completes;
// on error the upload is cancelled. A write replaces the whole object with the
// same bytes each time, so a try that failed halfway is simply made again.
func WriteFile(ctx context.Context, uri string, data []byte) error {
	if IsGCS(uri) {
		return retry(ctx, defaultRetry, func(ctx context.Context) error { return writeGCS(ctx, uri, data) })
	}
	if err := retry(ctx, defaultRetry, func(context.Context) error { return writeLocal(uri, data) }); err != nil {
		return fmt.Errorf("storage: write %s: %w", uri, err)
	}
	return nil
}

// writeGCS is WriteFile for gs:// URIs.
func writeGCS(ctx context.Context, uri string, data []byte) error {
	bucket, object, err := splitGCS(uri)
	if err != nil {
		return err
	}
	if object == "" {
		return fmt.Errorf("storage: write %s: no object name", uri)
	}
	c, err := client(ctx)
	if err != nil {
		return wrapErr("write", uri, err)
	}
	// Cancelling the writer's context aborts the upload, so a failed write
	// never commits a partial object.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := c.Bucket(bucket).Object(object).NewWriter(ctx)
	if _, err := w.Write(data); err != nil {
		cancel()
		_ = w.Close() // Returns the same error, or context.Canceled.
		return wrapErr("write", uri, err)
	}
	if err := w.Close(); err != nil {
		return wrapErr("write", uri, err)
	}
	return nil
}

// writeLocal is WriteFile for local paths.
func writeLocal(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // Already closed on the success path.
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs the folder dir, so a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
