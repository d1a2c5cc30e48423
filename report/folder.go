package report

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"jpegrestore/storage"
)

// Folder is a job's report folder, local or gs://, and the contract between the pipeline that
// fills it and Finish that completes it:
//
//	records.jsonl   every record of the last run, one per input (Finish merges the shards into
//	                it); the next run's memory of what is done
//	failures.jsonl  its failed records                   (likewise)
//	summary.json    its Summary, with the job's Meta     (written by Finish)
//	report.html     its self-contained page, with links to the earlier runs' (Finish)
//	runs/RUN/       each run's own summary.json, failures.jsonl and report.html, the newest
//	                RunsKept of them
//	_tmp-report/RUN/  one run's parts, deleted by its Finish: record shards (shards/shard-*.jsonl,
//	                one or more per bundle; a retried bundle may repeat records, which the merge
//	                drops), the combined summary (summary.json) and the examples (examples.json)
//
// Each run keeps its parts apart, so runs on one folder at once (a recurring job whose last run
// is still going) never merge or delete each other's records: each writes a complete report of
// its own inputs, and the files are those of the run that finished last. A crashed run's parts
// stay behind, unread. The "_tmp-" prefix keeps the parts out of any input that includes the
// report folder (see storage.Match).
type Folder struct {
	// Root is the folder's URI.
	Root string
	// Run names this run's parts (NewRun).
	Run string
}

