package gpuworker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvLibrary names the environment variable that points at the ONNX Runtime shared library.
const EnvLibrary = "JPEGRESTORE_ORT_LIB"

// bundledLibrary is where `make setup` puts the library, relative to the repository root.
const bundledLibrary = ".deps/onnxruntime/libonnxruntime.so.1"

// errNoLibrary explains what to do; it is wrapped with the places that were searched.
var errNoLibrary = errors.New(`ONNX Runtime shared library not found.
  On Debian/Ubuntu x86-64, run "make setup" in the jpegrestore checkout: it fetches
  libonnxruntime.so.1 (from the npm package onnxruntime-node) into .deps/onnxruntime/.
  Elsewhere, download the release archive for your platform from
  https://github.com/microsoft/onnxruntime/releases (onnxruntime-linux-x64-*.tgz,
  onnxruntime-osx-*.tgz, onnxruntime-win-x64-*.zip; 1.24 or newer) and pass its lib/ file with
  --ort-lib PATH or ` + EnvLibrary + `=PATH`)

// LibraryPath resolves the ONNX Runtime shared library: the explicit path (a flag) if given, else
// $JPEGRESTORE_ORT_LIB, else the first hint that exists (on a Beam worker: the path the launcher
// found, which holds when the worker runs on the launcher's machine), else
// .deps/onnxruntime/libonnxruntime.so.1 under the working directory, the executable's directory or
// its parent, or the repository root found from the working directory. An explicit path that does
// not exist is an error rather than a fallback.
func LibraryPath(explicit string, hints ...string) (string, error) {
	for _, src := range []struct{ what, path string }{{"--ort-lib", explicit}, {EnvLibrary, os.Getenv(EnvLibrary)}} {
		if src.path == "" {
			continue
		}
		abs, err := filepath.Abs(src.path)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s=%s: %w\n%w", src.what, src.path, err, errNoLibrary)
		}
		return abs, nil
	}
	var tried []string
	for _, h := range hints {
		if h == "" {
			continue
		}
		if _, err := os.Stat(h); err == nil {
			return h, nil
		}
		tried = append(tried, h)
	}
	for _, dir := range candidateRoots() {
		p := filepath.Join(dir, bundledLibrary)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("%w\n  (looked in %q)", errNoLibrary, tried)
}

func candidateRoots() []string {
	var roots []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil || filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		roots = append(roots, dir, filepath.Dir(dir))
	}
	return roots
}

var env struct {
	once    sync.Once
	path    string
	err     error
	version string
}

// Init loads the library at path and initialises the ORT environment. It runs once per process:
// later calls return the first call's result, and a later call naming a different library is an
// error (ORT cannot be re-initialised).
func Init(path string) error {
	env.once.Do(func() {
		env.path = path
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			env.err = fmt.Errorf("initialising ONNX Runtime from %s: %w", path, err)
			return
		}
		env.version = ort.GetVersion()
	})
	if env.err == nil && path != env.path {
		return fmt.Errorf("ONNX Runtime already initialised from %s; cannot switch to %s", env.path, path)
	}
	return env.err
}

// Version returns the loaded ONNX Runtime's version, or "" before a successful Init.
func Version() string { return env.version }
