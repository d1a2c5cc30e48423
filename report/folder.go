package report

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"time"

	"jpegrestore/storage"
)

// Folder is a job's report folder, local or gs://, and the contract between the pipeline that
// fills it and Finish that completes it:
//
//	records.jsonl   every record, one per input          (Finish merges the shards into it)
//	failures.jsonl  the failed records                   (likewise)
//	summary.json    the Summary, with the job's Meta     (written once, by Finish)
//	report.html     the self-contained page              (Finish)
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

// MergeShards streams the record shards into records.jsonl and failures.jsonl, dropping lines a
// retried bundle wrote twice (by Record.Key), and deletes the shards. Memory grows only by 8 bytes
// of hash per input. Without shards (nothing matched) both files are written empty.
func (f Folder) MergeShards(ctx context.Context) error {
	var shards []string
	err := storage.Match(ctx, f.Shards(), func(o storage.Object) error {
		shards = append(shards, o.URI)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	records, err := storage.Create(ctx, f.Records())
	if err != nil {
		return err
	}
	failures, err := storage.Create(ctx, f.Failures())
	if err != nil {
		records.Abort()
		return err
	}
	seen := map[uint64]bool{}
	merge := func(uri string) error {
		b, err := storage.ReadFile(ctx, uri) // a shard holds at most a few hundred records
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var head struct {
				URI, Route string
				QF         int
				Status     Status
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
				failures.Write(sc.Bytes())
				failures.WriteByte('\n')
			}
		}
		return sc.Err()
	}
	for _, sh := range shards {
		if err := merge(sh); err != nil {
			records.Abort()
			failures.Abort()
			return err
		}
	}
	if err := errors.Join(records.Commit(), failures.Commit()); err != nil {
		return err
	}
	for _, sh := range shards {
		if err := storage.Delete(ctx, sh); err != nil {
			return err
		}
	}
	return nil
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
