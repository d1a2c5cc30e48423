package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
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
	t.Chdir(t.TempDir())
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
	if res.Report != "archive-report" || tot.Matched != 7 {
		t.Errorf("report folder %s, %d inputs", res.Report, tot.Matched)
	}
	if _, err := os.Stat(filepath.Join("archive-report", report.SummaryFile)); err != nil {
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
	page, _ := os.ReadFile(filepath.Join("archive-report", report.HTMLFile))
	if speeds["fast"] <= 0 || speeds["best"] <= 0 || !strings.Contains(string(page), "time to restore the rest") {
		t.Errorf("preset speeds %v; estimates in the page: %v", speeds, strings.Contains(string(page), "time to restore"))
	}
	if _, err := os.Stat(filepath.Join(in, "scans", "a_q10.png")); err == nil {
		t.Error("the survey wrote an output image")
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
	res, err := RunWatch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
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
