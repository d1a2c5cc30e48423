package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

func TestTmpHeap(t *testing.T) {
	if os.Getenv("TMPHEAP") == "" {
		t.Skip()
	}
	in := t.TempDir()
	data, _ := encodeJPEGErr(photo(64, 48, 1), 30)
	for i := 0; i < 20000; i++ {
		dir := filepath.Join(in, fmt.Sprintf("d%03d", i/1000))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.jpg", i)), data, 0o644)
	}
	stop := make(chan bool)
	go func() {
		var max uint64
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Second):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max {
				max = ms.HeapInuse
				f, _ := os.Create("/tmp/heap.prof")
				pprof.WriteHeapProfile(f)
				f.Close()
				fmt.Println("heap inuse MiB", ms.HeapInuse>>20, "sys", ms.Sys>>20)
			}
		}
	}()
	_, err := RunRestore(context.Background(), restoreConfig(in, filepath.Join(t.TempDir(), "out"), "conv"))
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
}
