package storage

import (
	"context"
	"fmt"
	"sync"

	gcs "cloud.google.com/go/storage"
)

// maxAttempts is how many times the GCS client tries a call that fails with a
// retryable error (with the library's exponential backoff: 1 s, 2 s, 4 s, ...)
// before returning the error.
const maxAttempts = 4

// gcsClient is the process-wide GCS client, made on first use.
var gcsClient struct {
	mu sync.Mutex
	c  *gcs.Client
}

// client returns the process-wide GCS client, creating it on first use. A
// failed creation is not cached, so the next call tries again. The client makes
// at most maxAttempts attempts per call.
//
// storage.NewClient (v1.67.1) reads STORAGE_EMULATOR_HOST itself: when it is
// set, the client talks to that host and adds option.WithoutAuthentication, so
// no credentials are looked up.
func client(ctx context.Context) (*gcs.Client, error) {
	gcsClient.mu.Lock()
	defer gcsClient.mu.Unlock()
	if gcsClient.c != nil {
		return gcsClient.c, nil
	}
	// The client outlives this call: keep ctx's values, not its deadline.
	c, err := gcs.NewClient(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("storage: new GCS client: %w", err)
	}
	// Without a limit the library retries transient errors until ctx ends;
	// bound it so the error reaches the caller, which classifies it with
	// Transient and lets the runner retry.
	c.SetRetry(gcs.WithMaxAttempts(maxAttempts))
	gcsClient.c = c
	return c, nil
}

// ResetClientForTest closes and forgets the process-wide GCS client, so the
// next GCS call makes a new one that reads STORAGE_EMULATOR_HOST again.
// It is meant for tests (package gcstest calls it); calls in flight on the old
// client fail.
func ResetClientForTest() {
	gcsClient.mu.Lock()
	defer gcsClient.mu.Unlock()
	if gcsClient.c != nil {
		_ = gcsClient.c.Close() // Close of an HTTP client only releases resources.
		gcsClient.c = nil
	}
}
