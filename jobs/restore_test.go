package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/enhance"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
	"jpegrestore/storage/gcstest"
	"jpegrestore/transforms"
)

func fixtureModel(name string) string {
	return filepath.Join("..", "inference", "testdata", name+".json")
}

func restoreConfig(in, out, model string) RestoreConfig {
	return RestoreConfig{Inputs: []string{in}, Out: out, RestoreConfig: transforms.RestoreConfig{
		Settings: enhance.Settings{Format: enhance.FormatPNG, Routes: route.Default()},
		Models:   enhance.ModelConfig{Default: fixtureModel(model)},
	}}
}

// mixedArchive returns objects of every kind an archive holds: JPEGs in each band, gray,
// progressive, a non-JPEG and a damaged file, under two prefixes.
func mixedArchive(t *testing.T) map[string][]byte {
	enc := func(c, q int) []byte {
		return encodeJPEG(t, gradient(48, 32, c), q)
	}
	q30 := enc(3, 30)
	return map[string][]byte{
		"scans/a_q10.jpg":      enc(3, 10),
		"scans/b_q30.jpg":      q30,
		"scans/gray_q50.jpg":   enc(1, 50),
		"scans/deep/c_q70.jpg": enc(3, 70),
		"web/d_q95.jpg":        enc(3, 95),
		"web/cut.jpg":          q30[:len(q30)/2],
		"web/notes.txt":        []byte("not an image"),
	}
}

