package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/api/googleapi"
)

// retryPolicy says how a storage call retries the faults that Transient calls transient.
type retryPolicy struct {
	// attempts bounds the tries of one call, the first included.
	attempts int
	// initial and maxWait bound the wait before a retry: it doubles from initial up to maxWait,
	// and each wait is drawn uniformly below its bound ("full jitter"), so that many workers
	// hit by one outage do not come back in step.
	initial, maxWait time.Duration
	// attemptTimeout bounds one try, so a connection that stalls is abandoned and retried.
	attemptTimeout time.Duration
	// total bounds all tries of a call with their waits: no retry starts after it.
	total time.Duration
}

// MaxTries is how many times a call of this package is tried before its error is returned.
const MaxTries = 8

// defaultRetry is the policy of every call of this package: up to MaxTries tries within 5
// minutes, one try at most 2 minutes, waits from 100 ms doubling to 10 s. Eight tries make a call
// that meets a fault one time in five fail about once in 400,000; an outage of a few minutes is
// outlasted.
var defaultRetry = retryPolicy{attempts: MaxTries, initial: 100 * time.Millisecond, maxWait: 10 * time.Second,
	attemptTimeout: 2 * time.Minute, total: 5 * time.Minute}

// retry runs call until it succeeds, fails with an error that is not transient, or the policy is
// spent (the last error is returned, with the number of tries). Each try gets a context bounded
// by the policy's attempt timeout; the faults retried are counted (see Retries and CountRetries).
func retry(ctx context.Context, p retryPolicy, call func(ctx context.Context) error) error {
	start := time.Now()
	wait := p.initial
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.attemptTimeout)
		err := call(actx)
		cancel()
		if err == nil || !Transient(err) || ctx.Err() != nil {
			return err
		}
		if attempt >= p.attempts || time.Since(start)+wait > p.total {
			return fmt.Errorf("%w (after %d tries)", err, attempt)
		}
		countRetry(ctx, faultKind(err))
		t := time.NewTimer(rand.N(wait) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, p.maxWait)
	}
}

// faultKind names the kind of a transient fault, for the counts: "http_429", "http_503", ...,
// "reset", "refused", "broken_pipe", "eof", "timeout", or "other".
func faultKind(err error) string {
	var gErr *googleapi.Error
	var nErr net.Error
	switch {
	case errors.As(err, &gErr):
		return fmt.Sprintf("http_%d", gErr.Code)
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED):
		return "broken_pipe"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "eof" // a connection closed before or during the answer
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &nErr) && nErr.Timeout()):
		return "timeout"
	}
	var hErr interface{ StatusCode() int } // some HTTP errors of the client carry only a status
	if errors.As(err, &hErr) && hErr.StatusCode() >= http.StatusBadRequest {
		return fmt.Sprintf("http_%d", hErr.StatusCode())
	}
	return "other"
}

// RetryCounts counts retried faults by kind. Its methods are safe for concurrent use.
type RetryCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *RetryCounts) add(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[kind]++
}

// Counts returns a copy of the counts by kind; nil when nothing was retried.
func (c *RetryCounts) Counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.n) == 0 {
		return nil
	}
	return maps.Clone(c.n)
}

// processRetries counts every retry of the process.
var processRetries RetryCounts

// Retries returns the faults this process's storage calls retried, by kind: with Beam's runner
// in-process, those of the whole job.
func Retries() map[string]int64 { return processRetries.Counts() }

type retryCountsKey struct{}

// CountRetries returns a context whose storage calls also count their retries in the returned
// counts (the journey of one input counts its own this way).
func CountRetries(ctx context.Context) (context.Context, *RetryCounts) {
	c := new(RetryCounts)
	return context.WithValue(ctx, retryCountsKey{}, c), c
}

func countRetry(ctx context.Context, kind string) {
	processRetries.add(kind)
	if c, ok := ctx.Value(retryCountsKey{}).(*RetryCounts); ok {
		c.add(kind)
	}
}
