package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.jpg"), []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
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
		{"probe-no-inputs", []string{"probe"}, exitJobFailed, "", "no inputs"},
		{"probe-bad-flag", []string{"probe", "--nope"}, exitUsage, "", "flag provided but not defined"},
		{"probe-failed-input", []string{"probe", dir}, exitInputFailed, "FAILED not_jpeg", ""},
		{"probe-empty-folder", []string{"probe", empty}, exitOK, "0 files", ""},
		{"doctor", []string{"doctor"}, exitOK, "onnxruntime 1.", ""},
		{"doctor-missing-lib", []string{"doctor", "--ort-lib", filepath.Join(dir, "x.so")}, exitJobFailed, "", "make setup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stdout.String(), tc.wantStdout) || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tc.args, code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}
