package gpuworker

import (
	"context"
	"testing"
)

func TestAcquireSharesPools(t *testing.T) {
	initORT(t)
	m := fixture(t, "identity")
	a, err := Acquire(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(m, Options{Device: DeviceCPU}) // the same options once defaults are filled
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
