package report

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jpegrestore/storage"
)

// TestMergeShards: shards merge into records.jsonl and failures.jsonl with the records a retried
// bundle repeated dropped (but an eval job's records of one image at two QFs kept), and the parts
// are gone after Finish.
func TestMergeShards(t *testing.T) {
	ctx := context.Background()
	f := Folder{Root: filepath.Join(t.TempDir(), "report"), Run: NewRun()}
	line := func(r Record) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	a := Record{URI: "/in/a.jpg", Status: StatusRestored}
	bad := Record{URI: "/in/b.jpg", Status: StatusFailed, Reason: ReasonCorrupt}
	e10 := Record{URI: "/refs/k.png", Route: RouteEval, QF: 10, Status: StatusRestored}
	e20 := e10
	e20.QF = 20
	for _, shard := range []string{line(a) + line(bad) + line(e10), line(a) + line(e20) + line(e10)} {
		uri, err := f.NewShard()
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, uri, []byte(shard)); err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.WriteFile(ctx, f.SummaryPart(), []byte(`{"version":1,"totals":{"matched":4}}`)); err != nil {
		t.Fatal(err)
	}
	s, err := Finish(ctx, f, map[string]any{"job": "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Matched != 4 || s.Meta["job"] != "test" {
		t.Errorf("summary %+v", s)
	}
	count := func(uri string) int {
		b, err := os.ReadFile(uri)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
	if n := count(f.Records()); n != 4 {
		t.Errorf("records.jsonl has %d lines, want 4 (a, b, eval at QF 10 and 20)", n)
	}
	if n := count(f.Failures()); n != 1 {
		t.Errorf("failures.jsonl has %d lines, want 1", n)
	}
	entries, _ := os.ReadDir(f.Root)
	if len(entries) != 4 {
		t.Errorf("report folder holds %d entries after Finish, want records, failures, summary, html", len(entries))
	}
}
