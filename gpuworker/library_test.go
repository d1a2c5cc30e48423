package gpuworker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibraryPath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.so")
	present := filepath.Join(t.TempDir(), "lib.so")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, explicit, env string
		want                string // "" = expect an error
		wantErr             string
	}{
		{"explicit-wins", present, missing, present, ""},
		{"explicit-missing-is-an-error", missing, present, "", "--ort-lib=" + missing},
		{"env", "", present, present, ""},
		{"env-missing-is-an-error", "", missing, "", EnvLibrary + "=" + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvLibrary, tc.env)
			got, err := LibraryPath(tc.explicit)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "make setup") {
					t.Fatalf("LibraryPath(%q) error = %v, want one naming %q and saying what to do", tc.explicit, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("LibraryPath(%q) = %q, %v; want %q", tc.explicit, got, err, tc.want)
			}
		})
	}
}

// bundled returns the library that `make setup` installs; the tests run after it, so its absence
// is a broken set-up.
func bundled(t *testing.T) string {
	t.Helper()
	t.Setenv(EnvLibrary, "")
	p, err := LibraryPath("")
	if err != nil {
		t.Fatalf("run `make setup` first: %v", err)
	}
	return p
}

func TestInit(t *testing.T) {
	lib := bundled(t)
	if err := Init(lib); err != nil {
		t.Fatal(err)
	}
	if err := Init(lib); err != nil {
		t.Errorf("second Init with the same library: %v", err)
	}
	if v := Version(); !strings.HasPrefix(v, "1.") {
		t.Errorf("Version() = %q", v)
	}
	if err := Init(lib + ".other"); err == nil {
		t.Error("Init with another library after initialisation succeeded")
	}
}

// TestInitBadLibrary runs in a child process, since a process initialises ORT only once.
func TestInitBadLibrary(t *testing.T) {
	if bad := os.Getenv("GPUWORKER_BAD_LIB"); bad != "" {
		if err := Init(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Fatalf("Init(%q) = %v, want an error naming the file", bad, err)
		}
		return
	}
	bad := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(bad, []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitBadLibrary$", "-test.v")
	cmd.Env = append(os.Environ(), "GPUWORKER_BAD_LIB="+bad)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
