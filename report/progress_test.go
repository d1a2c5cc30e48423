package report

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProgressRender(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		total   int
		done    int
		mp      float64 // per image
		elapsed time.Duration
		want    string
	}{
		{name: "nothing yet", elapsed: 0,
			want: "[................] 0/?  0.0 img/s  ETA ?"},
		{name: "total unknown", done: 30, mp: 1, elapsed: 10 * time.Second,
			want: "[................] 30/?  3.0 img/s  3.00 MP/s  ETA ?"},
		{name: "no rate yet", total: 100, elapsed: 10 * time.Second,
			want: "[................] 0/100  0.0 img/s  ETA ?"},
		{name: "half way", total: 100, done: 50, mp: 2, elapsed: 10 * time.Second,
			want: "[########........] 50/100  5.0 img/s  10.00 MP/s  ETA 10s"},
		{name: "long ETA", total: 5000, done: 1234, mp: 0.370731, elapsed: 100 * time.Second,
			want: "[###.............] 1234/5000  12.3 img/s  4.57 MP/s  ETA 5m5s"},
		{name: "finished", total: 10, done: 10, mp: 12, elapsed: 4 * time.Second,
			want: "[################] 10/10  2.5 img/s  30.00 MP/s  ETA 0s"},
		{name: "more done than expected, nothing restored", total: 10, done: 12, elapsed: time.Second,
			want: "[################] 12/10  12.0 img/s  ETA 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProgress(io.Discard, false)
			p.start = t0
			p.AddTotal(tc.total)
			for range tc.done {
				p.Done(tc.mp)
			}
			if diff := cmp.Diff(tc.want, p.Render(t0.Add(tc.elapsed))); diff != "" {
				t.Errorf("Render (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProgressConcurrent(t *testing.T) {
	p := NewProgress(io.Discard, false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			p.AddTotal(500)
			for range 500 {
				p.Done(0.5)
			}
		})
	}
	wg.Wait()
	done, total := p.Counts()
	if done != 4000 || total != 4000 || p.pixels.Load() != 2_000_000_000 {
		t.Errorf("done, total, pixels = %d, %d, %d; want 4000, 4000, 2e9", done, total, p.pixels.Load())
	}
}

// lockedBuffer is a bytes.Buffer safe for the redraw goroutine and the test together.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressStartStop(t *testing.T) {
	t.Run("terminal", func(t *testing.T) {
		var buf lockedBuffer
		p := NewProgress(&buf, true)
		p.AddTotal(4)
		p.Start(2 * time.Millisecond)
		p.Start(2 * time.Millisecond) // a second Start is ignored
		p.Done(1)
		// Wait for a redraw by the ticker (the machine may be busy).
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(buf.String(), "\r") && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		p.Done(1)
		p.Stop()
		p.Stop() // a second Stop is harmless
		out := buf.String()
		if !strings.HasPrefix(out, "\r[") || !strings.HasSuffix(out, "\n") {
			t.Errorf("output %q: want redraws starting with \\r and a final newline", out)
		}
		if strings.Count(out, "\r") < 2 {
			t.Errorf("output %q: want several redraws", out)
		}
		if strings.Count(out, "\n") != 1 {
			t.Errorf("output %q: want exactly one newline", out)
		}
		last := out[strings.LastIndex(out, "\r")+1:]
		if !strings.HasPrefix(last, "[########........] 2/4 ") {
			t.Errorf("final line %q: want 2/4 done", last)
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		var buf lockedBuffer
		p := NewProgress(&buf, false)
		p.AddTotal(2)
		p.Start(time.Millisecond)
		p.Done(1)
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(buf.String(), "\n") && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		p.Done(0)
		p.Stop()
		out := buf.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if strings.Contains(out, "\r") || len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-1], "[################] 2/2 ") {
			t.Errorf("output %q: want whole lines, the last 2/2 done", out)
		}
	})
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, file := range map[string]*os.File{"regular file": f, "pipe": w, "nil": nil} {
		if IsTerminal(file) {
			t.Errorf("IsTerminal(%s) = true, want false", name)
		}
	}
	if dev, err := os.Open(os.DevNull); err == nil {
		defer dev.Close()
		if !IsTerminal(dev) {
			t.Errorf("IsTerminal(%s) = false, want true (a character device)", os.DevNull)
		}
	}
}
