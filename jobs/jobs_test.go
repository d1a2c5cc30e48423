package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/report"
	"jpegrestore/transforms"
)

func TestSurvey(t *testing.T) {
	in := filepath.Join(t.TempDir(), "archive")
	writeTree(t, in, mixedArchive(t))
	// The report of an older version, inside the archive: the tool's own, never read as input.
	writeTree(t, in, map[string][]byte{"_report/summary.json": []byte("{}")})
	models, _ := filepath.Abs(filepath.Join("..", "models"))
	t.Setenv(enhance.ModelsDirEnv, models)
	lib, err := gpuworker.LibraryPath("")
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunSurvey(context.Background(), SurveyConfig{Inputs: []string{in}, Estimate: true, Runtime: transforms.Runtime{ORTLib: lib}})
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Summary.Totals
	// 5 JPEGs scored, the text file skipped, the truncated one failed; nothing written but the report.
	if tot.Surveyed != 5 || tot.SkippedTotal() != 1 || tot.FailedTotal() != 1 || tot.NRBefore.N != 5 {
		t.Errorf("totals %+v", tot)
	}
	if got := tot.QFHist; got[1] != 1 || got[3] != 1 || got[5] != 1 || got[7] != 1 || got[9] != 1 {
		t.Errorf("QF histogram %v", got)
	}
	reportDir := filepath.Join(filepath.Dir(in), "archive-report") // beside the input
	if res.Report != reportDir || tot.Matched != 7 {
		t.Errorf("report folder %s, %d inputs", res.Report, tot.Matched)
	}
	if _, err := os.Stat(filepath.Join(reportDir, report.SummaryFile)); err != nil {
		t.Error(err)
	}
	// What a restore would take: each input's route, and the presets' speeds measured here.
	routes := map[string]int64{}
	for _, g := range res.Summary.Groups {
		routes[g.Route] += g.Stats.Matched
	}
	if routes["strong"] != 1 || routes["medium"] != 2 || routes["light"] != 1 || routes["passthrough"] != 1 {
		t.Errorf("inputs per route %v", routes)
	}
	speeds, _ := res.Summary.Meta[report.MetaPresetSpeeds].(map[string]float64)
	page, _ := os.ReadFile(filepath.Join(reportDir, report.HTMLFile))
	if speeds["fast"] <= 0 || speeds["best"] <= 0 || !strings.Contains(string(page), "time to restore the rest") {
		t.Errorf("preset speeds %v; estimates in the page: %v", speeds, strings.Contains(string(page), "time to restore"))
	}
	if _, err := os.Stat(filepath.Join(in, "scans", "a_q10.png")); err == nil {
		t.Error("the survey wrote an output image")
	}
}

