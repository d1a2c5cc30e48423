package transforms

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/enhance"
	"jpegrestore/inference"
	"jpegrestore/inference/inferencetest"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/route"
)

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func jpegBytes(t *testing.T, q int) []byte {
	m := pix.New(40, 24, 3)
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 3)
	}
	b, err := jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMatchFn calls the DoFn directly: every object once, outputs under the input excluded, the
// tool's own report folders left out and a user's folder named _report walked.
func TestMatchFn(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a.jpg", "x/b.jpg", "out/c.png", "out/_report/records.jsonl", "old/_report/summary.json",
		"old/_report/runs/r1/report.html", "old/_report/crop.jpg", "mine/_report/d.jpg", "mine/_report/deep/e.jpg"} {
		write(t, filepath.Join(root, p), []byte("x"))
	}
	var got []string
	f := &matchFn{Exclude: []string{filepath.Join(root, "out")}}
	err := f.ProcessElement(context.Background(), root, func(in enhance.Input) {
		if in.Root != root {
			t.Errorf("root %q", in.Root)
		}
		rel, _ := filepath.Rel(root, in.URI)
		got = append(got, filepath.ToSlash(rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"a.jpg", "mine/_report/d.jpg", "mine/_report/deep/e.jpg", "x/b.jpg"}, got); diff != "" {
		t.Errorf("matched (-want +got):\n%s", diff)
	}
}

// TestRestoreFnAndSurveyFn calls the DoFns directly, with the models run in Go and through
// ONNX Runtime: every input gets its record, a bad one never fails the bundle.
func TestRestoreFnAndSurveyFn(t *testing.T) {
	goLoad, _ := inferencetest.Loader(inferencetest.Identity)
	for name, load := range map[string]inference.Loader{"go": goLoad, "ort": nil} {
		t.Run(name, func(t *testing.T) {
			in, out := t.TempDir(), t.TempDir()
			write(t, filepath.Join(in, "p", "q20.jpg"), jpegBytes(t, 20))
			write(t, filepath.Join(in, "bad.jpg"), []byte("nope"))
			f := &restoreFn{load: load, Config: RestoreConfig{
				Settings: enhance.Settings{Out: out, Format: enhance.FormatPNG, Routes: route.Default()},
				Models:   enhance.ModelConfig{Default: filepath.Join("..", "inference", "testdata", "identity.json")},
			}}
			if err := f.Setup(); err != nil {
				t.Fatal(err)
			}
			var recs []report.Record
			emit := func(r report.Record) { recs = append(recs, r) }
			f.StartBundle(context.Background(), emit)
			for _, name := range []string{"p/q20.jpg", "bad.jpg", "missing.jpg"} {
				if err := f.ProcessElement(context.Background(), enhance.Input{URI: filepath.Join(in, name), Root: in}, emit); err != nil {
					t.Fatalf("%s: a bad input failed the bundle: %v", name, err)
				}
			}
			if err := f.FinishBundle(context.Background(), emit); err != nil {
				t.Fatal(err)
			}
			type o struct {
				Rel    string
				Status report.Status
				Reason report.Reason
			}
			var got []o
			for _, r := range recs {
				got = append(got, o{r.Rel, r.Status, r.Reason})
			}
			// Inputs run side by side, so records come in the order they finish.
			sort.Slice(got, func(i, j int) bool { return got[i].Rel < got[j].Rel })
			want := []o{{"bad.jpg", report.StatusSkipped, report.ReasonNotJPEG}, {"missing.jpg", report.StatusFailed, report.ReasonReadFailed}, {"p/q20.jpg", report.StatusRestored, ""}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(out, "p", "q20.png")); err != nil {
				t.Error(err)
			}
			var survey []report.Record
			sf := &surveyFn{}
			sf.Setup()
			if err := sf.ProcessElement(context.Background(), enhance.Input{URI: filepath.Join(in, "p", "q20.jpg"), Root: in}, func(r report.Record) { survey = append(survey, r) }); err != nil {
				t.Fatal(err)
			}
			if len(survey) != 1 || survey[0].Status != report.StatusSurveyed || survey[0].QF != 20 || survey[0].NRBefore == 0 {
				t.Errorf("survey record %+v", survey)
			}
		})
	}
}

// TestSetupFailsWithoutItsModel: a worker that cannot load a route's model fails in Setup, not
// on every input.
func TestSetupFailsWithoutItsModel(t *testing.T) {
	goLoad, _ := inferencetest.Loader(inferencetest.Identity)
	f := &restoreFn{load: goLoad, Config: RestoreConfig{
		Settings: enhance.Settings{Out: t.TempDir(), Format: enhance.FormatPNG, Routes: route.Default()},
		Models:   enhance.ModelConfig{Default: filepath.Join(t.TempDir(), "none.json")},
	}}
	if err := f.Setup(); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("Setup with a missing model: %v", err)
	}
	e := &evalFn{load: goLoad, Config: EvalConfig{QFs: []int{10}, Models: f.Config.Models}}
	if err := e.Setup(); err == nil {
		t.Error("eval Setup with a missing model succeeded")
	}
}
