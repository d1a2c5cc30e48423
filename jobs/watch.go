package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"jpegrestore/report"
)

// WatchConfig is the recurring job: restore what is new in the inputs every Interval. Each cycle
// runs the restore pipeline over everything matched; outputs that are complete (same input, model
// and settings) are skipped without decoding, so only new or changed objects are restored.
type WatchConfig struct {
	RestoreConfig
	// Interval is the pause between the end of one cycle and the start of the next; 0 means 30s.
	Interval time.Duration
	// Cycles stops after this many cycles; 0 means until the context is cancelled.
	Cycles int
	// Log receives one line per cycle.
	Log io.Writer
}

// RunWatch runs cycles until ctx is done (a clean stop, nil error) or a cycle fails as a job.
// Inputs that fail are reported in each cycle's records and retried in the next.
func RunWatch(ctx context.Context, c WatchConfig) (*Result, error) {
	if c.Interval == 0 {
		c.Interval = 30 * time.Second
	}
	if c.Interval < 0 || c.Cycles < 0 {
		return nil, errors.New("watch: negative --interval or --cycles")
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	var last *Result
	for cycle := 1; c.Cycles == 0 || cycle <= c.Cycles; cycle++ {
		res, err := RunRestore(ctx, c.RestoreConfig)
		if ctx.Err() != nil {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		last = res
		t := res.Summary.Totals
		fmt.Fprintf(c.Log, "%s cycle %d: %s\n", time.Now().Format(time.TimeOnly), cycle, t.Line(report.StatusRestored))
		if c.Cycles != 0 && cycle == c.Cycles {
			break
		}
		select {
		case <-ctx.Done():
			return last, nil
		case <-time.After(c.Interval):
		}
	}
	return last, nil
}
