package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
)

var quick = retryPolicy{attempts: 4, initial: time.Millisecond, maxWait: 4 * time.Millisecond,
	attemptTimeout: 50 * time.Millisecond, total: time.Second}

func TestRetry(t *testing.T) {
	unavailable := &googleapi.Error{Code: 503}
	reset := fmt.Errorf("read: %w", syscall.ECONNRESET)
	denied := &googleapi.Error{Code: 403}
	for _, tc := range []struct {
		name      string
		faults    []error // the errors of the first tries; then success
		wantTries int
		wantErr   string
		wantKinds map[string]int64
	}{
		{"succeeds", nil, 1, "", nil},
		{"transient then ok", []error{unavailable, reset, unavailable}, 4, "", map[string]int64{"http_503": 2, "reset": 1}},
		{"not transient", []error{denied, nil}, 1, "403", nil},
		{"spent", []error{reset, reset, reset, reset, reset}, 4, "after 4 tries", map[string]int64{"reset": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, counts := CountRetries(context.Background())
			tries := 0
			err := retry(ctx, quick, func(context.Context) error {
				tries++
				if tries <= len(tc.faults) {
					return tc.faults[tries-1]
				}
				return nil
			})
			if tries != tc.wantTries || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("%d tries, error %v; want %d tries, error with %q", tries, err, tc.wantTries, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantKinds, counts.Counts()); diff != "" {
				t.Errorf("counted (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRetryDeadlines: a try that stalls is abandoned at the attempt timeout and tried again; a
// cancelled caller stops the retries.
func TestRetryDeadlines(t *testing.T) {
	tries := 0
	err := retry(context.Background(), quick, func(ctx context.Context) error {
		tries++
		if tries == 1 {
			<-ctx.Done() // stalls until the try's deadline
			return ctx.Err()
		}
		return nil
	})
	if err != nil || tries != 2 {
		t.Errorf("stalled first try: %d tries, %v", tries, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tries = 0
	err = retry(ctx, quick, func(context.Context) error {
		tries++
		cancel()
		return &googleapi.Error{Code: 503}
	})
	if tries != 1 || err == nil {
		t.Errorf("cancelled caller: %d tries, %v", tries, err)
	}
}

func TestFaultKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&googleapi.Error{Code: 429}, "http_429"},
		{fmt.Errorf("x: %w", &googleapi.Error{Code: 503}), "http_503"},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), "reset"},
		{errors.New("read tcp: connection reset by peer"), "reset"},
		{fmt.Errorf("x: %w", syscall.ECONNREFUSED), "refused"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
	} {
		if got := faultKind(tc.err); got != tc.want {
			t.Errorf("faultKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
