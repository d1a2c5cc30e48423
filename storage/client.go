package storage

import (
	"context"
	"fmt"
	"sync"

	gcs "cloud.google.com/go/storage"
	gax "github.com/googleapis/gax-go/v2"
)

// gcsClient is the process-wide GCS client, made on first use.
var gcsClient struct {
	mu sync.Mutex
	c  *gcs.Client
}

// client returns the process-wide GCS client, creating it on first use. A
// failed creation is not cached, so the next call tries again. The client makes
// one attempt per call: this package retries (retry.go), with one policy for
// local and GCS calls, a deadline per try and counts of what it retried; only
// streamed uploads (Create) keep the library's chunk retries.
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
	c.SetRetry(gcs.WithPolicy(gcs.RetryNever))
	gcsClient.c = c
	return c, nil
}

// chunkRetry is the library's retry configuration for a streamed upload's
// chunks: every upload of ours is idempotent (the same name gets the same
// bytes), so chunks are retried on the faults Transient names, as often and as
// long as defaultRetry allows, and counted in Retries.
func chunkRetry() []gcs.RetryOption {
	return []gcs.RetryOption{
		gcs.WithPolicy(gcs.RetryAlways),
		gcs.WithMaxAttempts(defaultRetry.attempts),
		gcs.WithBackoff(gax.Backoff{Initial: defaultRetry.initial, Max: defaultRetry.maxWait, Multiplier: 2}),
		gcs.WithErrorFunc(func(err error) bool {
			if !Transient(err) {
				return false
			}
			processRetries.add(faultKind(err))
			return true
		}),
	}
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
