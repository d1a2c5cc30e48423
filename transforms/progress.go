package transforms

import (
	"io"
	"sync"

	"jpegrestore/report"
)

// The terminal progress line is process-wide: with Prism in-process every bundle runs in this
// process and reports here; on a remote runner the counts stay on the workers and nothing is
// drawn. Like the package's other process-wide state (the Beam metrics of metrics.go and the
// pixel budget and the failed-write counts of restore.go), it is guarded for concurrent bundles.
var prog struct {
	sync.Mutex
	p *report.Progress
}

// SetProgress installs the progress line the DoFns report to; nil restores a silent one.
func SetProgress(p *report.Progress) {
	prog.Lock()
	defer prog.Unlock()
	prog.p = p
}

func progress() *report.Progress {
	prog.Lock()
	defer prog.Unlock()
	if prog.p == nil {
		prog.p = report.NewProgress(io.Discard, false)
	}
	return prog.p
}