// NewRun returns a new run name: the time, to the second, and a random suffix.
func NewRun() string {
	var id [4]byte
	rand.Read(id[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(id[:])
}

// DirName is the name of a restore's report folder under its output root. A folder of that name
// is the tool's own: inputs are never matched in it.
const DirName = "_report"

// File names under the report root.
const (
	RecordsFile  = "records.jsonl"
	FailuresFile = "failures.jsonl"
	SummaryFile  = "summary.json"
	HTMLFile     = "report.html"
	partsDir     = "_tmp-report"
)

func (f Folder) join(rel string) string { return storage.Join(f.Root, rel) }

// Records, Failures, Summary and HTML return the URIs of the report's files.
func (f Folder) Records() string  { return f.join(RecordsFile) }
func (f Folder) Failures() string { return f.join(FailuresFile) }
func (f Folder) Summary() string  { return f.join(SummaryFile) }
func (f Folder) HTML() string     { return f.join(HTMLFile) }

// parts is the folder of this run's parts.
func (f Folder) parts() string { return f.join(partsDir + "/" + f.Run) }

// SummaryPart and ExamplesPart are where the pipeline leaves its combined Summary and TopN.
func (f Folder) SummaryPart() string  { return storage.Join(f.parts(), "summary.json") }
func (f Folder) ExamplesPart() string { return storage.Join(f.parts(), "examples.json") }

// Shards is the folder of the record shards.
func (f Folder) Shards() string { return storage.Join(f.parts(), "shards") }

// NewShard returns the URI of a new record shard, with a random name.
func (f Folder) NewShard() (string, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return storage.Join(f.Shards(), "shard-"+hex.EncodeToString(id[:])+".jsonl"), nil
}

// MergeShards streams the record shards into records.jsonl and failures.jsonl (the failures
// also into the run's own folder), dropping lines a retried bundle wrote twice (by Record.Key),
// and deletes the shards. It returns the inputs not restored, by reason: skipped (but for done
// and passthrough) or failed, the first ListLimit of each. Memory grows by 8 bytes of hash per
// input, and by the lists' bounded length.
func (f Folder) MergeShards(ctx context.Context) ([]ReasonList, error) {
	var shards []string
	err := storage.Match(ctx, f.Shards(), func(o storage.Object) error {
		shards = append(shards, o.URI)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var outs []*storage.Writer
	abort := func() {
		for _, w := range outs {
			w.Abort()
		}
	}
	for _, uri := range []string{f.Records(), f.Failures(), f.runFile(FailuresFile)} {
		w, err := storage.Create(ctx, uri)
		if err != nil {
			abort()
			return nil, err
		}
		outs = append(outs, w)
	}
	records, failures := outs[0], outs[1:]
	seen := map[uint64]bool{}
	lists := map[Reason]*ReasonList{}
	merge := func(uri string) error {
		b, err := storage.ReadFile(ctx, uri) // a shard holds at most a few hundred records
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var head struct {
				URI, Rel, Route, Error string
				QF                     int
				Status                 Status
				Reason                 Reason
			}
			if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
				return fmt.Errorf("record shard %s: %w", uri, err)
			}
			h := fnv.New64a()
			h.Write([]byte(Record{URI: head.URI, Route: head.Route, QF: head.QF}.Key()))
			if k := h.Sum64(); seen[k] {
				continue
			} else {
				seen[k] = true
			}
			records.Write(sc.Bytes())
			records.WriteByte('\n')
			if head.Status == StatusFailed {
				for _, w := range failures {
					w.Write(sc.Bytes())
					w.WriteByte('\n')
				}
			}
			if head.Status == StatusFailed || (head.Status == StatusSkipped && head.Reason != ReasonDone && head.Reason != ReasonPassthrough) {
				l := lists[head.Reason]
				if l == nil {
					l = &ReasonList{Reason: head.Reason}
					lists[head.Reason] = l
				}
				l.Total++
				if len(l.Records) < ListLimit {
					l.Records = append(l.Records, Record{URI: head.URI, Rel: head.Rel, Status: head.Status, Reason: head.Reason, Error: head.Error})
				}
			}
		}
		return sc.Err()
	}
	for _, sh := range shards {
		if err := merge(sh); err != nil {
			abort()
			return nil, err
		}
	}
	var errs []error
	for _, w := range outs {
		errs = append(errs, w.Commit())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, sh := range shards {
		if err := storage.Delete(ctx, sh); err != nil {
			return nil, err
		}
	}
	var out []ReasonList
	for _, l := range lists {
		out = append(out, *l)
	}
	// Failures first, then the most common.
	skippedRank := func(r Reason) int {
		if info, _ := r.Info(); info.Status == StatusSkipped {
			return 1
		}
		return 0
	}
	slices.SortFunc(out, func(a, b ReasonList) int {
		return cmp.Or(skippedRank(a.Reason)-skippedRank(b.Reason), cmp.Compare(b.Total, a.Total), cmp.Compare(a.Reason, b.Reason))
	})
	return out, nil
}

// runsDir holds each run's own report.
const runsDir = "runs"

// RunsKept is how many runs' own reports a folder keeps (the newest), so that a watch cycling
// every few seconds does not fill it.
const RunsKept = 20

// runFile is the URI of one of this run's own files.
func (f Folder) runFile(name string) string { return f.join(runsDir + "/" + f.Run + "/" + name) }

// earlierRuns lists the runs whose own reports the folder holds, newest first, deleting those of
// all but the newest RunsKept-1 (this run makes RunsKept).
func (f Folder) earlierRuns(ctx context.Context) ([]string, error) {
	files := map[string][]string{}
	err := storage.Match(ctx, f.join(runsDir), func(o storage.Object) error {
		rel, err := storage.Rel(f.join(runsDir), o.URI)
		if run, _, ok := strings.Cut(rel, "/"); err == nil && ok && run != f.Run {
			files[run] = append(files[run], o.URI)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	runs := slices.Sorted(maps.Keys(files))
	slices.Reverse(runs)
	if len(runs) >= RunsKept {
		for _, old := range runs[RunsKept-1:] {
			for _, uri := range files[old] {
				if err := storage.Delete(ctx, uri); err != nil {
					return nil, err
				}
			}
			if !storage.IsGCS(f.Root) {
				os.Remove(f.join(runsDir + "/" + old))
			}
		}
		runs = runs[:RunsKept-1]
	}
	return runs, nil
}

// removeParts deletes the pipeline's parts once Finish has used them.
func (f Folder) removeParts(ctx context.Context) error {
	err := errors.Join(storage.Delete(ctx, f.SummaryPart()), storage.Delete(ctx, f.ExamplesPart()))
	if !storage.IsGCS(f.Root) {
		// The now empty local folders; GCS has no folders.
		os.Remove(f.Shards())
		os.Remove(f.parts())
		os.Remove(f.join(partsDir)) // when no other run's parts are left
	}
	return err
}
