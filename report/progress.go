package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressBarWidth is the number of cells of the progress bar.
const progressBarWidth = 16

// Progress is the progress line of a local run:
//
//	[####............] 1234/5000  12.3 img/s  4.56 MP/s  ETA 5m12s
//
// MP/s is the restored megapixels per second of job wall time, the one throughput figure of the
// tool (the report's too); it is left out while nothing was restored. The counters are atomic, so
// AddTotal and Done may be called from any goroutine. On a terminal Start redraws the line in
// place ("\r"); elsewhere (a log file, cron, CI) it writes a whole line each time.
type Progress struct {
	w     io.Writer
	term  bool
	start time.Time

	total  atomic.Int64
	done   atomic.Int64
	pixels atomic.Int64

	mu      sync.Mutex // guards the fields below and writes to w
	stop    chan struct{}
	stopped chan struct{}
	width   int // length of the last line drawn, to blank what a shorter line leaves
}

// NewProgress returns a progress line drawn to w; isTerminal says whether w is a terminal (see
// IsTerminal). Rates are measured from the call.
func NewProgress(w io.Writer, isTerminal bool) *Progress {
	return &Progress{w: w, term: isTerminal, start: time.Now()}
}

// Interval is how often the line is best drawn: twice a second on a terminal, every 30 seconds
// in a log.
func (p *Progress) Interval() time.Duration {
	if p.term {
		return 500 * time.Millisecond
	}
	return 30 * time.Second
}

// AddTotal adds n inputs to the expected total (the matcher calls it as it finds files).
func (p *Progress) AddTotal(n int) { p.total.Add(int64(n)) }

// Done counts one finished input, with the megapixels it restored (0 for one it did not restore).
func (p *Progress) Done(restoredMegapixels float64) {
	p.done.Add(1)
	if finite(restoredMegapixels) && restoredMegapixels > 0 {
		p.pixels.Add(int64(math.Round(restoredMegapixels * 1e6)))
	}
}

// Counts returns the finished and the expected number of inputs.
func (p *Progress) Counts() (done, total int64) { return p.done.Load(), p.total.Load() }

// Render returns the progress line as of now, without a line ending. Before any total is known
// the count reads "1234/?" and the ETA "?".
func (p *Progress) Render(now time.Time) string {
	done, total, pixels := p.done.Load(), p.total.Load(), p.pixels.Load()
	secs := now.Sub(p.start).Seconds()
	var ips, mps float64
	if secs > 0 {
		ips = float64(done) / secs
		mps = float64(pixels) / 1e6 / secs
	}
	filled := 0
	count := fmt.Sprintf("%d/?", done)
	eta := "?"
	if total > 0 {
		filled = int(min(done, total) * progressBarWidth / total)
		count = fmt.Sprintf("%d/%d", done, total)
		switch {
		case done >= total:
			eta = "0s"
		case ips > 0:
			left := time.Duration(float64(total-done) / ips * float64(time.Second))
			eta = left.Round(time.Second).String()
		}
	}
	bar := strings.Repeat("#", filled) + strings.Repeat(".", progressBarWidth-filled)
	rate := ""
	if pixels > 0 {
		rate = fmt.Sprintf("  %.2f MP/s", mps)
	}
	return fmt.Sprintf("[%s] %s  %.1f img/s%s  ETA %s", bar, count, ips, rate, eta)
}

// Reset zeroes the counters for a new run drawn on the same line (a watch's next cycle); call it
// before Start.
func (p *Progress) Reset() {
	p.total.Store(0)
	p.done.Store(0)
	p.pixels.Store(0)
}

// Start draws the line every interval until Stop, rates measured from now on; it does nothing
// when interval ≤ 0 or when already started.
func (p *Progress) Start(interval time.Duration) {
	if interval <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		return
	}
	p.start = time.Now()
	p.stop, p.stopped = make(chan struct{}), make(chan struct{})
	go p.loop(interval, p.stop, p.stopped)
}

func (p *Progress) loop(interval time.Duration, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			p.draw(now)
			p.mu.Unlock()
		}
	}
}

// draw writes the line: over the previous one on a terminal, as a line of its own elsewhere;
// p.mu is held.
func (p *Progress) draw(now time.Time) {
	line := p.Render(now)
	if !p.term {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
}

// Stop ends the draws started by Start and draws the final line, ending it with a newline. It
// does nothing if Start drew nothing; calling it again is harmless.
func (p *Progress) Stop() {
	p.mu.Lock()
	stop, stopped := p.stop, p.stopped
	p.stop = nil
	p.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(time.Now())
	if p.term {
		fmt.Fprint(p.w, "\n")
	}
	p.width = 0
}

// IsTerminal reports whether f is a terminal (a character device), using only the standard
// library; false for pipes, regular files and nil. Like any mode check it also says true for
// other character devices such as /dev/null.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
