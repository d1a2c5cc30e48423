package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"jpegrestore/storage/gcstest"
)

// keepBeamFlags puts Beam's process-global flags back as they were when the test ends, and
// returns the function that does it.
func keepBeamFlags(t *testing.T) (putBack func()) {
	old := map[string]string{}
	flag.CommandLine.VisitAll(func(f *flag.Flag) { old[f.Name] = f.Value.String() })
	putBack = func() {
		for name, v := range old {
			if flag.Lookup(name).Value.String() != v {
				flag.Set(name, v)
			}
		}
	}
	t.Cleanup(putBack)
	return putBack
}

// TestDataflowCommand: the README's Dataflow command parses, its options reach Beam, and the job
// is built for Dataflow (--dry_run: this machine has no Google Cloud project to submit it to).
func TestDataflowCommand(t *testing.T) {
	keepBeamFlags(t)
	// An in-process Prism run of an earlier test set Beam's --environment_type to LOOPBACK; a
	// launcher process runs one job and never has it set.
	flag.Set("environment_type", "")
	gcstest.Start(t, "archive", map[string][]byte{"scans/x.jpg": []byte("the job is built, not run")})
	worker := filepath.Join(t.TempDir(), "jpegrestore")
	os.WriteFile(worker, []byte("a worker binary"), 0o755)
	args := []string{"restore", "--runner", "dataflow", "--project", "P", "--region", "us-central1",
		"--staging_location", "gs://archive/staging", "--temp_location", "gs://archive/temp",
		"--sdk_container_image", "us-central1-docker.pkg.dev/P/REPO/jpegrestore:1", "--worker_machine_type", "n2-standard-8",
		"--max_num_workers", "20", "--worker_binary", worker, "--dry_run",
		"--in", "gs://archive/scans", "--out", "gs://archive/restored/scans",
		"--model", filepath.Join("..", "..", "inference", "testdata", "identity.json")}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "the job was built and not submitted") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	for name, want := range map[string]string{"runner": "dataflow", "project": "P", "region": "us-central1",
		"staging_location": "gs://archive/staging", "worker_machine_type": "n2-standard-8", "max_num_workers": "20", "worker_binary": worker} {
		if got := flag.Lookup(name).Value.String(); got != want {
			t.Errorf("Beam's --%s = %q, want %q", name, got, want)
		}
	}
}

// TestPortableCommandOptions: the README's Flink command's options reach Beam as given (no Flink
// job server here; TestWorkersApart runs the same kind of job on a Prism job server).
func TestPortableCommandOptions(t *testing.T) {
	keepBeamFlags(t)
	image := "us-central1-docker.pkg.dev/P/REPO/jpegrestore:1"
	_, code, ok := parseRestore("restore", []string{"--runner", "flink", "--endpoint", "localhost:8099",
		"--environment_type", "DOCKER", "--environment_config", image, "--worker_binary", "bin/jpegrestore",
		"--in", t.TempDir(), "--out", t.TempDir()}, &bytes.Buffer{}, nil)
	if !ok {
		t.Fatalf("exit %d", code)
	}
	for name, want := range map[string]string{"runner": "flink", "endpoint": "localhost:8099", "environment_type": "DOCKER",
		"environment_config": image, "worker_binary": "bin/jpegrestore"} {
		if got := flag.Lookup(name).Value.String(); got != want {
			t.Errorf("Beam's --%s = %q, want %q", name, got, want)
		}
	}
}

// TestWorkersApart runs a restore on a Prism job server whose SDK workers are processes of their
// own (environment PROCESS: Beam's boot program starting the jpegrestore binary), started from
// another folder and without the launcher's JPEGRESTORE_* variables: they find the models and
// ONNX Runtime by the rules of enhance.ModelConfig.Resolve and gpuworker.LibraryPath, from what
// travels in the job, and restore the same bytes as a run in this process.
func TestWorkersApart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Prism, Beam's boot program and jpegrestore, and runs workers in processes of their own")
	}
	putBack := keepBeamFlags(t)
	bin := t.TempDir()
	for _, b := range []struct{ out, pkg string }{
		{"prism", "github.com/apache/beam/sdks/v2/go/cmd/prism"},
		{"boot", "github.com/apache/beam/sdks/v2/go/container"},
		{"jpegrestore", "."},
	} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, b.out), b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", b.pkg, err, out)
		}
	}
	// The README's wrapper, beside boot (it strips the quotes Prism puts around the worker id).
	script, err := os.ReadFile(filepath.Join("..", "..", "deploy", "boot-wrapper.sh"))
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(bin, "boot-wrapper.sh")
	if err := os.WriteFile(wrapper, script, 0o755); err != nil {
		t.Fatal(err)
	}
	// The job server, and so every worker, runs in a folder of its own without JPEGRESTORE_*.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JPEGRESTORE_") {
			env = append(env, kv)
		}
	}
	port := freePort(t)
	var logs bytes.Buffer
	prism := exec.Command(filepath.Join(bin, "prism"), fmt.Sprintf("--job_port=%d", port), "--serve_http=false", "--log_level=warn")
	prism.Dir, prism.Env, prism.Stdout, prism.Stderr = t.TempDir(), env, &logs, &logs
	// The job server and the workers it starts share a process group, ended together.
	prism.SysProcAttr, prism.WaitDelay = &syscall.SysProcAttr{Setpgid: true}, 5*time.Second
	if err := prism.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-prism.Process.Pid, syscall.SIGKILL)
		prism.Wait()
	})
	waitForPort(t, port)

	in := t.TempDir()
	writeJPEG(t, filepath.Join(in, "a", "x.jpg"), 20)
	writeJPEG(t, filepath.Join(in, "b", "y.jpg"), 45)
	os.WriteFile(filepath.Join(in, "b", "bad.jpg"), []byte("nope"), 0o644)
	apart, here := filepath.Join(t.TempDir(), "apart"), filepath.Join(t.TempDir(), "here")
	command, _ := json.Marshal(map[string]string{"command": wrapper})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"restore", "--quiet", "--preset", "fast", "--runner", "universal", "--endpoint", fmt.Sprintf("localhost:%d", port),
		"--environment_type", "PROCESS", "--environment_config", string(command), "--worker_binary", filepath.Join(bin, "jpegrestore"),
		"--in", in, "--out", apart}, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "3 inputs: 2 restored, 1 skipped, 0 failed") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nprism: %s", code, stdout.String(), stderr.String(), logs.String())
	}
	putBack() // in this process: Prism in-process
	if code := run(ctx, []string{"restore", "--quiet", "--preset", "fast", "--in", in, "--out", here}, &stdout, &stderr); code != exitOK {
		t.Fatalf("in-process run: exit %d\n%s", code, stderr.String())
	}
	a, h := outputs(t, apart), outputs(t, here)
	if len(a) != 2 {
		t.Fatalf("outputs apart: %v", a)
	}
	for name, b := range h {
		if !bytes.Equal(a[name], b) {
			t.Errorf("%s differs between workers apart and in-process", name)
		}
	}
}

// outputs reads the restored images under a folder, by path.
func outputs(t *testing.T, dir string) map[string][]byte {
	out := map[string][]byte{}
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".png") {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
			out[rel], _ = os.ReadFile(p)
		}
		return nil
	})
	sort.Strings(names)
	return out
}
