package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jpegrestore/inference"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.jpg"), []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	cut := t.TempDir()
	writeJPEG(t, filepath.Join(cut, "whole.jpg"), 30)
	whole, _ := os.ReadFile(filepath.Join(cut, "whole.jpg"))
	os.WriteFile(filepath.Join(cut, "cut.jpg"), whole[:len(whole)/2], 0o644)
	refs := t.TempDir()
	writePNG(t, filepath.Join(refs, "ref.png"))
	fixture := filepath.Join("..", "..", "inference", "testdata", "identity.json")
	// The smallest tile the shipped fast model takes follows from its manifest's overlap, which
	// changes whenever fast is retrained.
	fastMan, err := inference.LoadManifest(filepath.Join("..", "..", "models", "fast.json"))
	if err != nil {
		t.Fatal(err)
	}
	smallest := (fastMan.Overlap/fastMan.PadMultiple + 1) * fastMan.PadMultiple
	tooSmall := fmt.Sprintf("the fast model needs a multiple of %d larger than its overlap of %d px: at least %d",
		fastMan.PadMultiple, fastMan.Overlap, smallest)
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no-command", nil, exitUsage, "", "usage:"},
		{"unknown", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "commands:", ""},
		{"probe-no-inputs", []string{"probe"}, exitUsage, "", "usage: jpegrestore probe [flags] PATH..."},
		{"restore-help", []string{"restore", "-h"}, exitOK, "", "Beam's pipeline options"},
		{"report-help", []string{"report", "--help"}, exitOK, "", "-in value"},
		{"restore-missing-input", []string{"restore", "--in", filepath.Join(dir, "nonesuch"), "--out", filepath.Join(empty, "o3"), "--model", fixture},
			exitUsage, "", "cannot read the input " + filepath.Join(dir, "nonesuch")},
		{"restore-unwritable-output", []string{"restore", "--in", dir, "--out", filepath.Join(dir, "bad.jpg", "out"), "--model", fixture},
			exitUsage, "", "cannot write to " + filepath.Join(dir, "bad.jpg", "out")},
		{"restore-unknown-preset", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o4"), "--preset", "nonsense"},
			exitUsage, "", "--preset nonsense: the shipped models are fast or best; fast-float or best-float for the other precision (or give --model PATH)"},
		{"restore-bad-ensemble", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o5"), "--ensemble", "3"}, exitUsage, "", "--ensemble 3: want 1, 2, 4 or 8"},
		{"restore-bad-qcs", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o5"), "--qcs", "0.7"}, exitUsage, "", "--qcs 0.7: want auto, a number in (0, 0.5], or off"},
		{"eval-bad-qcs", []string{"eval", "--reference", refs, "--out", empty, "--qcs", "none"}, exitUsage, "", "--qcs none: want auto, a number in (0, 0.5], or off"},
		{"restore-tile-too-small", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o6"), "--preset", "fast", "--tile", "128"},
			exitUsage, "", "--tile 128: " + tooSmall},
		{"restore-tile-odd", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o7"), "--preset", "fast", "--tile", "12"},
			exitUsage, "", "--tile 12: " + tooSmall},
		{"restore-route-tile", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o8"), "--preset", "fast", "--routes", "strong=1-29:tile=64,rest=30-100"},
			exitUsage, "", "--routes strong: tile 64: the fast model needs"},
		{"probe-bad-flag", []string{"probe", "--nope"}, exitUsage, "", "flag provided but not defined"},
		{"probe-skipped-input", []string{"probe", dir}, exitOK, "SKIPPED not_jpeg", ""},
		{"probe-failed-input", []string{"probe", cut}, exitInputFailed, "FAILED truncated", ""},
		{"probe-empty-folder", []string{"probe", empty}, exitOK, "0 files", ""},
		{"doctor", []string{"doctor"}, exitOK, "onnxruntime 1.", ""},
		{"doctor-missing-lib", []string{"doctor", "--ort-lib", filepath.Join(dir, "x.so")}, exitJobFailed, "", "make setup"},
		{"restore-no-out", []string{"restore", "--in", dir}, exitUsage, "", "no --out"},
		{"restore-bad-routes", []string{"restore", "--in", dir, "--out", empty, "--routes", "a=1-50"}, exitUsage, "", "QF 51-100 is in no band"},
		{"restore-missing-model", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o"), "--model", filepath.Join(dir, "none.json")}, exitJobFailed, "", "none.json"},
		{"restore-bad-input", []string{"restore", "--quiet", "--in", dir, "--out", filepath.Join(empty, "o2"), "--model", fixture}, exitOK, "1 input: 0 restored, 1 skipped, 0 failed", ""},
		{"watch-one-cycle", []string{"watch", "--in", dir, "--out", filepath.Join(empty, "w"), "--model", fixture, "--cycles", "1"}, exitOK, "cycle 1: 1 input: 0 restored, 1 skipped", ""},
		{"eval", []string{"eval", "--quiet", "--reference", refs, "--out", filepath.Join(empty, "e"), "--qf", "20,60", "--model", fixture}, exitOK, "QF  60  PSNR", ""},
		{"eval-qcs-auto", []string{"eval", "--quiet", "--reference", refs, "--out", filepath.Join(empty, "e2"), "--qf", "20", "--model", fixture, "--qcs", "auto"}, exitOK, "QF  20  PSNR", ""},
		{"eval-bad-qf", []string{"eval", "--reference", refs, "--out", empty, "--qf", "0"}, exitUsage, "", "QF 0"},
		{"report", []string{"report", "--quiet", "--estimate=false", "--in", refs, "--out", filepath.Join(empty, "r")}, exitOK, "1 input: 0 surveyed, 1 skipped", ""},
		{"restore-bad-workers", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o9"), "--workers", "localhost"}, exitUsage, "", `--workers localhost: "localhost" is not HOST:PORT`},
		{"restore-workers-twice", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o9"), "--workers", "a:1,a:1"}, exitUsage, "", "a:1 is named twice"},
		{"restore-workers-and-device", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o9"), "--workers", "a:1", "--device", "cuda:0"}, exitUsage, "",
			"with --workers the model runs on those servers"},
		{"restore-workers-and-solo-pixels", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o9"), "--workers", "a:1", "--solo-pixels", "-1"}, exitUsage, "",
			"--batch-wait and --solo-pixels set a pool in this process"},
		{"restore-no-worker-answers", []string{"restore", "--in", dir, "--out", filepath.Join(empty, "o10"), "--workers", "127.0.0.1:1", "--model", fixture}, exitJobFailed, "",
			"--workers: no worker answered: 127.0.0.1:1"},
		{"serve-help", []string{"serve", "-h"}, exitOK, "", "-listen"},
		{"serve-bad-preset", []string{"serve", "--preset", "fast,nope"}, exitUsage, "", "--preset nope: the shipped models are fast or best"},
		{"serve-bad-listen", []string{"serve", "--model", fixture, "--listen", "256.1.1.1:1"}, exitUsage, "", "--listen 256.1.1.1:1"},
		{"serve-bad-queue", []string{"serve", "--queue", "0"}, exitUsage, "", "--queue 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stdout.String(), tc.wantStdout) || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tc.args, code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 40, 32))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJPEG(t *testing.T, path string, q int) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 48, 32))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 5)
	}
	data, err := jpeg.EncodeJPEG(pix.FromStd(m), jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
