package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"syscall"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
)

// notExistError marks a GCS "object (or bucket) doesn't exist" error so that
// it also satisfies errors.Is(err, fs.ErrNotExist), like a missing local file.
type notExistError struct{ err error }

func (e notExistError) Error() string        { return e.err.Error() }
func (e notExistError) Unwrap() error        { return e.err }
func (e notExistError) Is(target error) bool { return target == fs.ErrNotExist }

// wrapErr adds the operation op and uri to err: "storage: op uri: err". GCS
// not-found errors also become fs.ErrNotExist.
func wrapErr(op, uri string, err error) error {
	var gErr *googleapi.Error
	if errors.Is(err, gcs.ErrObjectNotExist) || errors.Is(err, gcs.ErrBucketNotExist) ||
		(errors.As(err, &gErr) && gErr.Code == http.StatusNotFound) {
		err = notExistError{err}
	}
	return fmt.Errorf("storage: %s %s: %w", op, uri, err)
}

// Transient reports whether err is a fault that retrying the same call may
// fix: GCS 408, 429 and 5xx responses, a context deadline or I/O timeout on a
// network call, a reset, refused or broken connection, or a connection cut
// mid-response. It is false for nil, for not-found, permission-denied and
// bad-request responses, for a cancelled context, and for any other error,
// which callers should treat as permanent (dead-letter, not retry).
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) {
		return false
	}
	var gErr *googleapi.Error
	if errors.As(err, &gErr) {
		return gErr.Code == http.StatusRequestTimeout || gErr.Code == http.StatusTooManyRequests ||
			(gErr.Code >= 500 && gErr.Code < 600)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var nErr net.Error
	if errors.As(err, &nErr) && nErr.Timeout() {
		return true
	}
	// storage.ShouldRetry type-switches on its argument without unwrapping,
	// so give it every error in the chain (gRPC codes, url.Error strings).
	for e := err; e != nil; e = errors.Unwrap(e) {
		if gcs.ShouldRetry(e) {
			return true
		}
	}
	return false
}
