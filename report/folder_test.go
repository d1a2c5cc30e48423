package report

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	var names []string
	filepath.WalkDir(f.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(f.Root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	want := []string{"failures.jsonl", "records.jsonl", "report.html", "runs/" + f.Run + "/failures.jsonl",
		"runs/" + f.Run + "/report.html", "runs/" + f.Run + "/summary.json", "summary.json"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("report folder after Finish (-want +got):\n%s", diff)
	}
}

// TestMergeShardsLists checks the page's lists of inputs not restored: grouped by reason,
// failures first, each bounded to ListLimit with the true total, and without the inputs that
// are done or passed through (their outputs exist).
func TestMergeShardsLists(t *testing.T) {
	ctx := context.Background()
	f := Folder{Root: filepath.Join(t.TempDir(), "report"), Run: NewRun()}
	var b strings.Builder
	add := func(n int, status Status, reason Reason) {
		for i := range n {
			r := Record{URI: fmt.Sprintf("/in/%s/%04d.jpg", reason, i), Rel: fmt.Sprintf("%s/%04d.jpg", reason, i), Status: status, Reason: reason, Error: "why " + string(reason)}
			if reason == ReasonDone {
				r.Run = "old"
			}
			line, _ := json.Marshal(r)
			b.Write(append(line, '\n'))
		}
	}
	add(3, StatusRestored, "")
	add(ListLimit+7, StatusSkipped, ReasonNotJPEG)
	add(2, StatusFailed, ReasonCorrupt)
	add(4, StatusSkipped, ReasonDone) // made by run "old" (below)
	add(5, StatusSkipped, ReasonPassthrough)
	uri, err := f.NewShard()
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteFile(ctx, uri, []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	merged, err := f.MergeShards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range merged.NotRestored {
		got = append(got, fmt.Sprintf("%s %d/%d %s", l.Reason, len(l.Records), l.Total, l.Records[0].Error))
	}
	want := []string{"corrupt 2/2 why corrupt", fmt.Sprintf("not_jpeg %d/%d why not_jpeg", ListLimit, ListLimit+7)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lists (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"old": 4}, merged.Made); diff != "" {
		t.Errorf("outputs made per earlier run (-want +got):\n%s", diff)
	}
}

// TestEarlierRuns checks which runs' own reports a folder keeps: the newest RunsKept-1 besides
// this one, and the runs that made outputs the records still describe however old; a run whose
// page is not there (still finishing) is neither listed nor deleted.
func TestEarlierRuns(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "report")
	f := Folder{Root: root, Run: "r099"}
	for i := range 40 {
		run := fmt.Sprintf("r%03d", i)
		for _, name := range []string{SummaryFile, HTMLFile} {
			if err := storage.WriteFile(ctx, storage.Join(root, "runs/"+run+"/"+name), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := storage.WriteFile(ctx, storage.Join(root, "runs/r050/"+FailuresFile), nil); err != nil { // finishing
		t.Fatal(err)
	}
	runs, err := f.earlierRuns(ctx, map[string]int64{"r002": 7, "r039": 1})
	if err != nil {
		t.Fatal(err)
	}
	var want []Run
	for i := 39; i > 39-(RunsKept-1); i-- {
		want = append(want, Run{Name: fmt.Sprintf("r%03d", i)})
	}
	want[0].Made = 1
	want = append(want, Run{Name: "r002", Made: 7})
	if diff := cmp.Diff(want, runs); diff != "" {
		t.Errorf("runs kept (-want +got):\n%s", diff)
	}
	left, _ := os.ReadDir(filepath.Join(root, "runs"))
	if len(left) != len(want)+1 {
		t.Errorf("%d run folders left, want %d (those listed and r050)", len(left), len(want)+1)
	}
	if _, err := os.Stat(filepath.Join(root, "runs", "r050", FailuresFile)); err != nil {
		t.Errorf("the finishing run's files were deleted: %v", err)
	}
}
