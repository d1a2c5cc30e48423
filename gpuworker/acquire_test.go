package gpuworker

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireSharesPools(t *testing.T) {
	initORT(t)
	m := filepath.Join("..", "inference", "testdata", "identity.json")
	a, err := Acquire(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(strings.TrimSuffix(m, ".json")+".onnx", Options{Device: DeviceCPU}) // the same model and options
	if err != nil {
		t.Fatal(err)
	}
	c, err := Acquire(m, Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if a.Pool() != b.Pool() || a.Pool() == c.Pool() {
		t.Fatalf("pools: a=%p b=%p c=%p; want a==b!=c", a.Pool(), b.Pool(), c.Pool())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a.Close() // no-op
	if _, err := b.Pool().Infer(context.Background(), make([]float32, 3*16*16), 16, 16, nil); err != nil {
		t.Errorf("pool closed while a ticket still holds it: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool().Infer(context.Background(), make([]float32, 3*16*16), 16, 16, nil); err == nil {
		t.Error("pool still open after its last ticket closed")
	}
	c.Close()
	d, err := Acquire(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Pool() == b.Pool() {
		t.Error("a closed pool was handed out again")
	}
}

// TestLoaderNamesTheDevice: the loader hands out the shared pool as an engine, with its manifest
// and the device it runs on.
func TestLoaderNamesTheDevice(t *testing.T) {
	initORT(t)
	load := Loader("", Options{Device: "auto"})
	m, release, err := load(filepath.Join("..", "inference", "testdata", "conv.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if m.Manifest.Name == "" || m.Engine == nil || (m.Device != "cpu" && !strings.HasPrefix(m.Device, "cuda:")) {
		t.Errorf("loaded %+v", m)
	}
	if m.Device == "cpu" && !strings.Contains(m.Note, "running on the CPU") && !cudaAvailable(t) {
		t.Errorf("auto fell back to the CPU without a note: %q", m.Note)
	}
	found := false
	for _, s := range Pools() {
		found = found || (s.Model == m.Manifest.Name && s.Device == m.Device)
	}
	if !found {
		t.Errorf("the loaded pool is not among Pools(): %+v", Pools())
	}
	if _, _, err := load(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing model loaded")
	}
}