func encodeJPEG(t *testing.T, m pix.Image, q int) []byte {
	t.Helper()
	b, err := jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTree(t *testing.T, root string, objs map[string][]byte) {
	t.Helper()
	for name, data := range objs {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readRecords(t *testing.T, uri string) []report.Record {
	t.Helper()
	b, err := storage.ReadFile(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	var out []report.Record
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var r report.Record
		if err := json.Unmarshal(s.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out
}

type outcome struct{ Rel, Status, Reason, Route string }

func outcomes(rs []report.Record) []outcome {
	var out []outcome
	for _, r := range rs {
		out = append(out, outcome{r.Rel, string(r.Status), string(r.Reason), r.Route})
	}
	return out
}

func TestRestoreLocal(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	writeTree(t, in, mixedArchive(t))
	ctx := context.Background()
	res, err := RunRestore(ctx, restoreConfig(in, out, "qcond"))
	if err != nil {
		t.Fatal(err)
	}
	want := []outcome{
		{"scans/a_q10.jpg", "restored", "", "strong"},
		{"scans/b_q30.jpg", "restored", "", "medium"},
		{"scans/deep/c_q70.jpg", "restored", "", "light"},
		{"scans/gray_q50.jpg", "restored", "", "medium"},
		{"web/cut.jpg", "failed", "truncated", ""},
		{"web/d_q95.jpg", "skipped", "passthrough", "passthrough"},
		{"web/notes.txt", "skipped", "not_jpeg", ""},
	}
	folder := report.Folder{Root: filepath.Join(out, ReportDirName)}
	if diff := cmp.Diff(want, outcomes(readRecords(t, folder.Records()))); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]outcome{{"web/cut.jpg", "failed", "truncated", ""}}, outcomes(readRecords(t, folder.Failures()))); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if res.Failed != 1 || res.Summary.Totals.Matched != 7 || res.Summary.Totals.Restored != 4 {
		t.Errorf("summary totals %+v, failed %d", res.Summary.Totals, res.Failed)
	}
	if m := res.Summary.Meta; m["device"] != "cpu" || m["device_used"] != "cpu" || m["device_note"] != nil {
		t.Errorf("summary meta device %v, used %v, note %v", m["device"], m["device_used"], m["device_note"])
	}
	if got, _ := res.Summary.Meta[report.MetaModels].(string); !strings.HasPrefix(got, "qcond (float32, sha256 ") {
		t.Errorf("summary meta models %q, want the model with its weights and sha256", got)
	}
	for _, name := range []string{"scans/a_q10.png", "scans/deep/c_q70.png", "scans/gray_q50.png", "web/d_q95.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("output %s: %v", name, err)
		}
	}
	for _, name := range []string{folder.Summary(), folder.HTML()} {
		if b, err := os.ReadFile(name); err != nil || len(b) == 0 {
			t.Errorf("report file %s: %v", name, err)
		}
	}
	// The pipeline's parts are gone: the report folder holds the report only.
	entries, _ := os.ReadDir(folder.Root)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{report.FailuresFile, report.RecordsFile, report.HTMLFile, "runs", report.SummaryFile}, names); diff != "" {
		t.Errorf("report folder (-want +got):\n%s", diff)
	}

	// A rerun skips every complete output and redoes nothing, and repeats what the inputs' bytes
	// decided (not a JPEG, truncated), all from the listings: it reads no input. One input only
	// touched (a new mtime, the same bytes) is read, and found done by its content hash.
	touched := filepath.Join(in, "scans", "b_q30.jpg")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(touched, later, later); err != nil {
		t.Fatal(err)
	}
	res, err = RunRestore(ctx, restoreConfig(in, out, "qcond"))
	if err != nil {
		t.Fatal(err)
	}
	rs := readRecords(t, folder.Records())
	counts := map[string]int{}
	var read []string
	for _, r := range rs {
		counts[string(r.Status)+"/"+string(r.Reason)]++
		if _, ok := r.Timings[report.StageRead]; ok {
			read = append(read, r.Rel)
		}
	}
	if diff := cmp.Diff(map[string]int{"skipped/done": 5, "skipped/not_jpeg": 1, "failed/truncated": 1}, counts); diff != "" {
		t.Errorf("rerun (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"scans/b_q30.jpg"}, read); diff != "" {
		t.Errorf("inputs the rerun read (-want +got):\n%s", diff)
	}
	// The rerun's report describes the outputs as they are: the inputs done keep the scores of
	// the run that restored them, and that run's own report is still there.
	firstRun := ""
	for _, r := range rs {
		if r.Rel == "scans/a_q10.jpg" {
			firstRun = r.Run
			if r.Reason != report.ReasonDone || r.NRAfter == 0 || r.Run == "" || r.Run == res.Summary.Meta["run"] {
				t.Errorf("a done input's record lost its numbers: %+v", r)
			}
		}
	}
	if n := res.Summary.Totals.NRAfter.N; n != 5 {
		t.Errorf("the rerun's summary has %d NR scores after, want the 5 outputs'", n)
	}
	page, _ := os.ReadFile(folder.HTML())
	if _, err := os.Stat(filepath.Join(folder.Root, "runs", firstRun, report.HTMLFile)); err != nil || !strings.Contains(string(page), "runs/"+firstRun+"/report.html") {
		t.Errorf("the first run's own report is not kept and linked: %v", err)
	}
	if !strings.Contains(string(page), "made the outputs of 5 of the inputs found done now") {
		t.Error("the page does not say how many outputs the first run made")
	}
	// A different model means redo.
	res, err = RunRestore(ctx, restoreConfig(in, out, "conv"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Totals.Restored != 4 {
		t.Errorf("after a model change %d restored, want 4", res.Summary.Totals.Restored)
	}
}

func TestRestoreGCS(t *testing.T) {
	objs := map[string][]byte{}
	for k, v := range mixedArchive(t) {
		objs["in/"+k] = v
	}
	gcstest.Start(t, "archive", objs)
	ctx := context.Background()
	res, err := RunRestore(ctx, restoreConfig("gs://archive/in", "gs://archive/restored", "identity"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Totals.Matched != 7 || res.Failed != 1 {
		t.Errorf("totals %+v", res.Summary.Totals)
	}
	out, err := storage.ReadFile(ctx, "gs://archive/restored/scans/a_q10.png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("\x89PNG")) {
		t.Error("output is not a PNG")
	}
	rs := readRecords(t, "gs://archive/restored/_report/records.jsonl")
	if len(rs) != 7 || rs[0].Bucket != "archive" || rs[0].Prefix != "scans" {
		t.Errorf("%d records, first %+v", len(rs), rs[0])
	}
	if _, err := storage.Stat(ctx, "gs://archive/restored/_report/report.html"); err != nil {
		t.Error(err)
	}
	// Nothing was written locally under a folder named gs:.
	if _, err := os.Stat("gs:"); err == nil {
		t.Error("a local folder gs: appeared: a gs:// URI went through filepath")
	}
}

func TestRestoreValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    RestoreConfig
		want string
	}{
		{"no-in", RestoreConfig{Out: "/o"}, "no --in"},
		{"no-out", RestoreConfig{Inputs: []string{"/i"}}, "no --out"},
		{"out-is-in", restoreConfig("/same", "/same/", "identity"), "also an input"},
		{"bad-format", func() RestoreConfig { c := restoreConfig("/i", "/o", "identity"); c.Settings.Format = "gif"; return c }(), "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	c := restoreConfig(t.TempDir(), t.TempDir(), "nonesuch")
	if _, err := RunRestore(context.Background(), c); err == nil || !strings.Contains(err.Error(), "nonesuch") {
		t.Errorf("a missing model did not fail at start-up: %v", err)
	}
}

// TestUntrustedNames restores a bucket whose object names try to leave the output root, or share
// an output name, into a local folder, where an escape would land on the real file system: every
// input gets one record, the escapes fail before anything is written outside the output root,
// and of a.jpg, a.jpeg and a.JPG one gets a.png and the others fail, nothing overwritten.
func TestUntrustedNames(t *testing.T) {
	img := encodeJPEG(t, gradient(48, 32, 3), 30)
	objs := map[string][]byte{}
	for _, name := range []string{"ok.jpg", "../../escape.jpg", "d/../../../up.jpg", "d//double.jpg",
		"ctl\nname.jpg", "same/a.jpg", "same/a.jpeg", "same/a.JPG"} {
		objs["in/"+name] = img
	}
	gcstest.Start(t, "archive", objs)
	top := t.TempDir()
	out := filepath.Join(top, "deep", "out")
	res, err := RunRestore(context.Background(), restoreConfig("gs://archive/in", out, "identity"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readRecords(t, report.Folder{Root: filepath.Join(out, ReportDirName)}.Records()) {
		got[r.Rel] = string(r.Status) + "/" + string(r.Reason)
	}
	want := map[string]string{
		"ok.jpg": "restored/", "../../escape.jpg": "failed/unsafe_name", "d/../../../up.jpg": "failed/unsafe_name",
		"d//double.jpg": "failed/unsafe_name", "ctl\nname.jpg": "failed/unsafe_name",
		"same/a.JPG": "restored/", "same/a.jpeg": "failed/output_taken", "same/a.jpg": "failed/output_taken",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if res.Summary.Totals.Matched != int64(len(objs)) {
		t.Errorf("%d inputs in the summary, %d objects", res.Summary.Totals.Matched, len(objs))
	}
	// Nothing but the output root was written under the test's folder.
	var written []string
	filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			if !strings.HasPrefix(filepath.ToSlash(rel), "_report/runs/") { // each run's own report
				written = append(written, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	sort.Strings(written)
	wantFiles := []string{"_report/failures.jsonl", "_report/records.jsonl", "_report/report.html", "_report/summary.json", "ok.png", "same/a.png"}
	if diff := cmp.Diff(wantFiles, written); diff != "" {
		t.Errorf("files written (-want +got):\n%s", diff)
	}
}

// TestSymlinksOutOfTheRoot: a symlink below a local input root that leads outside it is not
// read; one that stays inside is restored.
func TestSymlinksOutOfTheRoot(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	img := encodeJPEG(t, gradient(48, 32, 3), 30)
	writeTree(t, dir, map[string][]byte{"in/a.jpg": img, "secret.jpg": img})
	os.Symlink(filepath.Join(dir, "secret.jpg"), filepath.Join(in, "out-link.jpg"))
	os.Symlink("a.jpg", filepath.Join(in, "in-link.jpg"))
	if _, err := RunRestore(context.Background(), restoreConfig(in, out, "identity")); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readRecords(t, report.Folder{Root: filepath.Join(out, ReportDirName)}.Records()) {
		got[r.Rel] = string(r.Status) + "/" + string(r.Reason)
	}
	want := map[string]string{"a.jpg": "restored/", "in-link.jpg": "restored/", "out-link.jpg": "failed/outside_root"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestOverlappingRuns: two restores of the same archive into the same output, at once (a recurring
// job whose last run is still going), each finish with a complete report: nothing is lost from
// either, and every output is whole.
func TestOverlappingRuns(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	objs := map[string][]byte{}
	for i := range 12 {
		objs[fmt.Sprintf("p%d/img%02d.jpg", i%2, i)] = encodeJPEG(t, gradient(48, 32, 3), 20+i)
	}
	writeTree(t, in, objs)
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = RunRestore(context.Background(), restoreConfig(in, out, "identity"))
		}()
	}
	wg.Wait()
	for i, res := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if tot := res.Summary.Totals; tot.Matched != 12 || tot.Restored+tot.Skipped[report.ReasonDone] != 12 {
			t.Errorf("run %d: %+v", i, tot)
		}
	}
	recs := readRecords(t, report.Folder{Root: filepath.Join(out, ReportDirName)}.Records())
	if len(recs) != 12 {
		t.Errorf("records.jsonl holds %d records, want 12", len(recs))
	}
	for _, r := range recs {
		b, err := os.ReadFile(r.Output)
		if err != nil || r.Status == report.StatusFailed {
			t.Fatalf("%s: %s %v", r.Rel, r.Status, err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s does not decode: %v", r.Output, err)
		}
	}
}