func TestDefaultSurveyOut(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"gs://b/archive":         "gs://b/archive-report",
		"gs://b/archive/":        "gs://b/archive-report",
		"gs://b/a/2019/*.jpg":    "gs://b/a/2019-report",
		"gs://b":                 "gs://b/_report",
		"gs://b/*.jpg":           "gs://b/_report",
		"/data/archive":          "/data/archive-report",
		"/data/archive/**/*.jpg": "/data/archive-report",
		"archive":                filepath.Join(wd, "archive-report"),
		"*.jpg":                  filepath.Join(filepath.Dir(wd), filepath.Base(wd)+"-report"),
		"/":                      "/_report",
	} {
		if got := DefaultSurveyOut(in); got != want {
			t.Errorf("DefaultSurveyOut(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSurveyReportInsideInput: a report folder given inside the input is not surveyed.
func TestSurveyReportInsideInput(t *testing.T) {
	in := t.TempDir()
	writeTree(t, in, mixedArchive(t))
	for run := range 2 {
		res, err := RunSurvey(context.Background(), SurveyConfig{Inputs: []string{in}, Out: filepath.Join(in, "survey")})
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Summary.Totals.Matched; n != 7 {
			t.Errorf("run %d: %d inputs, want 7 (the archive, not the report in it)", run+1, n)
		}
	}
}

func TestEval(t *testing.T) {
	refs, out := t.TempDir(), t.TempDir()
	for i, name := range []string{"a.png", "b.png"} {
		var b bytes.Buffer
		if err := png.Encode(&b, gradient(64+i*16, 48, 3).Std()); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(refs, name), b.Bytes(), 0o644)
	}
	c := EvalConfig{Reference: refs, Out: out, EvalConfig: transforms.EvalConfig{QFs: []int{10, 50},
		Models: enhance.ModelConfig{Default: fixtureModel("identity")}}}
	res, err := RunEval(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, EvalFile))
	if err != nil {
		t.Fatal(err)
	}
	var table EvalTable
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 2 || table.Rows[0].QF != 10 || table.Rows[0].Ref.N() != 2 {
		t.Fatalf("eval rows %+v", table.Rows)
	}
	for _, r := range table.Rows {
		// The identity model restores nothing: after equals before, and QF 50 beats QF 10.
		if r.Ref.PSNRAfter.Mean() != r.Ref.PSNRBefore.Mean() || r.Ref.SSIMAfter.Mean() != r.Ref.SSIMBefore.Mean() {
			t.Errorf("QF %d: identity changed the metrics: %+v", r.QF, r.Ref)
		}
	}
	if table.Rows[1].Ref.PSNRBefore.Mean() <= table.Rows[0].Ref.PSNRBefore.Mean() {
		t.Error("QF 50 is not better than QF 10")
	}
	if res.Summary.Totals.Restored != 4 {
		t.Errorf("%d eval records, want 4", res.Summary.Totals.Restored)
	}
	// One record per reference and QF: records of one image at two QFs are not duplicates.
	if n := len(readRecords(t, report.Folder{Root: out}.Records())); n != 4 {
		t.Errorf("records.jsonl holds %d eval records, want 4", n)
	}
}

// TestWatch: each cycle restores only what is new.
func TestWatch(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	writeTree(t, in, map[string][]byte{"one.jpg": encodeJPEG(t, gradient(32, 32, 3), 20)})
	c := WatchConfig{RestoreConfig: restoreConfig(in, out, "identity"), Interval: time.Millisecond, Cycles: 1}
	if _, err := RunWatch(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	writeTree(t, in, map[string][]byte{"two.jpg": encodeJPEG(t, gradient(32, 32, 3), 30)})
	var log bytes.Buffer
	c.Log, c.Cycles = &log, 2
	c.Progress = report.NewProgress(io.Discard, false)
	res, err := RunWatch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if done, total := c.Progress.Counts(); done != 2 || total != 2 {
		t.Errorf("progress after the second cycle: %d/%d, want 2/2 (each cycle counts its own)", done, total)
	}
	if !bytes.Contains(log.Bytes(), []byte("cycle 1: 2 inputs: 1 restored, 1 already done, 0 failed")) ||
		!bytes.Contains(log.Bytes(), []byte("cycle 2: 2 inputs: 0 restored, 2 already done, 0 failed")) {
		t.Errorf("watch log:\n%s", log.String())
	}
	if res.Summary.Totals.Skipped[report.ReasonDone] != 2 {
		t.Errorf("last cycle %+v", res.Summary.Totals)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunWatch(ctx, c); err != nil {
		t.Errorf("a cancelled watch is a clean stop, got %v", err)
	}
}

// TestWatchOutlivesAnOutage: the input goes away after the first cycle and comes back; the
// cycles in between are logged as failed and the watch goes on. A first cycle that cannot start
// ends the watch as bad usage.
func TestWatchOutlivesAnOutage(t *testing.T) {
	root := t.TempDir()
	in, out := filepath.Join(root, "in"), filepath.Join(root, "out")
	writeTree(t, in, map[string][]byte{"one.jpg": encodeJPEG(t, gradient(32, 32, 3), 20)})
	var log bytes.Buffer
	cycle := 0
	c := WatchConfig{RestoreConfig: restoreConfig(in, out, "identity"), Interval: time.Millisecond, Cycles: 3,
		Log: writerFunc(func(p []byte) (int, error) {
			cycle++
			switch cycle {
			case 1: // the outage
				if err := os.Rename(in, in+".away"); err != nil {
					t.Fatal(err)
				}
			case 2:
				if err := os.Rename(in+".away", in); err != nil {
					t.Fatal(err)
				}
			}
			return log.Write(p)
		})}
	res, err := RunWatch(context.Background(), c)
	if err != nil || res == nil {
		t.Fatalf("watch: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "cycle 2 failed: restore: cannot read the input") ||
		!strings.Contains(lines[2], "cycle 3: 1 input: 0 restored, 1 already done, 0 failed") {
		t.Errorf("watch log:\n%s", log.String())
	}

	c.Inputs, c.Log = []string{filepath.Join(root, "nonesuch")}, nil
	_, err = RunWatch(context.Background(), c)
	if !errors.As(err, new(UsageError)) {
		t.Errorf("a first cycle that cannot read its input: %v, want a UsageError", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
