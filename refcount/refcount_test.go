package refcount

import (
	"errors"
	"sync"
	"testing"
)

func TestMap(t *testing.T) {
	var closed []string
	m := Map[string, string]{Close: func(v string) error { closed = append(closed, v); return nil }}
	opens := 0
	open := func(v string) func() (string, error) {
		return func() (string, error) { opens++; return v, nil }
	}
	a, releaseA, _ := m.Acquire("k", open("one"))
	b, releaseB, _ := m.Acquire("k", open("two"))
	if a != "one" || b != "one" || opens != 1 {
		t.Fatalf("two holders of k got %q and %q after %d opens", a, b, opens)
	}
	releaseA()
	releaseA() // no-op
	if len(closed) != 0 {
		t.Fatalf("closed %v while k is held", closed)
	}
	releaseB()
	if len(closed) != 1 || closed[0] != "one" {
		t.Fatalf("closed %v after the last release", closed)
	}
	c, releaseC, _ := m.Acquire("k", open("three"))
	if c != "three" || opens != 2 {
		t.Fatalf("after the last release, Acquire gave %q (opens %d)", c, opens)
	}
	n := 0
	m.Each(func(k, v string) { n++ })
	if n != 1 {
		t.Fatalf("Each saw %d values", n)
	}
	releaseC()
	if _, _, err := m.Acquire("bad", func() (string, error) { return "", errors.New("no") }); err == nil {
		t.Fatal("a failed open gave no error")
	}
	m.Each(func(k, v string) { t.Errorf("held after a failed open: %s", k) })
}

func TestMapConcurrent(t *testing.T) {
	var opens, closes int
	m := Map[int, *int]{Close: func(*int) error { closes++; return nil }}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, release, err := m.Acquire(1, func() (*int, error) { opens++; return new(int), nil })
			if err != nil {
				t.Error(err)
			}
			release()
		})
	}
	wg.Wait()
	if opens != closes || opens == 0 {
		t.Fatalf("%d opens, %d closes", opens, closes)
	}
}
