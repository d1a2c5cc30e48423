// Package gcstest runs an in-process fake GCS server
// (github.com/fsouza/fake-gcs-server) for tests of code that uses package
// storage with gs:// URIs.
package gcstest

import (
	"maps"
	"net/url"
	"slices"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"jpegrestore/storage"
)

// Start starts a fake GCS server on a free loopback port holding bucket with
// objects (object name → content; may be nil), points package storage at it
// and returns its "127.0.0.1:port".
//
// It sets STORAGE_EMULATOR_HOST with t.Setenv, so it cannot be used in
// parallel tests, and resets storage's shared client so the next gs:// call
// uses the emulator. t.Cleanup resets the client again, stops the server and
// restores the variable. Call Start at most once per test: a second call
// would replace the first server.
func Start(t testing.TB, bucket string, objects map[string][]byte) (host string) {
	t.Helper()
	initial := make([]fakestorage.Object, 0, len(objects))
	for _, name := range slices.Sorted(maps.Keys(objects)) {
		initial = append(initial, fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: name},
			Content:     objects[name],
		})
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		InitialObjects: initial,
		Scheme:         "http",
		Host:           "127.0.0.1",
		Port:           0, // httptest picks a free 127.0.0.1 port.
		// Reads use the XML API at the emulator's host; the fake serves it
		// only when PublicHost is the host name without the port.
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("gcstest: start fake GCS server: %v", err)
	}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	u, err := url.Parse(srv.URL())
	if err != nil {
		srv.Stop()
		t.Fatalf("gcstest: fake GCS server URL %q: %v", srv.URL(), err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	storage.ResetClientForTest()
	t.Cleanup(func() {
		storage.ResetClientForTest()
		srv.Stop()
	})
	return u.Host
}
