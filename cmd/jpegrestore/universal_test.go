package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUniversalRunner starts Prism as a separate job server process and submits a restore
// through --runner=universal --endpoint=...: the portable path that Flink, Spark and Dataflow
// take (the job is sent as a portable pipeline proto; the SDK harness runs in LOOPBACK mode in
// this process).
func TestUniversalRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a Prism job server")
	}
	bin := filepath.Join(t.TempDir(), "prism")
	build := exec.Command("go", "build", "-o", bin, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building prism: %v\n%s", err, out)
	}
	port := freePort(t)
	var logs bytes.Buffer
	prism := exec.Command(bin, fmt.Sprintf("--job_port=%d", port), "--serve_http=false", "--log_level=warn")
	prism.Stdout, prism.Stderr = &logs, &logs
	if err := prism.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prism.Process.Kill(); prism.Wait() })
	waitForPort(t, port)

	// Beam's runner flags are process-global; put them back for the other tests.
	for _, name := range []string{"runner", "endpoint", "environment_type"} {
		old := flag.Lookup(name).Value.String()
		t.Cleanup(func() { flag.Set(name, old) })
	}
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	writeJPEG(t, filepath.Join(in, "a", "x.jpg"), 20)
	writeJPEG(t, filepath.Join(in, "b", "y.jpg"), 50)
	os.WriteFile(filepath.Join(in, "b", "bad.jpg"), []byte("nope"), 0o644)
	var stdout, stderr bytes.Buffer
	fixture := filepath.Join("..", "..", "inference", "testdata", "identity.json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, []string{"restore", "--quiet", "--runner", "universal", "--endpoint", fmt.Sprintf("localhost:%d", port),
		"--in", in, "--out", out, "--model", fixture}, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "3 inputs: 2 restored, 1 skipped, 0 failed") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nprism: %s", code, stdout.String(), stderr.String(), logs.String())
	}
	for _, p := range []string{"a/x.png", "b/y.png", "_report/records.jsonl", "_report/report.html"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitForPort(t *testing.T, port int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prism did not listen on port %d", port)
}
