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
	"path"
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
//	runs/RUN/       each run's own summary.json, failures.jsonl and report.html: the newest
//	                RunsKept, and the runs that made outputs the records describe (RunsKept)
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
// that holds a summary.json or records.jsonl is the tool's own: inputs are never matched in it.
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
// and passthrough) or failed, the first ListLimit of each, and how many of the records each
// earlier run made the output of (Record.Run of the inputs found done). Memory grows by a 64-bit
// hash per input (in a map), and by the lists' bounded length.
func (f Folder) MergeShards(ctx context.Context) (Merged, error) {
	var shards []string
	err := storage.Match(ctx, f.Shards(), func(o storage.Object) error {
		shards = append(shards, o.URI)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Merged{}, err
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
			return Merged{}, err
		}
		outs = append(outs, w)
	}
	records, failures := outs[0], outs[1:]
	seen := map[uint64]bool{}
	lists := map[Reason]*ReasonList{}
	made := map[string]int64{}
	merge := func(uri string) error {
		b, err := storage.ReadFile(ctx, uri) // a shard holds at most a few hundred records
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var head struct {
				URI, Rel, Route, Error, Run string
				QF                          int
				Status                      Status
				Reason                      Reason
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
			if head.Reason == ReasonDone && head.Run != "" && head.Run != f.Run {
				made[head.Run]++
			}
			// The same outcome the summary counts (Stats.add): any status but restored,
			// surveyed or skipped is a failure, and a missing reason is ReasonUnknown.
			rec := Record{URI: head.URI, Rel: head.Rel, Status: head.Status, Reason: head.Reason, Error: head.Error}
			rec.Reason = reasonOf(rec)
			failed := rec.Status != StatusRestored && rec.Status != StatusSurveyed && rec.Status != StatusSkipped
			if failed {
				for _, w := range failures {
					w.Write(sc.Bytes())
					w.WriteByte('\n')
				}
			}
			if failed || (rec.Status == StatusSkipped && !rec.HasOutput()) {
				l := lists[rec.Reason]
				if l == nil {
					l = &ReasonList{Reason: rec.Reason}
					lists[rec.Reason] = l
				}
				l.Total++
				if len(l.Records) < ListLimit {
					l.Records = append(l.Records, rec)
				}
			}
		}
		return sc.Err()
	}
	for _, sh := range shards {
		if err := merge(sh); err != nil {
			abort()
			return Merged{}, err
		}
	}
	var errs []error
	for _, w := range outs {
		errs = append(errs, w.Commit())
	}
	if err := errors.Join(errs...); err != nil {
		return Merged{}, err
	}
	for _, sh := range shards {
		if err := storage.Delete(ctx, sh); err != nil {
			return Merged{}, err
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
	return Merged{NotRestored: out, Made: made}, nil
}

// Merged is what MergeShards learns from the records on the way.
type Merged struct {
	// NotRestored are the inputs not restored, by reason (bounded lists).
	NotRestored []ReasonList
	// Made counts, per earlier run, the inputs found done whose output that run made.
	Made map[string]int64
}

// OwnFolders tells whether an object of an input lies in one of the tool's own report folders
// (a folder named DirName that holds a summary.json or records.jsonl), which a job never takes
// as input; a user's folder that happens to be named DirName is not one. It remembers each
// folder it has looked at.
type OwnFolders map[string]bool

// Holds reports whether uri, an object under the input root, lies in one of the tool's own
// report folders.
func (o OwnFolders) Holds(ctx context.Context, root, uri string) (bool, error) {
	rel, err := storage.Rel(root, uri)
	if err != nil {
		return false, nil
	}
	dirs := strings.Split(path.Dir(rel), "/")
	i := slices.Index(dirs, DirName)
	if i < 0 {
		return false, nil
	}
	dir := storage.Join(root, strings.Join(dirs[:i+1], "/"))
	own, seen := o[dir]
	if seen {
		return own, nil
	}
	for _, name := range []string{SummaryFile, RecordsFile} {
		_, err := storage.Stat(ctx, storage.Join(dir, name))
		if err == nil {
			own = true
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	o[dir] = own
	return own, nil
}

// runsDir holds each run's own report.
const runsDir = "runs"

// RunsKept is how many runs' own reports a folder keeps: the newest, and besides them the newest
// of the runs that made outputs the records still describe (their pages hold those outputs'
// crops), so that a watch cycling every few seconds neither fills the folder nor pushes out the
// run that restored the archive.
const RunsKept = 20

// runFile is the URI of one of this run's own files.
func (f Folder) runFile(name string) string { return f.join(runsDir + "/" + f.Run + "/" + name) }

// Run is an earlier run whose own report the folder keeps.
type Run struct {
	// Name is the run's name (Folder.Run); its page is runs/NAME/report.html.
	Name string
	// Made is how many of this run's inputs found done had their output made by that run.
	Made int64
}

// earlierRuns lists the runs whose own pages the folder holds, newest first, and deletes the
// others' files: it keeps the newest RunsKept-1 (this run makes RunsKept) and the newest RunsKept
// of those that made outputs (made, from MergeShards). A run folder without a page (its run is
// still finishing, or failed to) is neither listed nor deleted.
func (f Folder) earlierRuns(ctx context.Context, made map[string]int64) ([]Run, error) {
	files := map[string][]string{}
	paged := map[string]bool{}
	err := storage.Match(ctx, f.join(runsDir), func(o storage.Object) error {
		rel, err := storage.Rel(f.join(runsDir), o.URI)
		if run, name, ok := strings.Cut(rel, "/"); err == nil && ok && run != f.Run {
			files[run] = append(files[run], o.URI)
			paged[run] = paged[run] || name == HTMLFile
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var runs []Run
	recent, makers := 0, 0
	for _, name := range slices.Backward(slices.Sorted(maps.Keys(files))) {
		if !paged[name] {
			continue
		}
		keep := false
		if recent < RunsKept-1 {
			recent++
			keep = true
		}
		if made[name] > 0 && makers < RunsKept {
			makers++
			keep = true
		}
		if keep {
			runs = append(runs, Run{Name: name, Made: made[name]})
			continue
		}
		for _, uri := range files[name] {
			if err := storage.Delete(ctx, uri); err != nil {
				return nil, err
			}
		}
		if !storage.IsGCS(f.Root) {
			os.Remove(f.join(runsDir + "/" + name))
		}
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
