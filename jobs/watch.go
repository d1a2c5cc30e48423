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

// RunWatch runs cycles until ctx is done (a clean stop, nil error) or Cycles have run. Inputs that
// fail are reported in each cycle's records and retried in the next. A first cycle that fails as
// a job (bad usage, models that do not load) ends the watch with its error; a later one (the
// bucket unreachable for longer than the retries last, say) is logged and the next cycle tries
// again, so a recurring job outlives an outage. When the last of Cycles fails, its error is
// returned with the last good cycle's result.
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
	var (
		last    *Result
		lastErr error
	)
	for cycle := 1; c.Cycles == 0 || cycle <= c.Cycles; cycle++ {
		res, err := RunRestore(ctx, c.RestoreConfig)
		if ctx.Err() != nil {
			return last, nil
		}
		now := time.Now().Format(time.TimeOnly)
		switch {
		case err != nil && cycle == 1:
			return nil, err
		case err != nil:
			var usage UsageError
			if errors.As(err, &usage) {
				err = usage.Err // the first cycle passed these checks: the world changed, not the usage
			}
			lastErr = err
			fmt.Fprintf(c.Log, "%s cycle %d failed: %v (the next cycle tries again in %s)\n", now, cycle, err, c.Interval)
		default:
			last, lastErr = res, nil
			c.outputsChecked = true // no write probe each cycle: the cycles' reports are written there
			fmt.Fprintf(c.Log, "%s cycle %d: %s\n", now, cycle, res.Summary.Totals.Line(report.StatusRestored))
		}
		if c.Cycles != 0 && cycle == c.Cycles {
			break
		}
		select {
		case <-ctx.Done():
			return last, nil
		case <-time.After(c.Interval):
		}
	}
	return last, lastErr
}
