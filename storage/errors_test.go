package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
)

func TestTransient(t *testing.T) {
	connReset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", &googleapi.Error{Code: 429}, true},
		{"500", &googleapi.Error{Code: 500}, true},
		{"503 wrapped", fmt.Errorf("storage: read gs://b/x: %w", &googleapi.Error{Code: 503}), true},
		{"408", &googleapi.Error{Code: 408}, true},
		{"400", &googleapi.Error{Code: 400}, false},
		{"401", &googleapi.Error{Code: 401}, false},
		{"403", &googleapi.Error{Code: 403}, false},
		{"404", &googleapi.Error{Code: 404}, false},
		{"object not exist", wrapErr("read", "gs://b/x", gcs.ErrObjectNotExist), false},
		{"bucket not exist", wrapErr("read", "gs://b/x", gcs.ErrBucketNotExist), false},
		{"local not exist", wrapErr("read", "/x", &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}), false},
		{"local permission", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, false},
		{"deadline", fmt.Errorf("storage: read gs://b/x: %w", context.DeadlineExceeded), true},
		{"canceled", fmt.Errorf("storage: read gs://b/x: %w", context.Canceled), false},
		{"connection reset", fmt.Errorf("storage: read gs://b/x: %w", connReset), true},
		{"connection refused", &url.Error{Op: "Get", URL: "http://h", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"reset by string", &url.Error{Op: "Get", URL: "http://h", Err: errors.New("read: connection reset by peer")}, true},
		{"unexpected EOF", fmt.Errorf("storage: read gs://b/x: %w", io.ErrUnexpectedEOF), true},
		{"io timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{"other", errors.New("jpeg: corrupt"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Transient(tc.err); got != tc.want {
				t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrapErrNotExist(t *testing.T) {
	err := wrapErr("read", "gs://b/x.jpg", gcs.ErrObjectNotExist)
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, gcs.ErrObjectNotExist) {
		t.Errorf("wrapErr(ErrObjectNotExist) = %v, want fs.ErrNotExist and gcs.ErrObjectNotExist", err)
	}
	if got, want := err.Error(), "storage: read gs://b/x.jpg: storage: object doesn't exist"; got != want {
		t.Errorf("wrapErr message = %q, want %q", got, want)
	}
}
