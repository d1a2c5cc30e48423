package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/storage/gcstest"
)

func gradient(w, h, c int) pix.Image {
	m := pix.New(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8((i/c)%w*3 + i%c*40 + i/(w*c))
	}
	return m
}

// archive writes a small mixed folder and returns its root.
func archive(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	enc := func(m pix.Image, q int) []byte {
		b, err := jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	q30 := enc(gradient(40, 24, 3), 30)
	write("a/q30.jpg", q30)
	write("a/b/gray_q55.JPEG", enc(gradient(17, 9, 1), 55))
	write("a/cut.jpg", q30[:len(q30)/2])
	write("text.jpg", []byte("hello"))
	write("ignored.png", []byte("not looked at: folders contribute JPEG names only"))
	return root
}

func TestRunProbe(t *testing.T) {
	root := archive(t)
	var out bytes.Buffer
	sum, err := RunProbe(context.Background(), ProbeConfig{Inputs: []string{root}, JSON: true}, &out)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		File   string
		Status report.Status
		Reason report.Reason
		Sub    string
		QF     int
		Chroma int
	}
	var got []row
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r ProbeRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, row{r.Rel, r.Status, r.Reason, r.Subsampling, r.QF, r.QFChroma})
	}
	// Every file is listed, as a restore would match it: one that is not a JPEG is skipped.
	want := []row{
		{"a/b/gray_q55.JPEG", report.StatusProbed, "", "gray", 55, 0},
		{"a/cut.jpg", report.StatusFailed, report.ReasonTruncated, "", 0, 0},
		{"a/q30.jpg", report.StatusProbed, "", "4:2:0", 30, 30},
		{"ignored.png", report.StatusSkipped, report.ReasonNotJPEG, "", 0, 0},
		{"text.jpg", report.StatusSkipped, report.ReasonNotJPEG, "", 0, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantSum := ProbeSummary{Files: 5, Probed: 2, Skipped: 2, Failed: 1,
		ByReason:    map[report.Reason]int{report.ReasonTruncated: 1, report.ReasonNotJPEG: 2},
		QFHistogram: map[int]int{30: 1, 50: 1}}
	if diff := cmp.Diff(wantSum, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestRunProbeTable(t *testing.T) {
	root := archive(t)
	var out bytes.Buffer
	// A file named twice (folder and glob) is probed once.
	if _, err := RunProbe(context.Background(), ProbeConfig{Inputs: []string{root, filepath.Join(root, "a", "*.jpg")}}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"40x24", "ycbcr 4:2:0 baseline", "FAILED truncated", "SKIPPED not_jpeg",
		"5 files: 2 probed, 2 skipped, 1 failed (not_jpeg 2, truncated 1)", "QF 30-39  # 1"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "q30.jpg"); n != 1 {
		t.Errorf("q30.jpg listed %d times", n)
	}
}

// TestRunProbeGCS: probe reads a bucket as the restore job does.
func TestRunProbeGCS(t *testing.T) {
	q30, err := jpeg.EncodeJPEG(gradient(40, 24, 3), jpeg.EncodeOptions{Quality: 30, Subsampling: jpeg.Sub420})
	if err != nil {
		t.Fatal(err)
	}
	gcstest.Start(t, "archive", map[string][]byte{"in/x/q30.jpg": q30})
	var out bytes.Buffer
	sum, err := RunProbe(context.Background(), ProbeConfig{Inputs: []string{"gs://archive/in"}}, &out)
	if err != nil || sum.Probed != 1 || !strings.Contains(out.String(), "gs://archive/in/x/q30.jpg") {
		t.Errorf("probe of a bucket: %+v, %v\n%s", sum, err, out.String())
	}
}

func TestProbeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ProbeConfig
		want string
	}{
		{"no-inputs", ProbeConfig{}, "no inputs"},
		{"negative-limit", ProbeConfig{Inputs: []string{"."}, MaxPixels: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	ctx := context.Background()
	if _, err := RunProbe(ctx, ProbeConfig{Inputs: []string{filepath.Join(t.TempDir(), "*.jpg")}}, &bytes.Buffer{}); err == nil {
		t.Error("a glob matching nothing is not an error")
	}
	if _, err := RunProbe(ctx, ProbeConfig{Inputs: []string{filepath.Join(t.TempDir(), "missing")}}, &bytes.Buffer{}); err == nil {
		t.Error("a missing input is not an error")
	}
}

func TestProbeTooLarge(t *testing.T) {
	data, err := jpeg.EncodeJPEG(gradient(40, 24, 3), jpeg.EncodeOptions{Quality: 90})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.jpg")
	os.WriteFile(p, data, 0o644)
	sum, err := RunProbe(context.Background(), ProbeConfig{Inputs: []string{p}, MaxPixels: 40*24 - 1}, &bytes.Buffer{})
	if err != nil || sum.Failed != 1 || sum.ByReason[report.ReasonTooLarge] != 1 {
		t.Errorf("probe = %+v, %v; want failed too_large", sum, err)
	}
}

// TestProbeSummaryBands: the histogram's lines name the report's bands, the first included.
func TestProbeSummaryBands(t *testing.T) {
	var out bytes.Buffer
	s := ProbeSummary{QFHistogram: map[int]int{}}
	for _, qf := range []int{5, 95, 100} {
		s.add(ProbeRecord{Record: report.Record{Status: report.StatusProbed, QF: qf}})
	}
	writeSummary(&out, s)
	for _, want := range []string{"QF 1-9    # 1", "QF 90-100 ## 2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
