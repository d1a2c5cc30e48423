package jobs

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jpegrestore/enhance"
	"jpegrestore/report"
	"jpegrestore/storage"
	"jpegrestore/storage/gcstest"
)

// TestRestoreThroughFaults restores gs:// → gs:// through a proxy that answers 10% of the
// requests with 503, 5% with 429, drops 5% of the connections and delays 5%, with three seeds:
// every run finishes without error, every input is restored once, every output is a whole,
// decodable image, and the retries are counted in the summary.
func TestRestoreThroughFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("three restores through a faulty proxy")
	}
	const n = 29
	objs := map[string][]byte{}
	for i := range n {
		objs[fmt.Sprintf("in/p%d/img%02d.jpg", i%3, i)] = encodeJPEG(t, gradient(48+16*(i%3), 32, 3), 15+2*i)
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			proxy := gcstest.StartFaulty(t, "archive", objs,
				gcstest.Faults{Unavailable: 0.10, TooMany: 0.05, Drop: 0.05, Slow: 0.05, Seed: seed})
			ctx := context.Background()
			res, err := RunRestore(ctx, restoreConfig("gs://archive/in", "gs://archive/out", "identity"))
			if err != nil {
				t.Fatal(err)
			}
			injected, requests := proxy.Injected()
			proxy.SetFaults(gcstest.Faults{}) // check the outputs without faults
			tot := res.Summary.Totals
			if tot.Matched != n || tot.Restored != n || res.Failed != 0 {
				t.Errorf("totals: %d matched, %d restored, %d failed; want %d restored", tot.Matched, tot.Restored, res.Failed, n)
			}
			seen := map[string]int{}
			for _, r := range readRecords(t, report.Folder{Root: "gs://archive/out/_report"}.Records()) {
				seen[r.Rel]++
				if r.Status != report.StatusRestored {
					t.Errorf("%s: %s %s %s", r.Rel, r.Status, r.Reason, r.Error)
				}
			}
			for name := range objs {
				rel := strings.TrimPrefix(name, "in/")
				if seen[rel] != 1 {
					t.Errorf("%s has %d records", rel, seen[rel])
				}
				out, err := storage.ReadFile(ctx, "gs://archive/out/"+strings.TrimSuffix(rel, filepath.Ext(rel))+".png")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.Decode(bytes.NewReader(out)); err != nil {
					t.Errorf("output of %s does not decode: %v", rel, err)
				}
			}
			retried := tot.RetriesTotal()
			t.Logf("seed %d: %d requests, faults injected %v; retries counted on the records %v, in the process %v",
				seed, requests, injected, tot.Retries, res.Summary.Meta["storage_retries"])
			if retried == 0 {
				t.Error("no retry was counted on the records")
			}
		})
	}
}

// TestUnusableSinkStops: when every write fails once the job runs (here a folder stands where each
// output would go; the check before the run writes elsewhere and passes), the job stops after a few
// inputs with one line that says why, instead of marking each input failed.
func TestUnusableSinkStops(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	objs := map[string][]byte{}
	for i := range 3 * enhance.SinkFailureLimit {
		name := fmt.Sprintf("img%02d", i)
		objs[name+".jpg"] = encodeJPEG(t, gradient(32, 32, 3), 30)
		if err := os.MkdirAll(filepath.Join(out, name+".png"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, in, objs)
	_, err := RunRestore(context.Background(), restoreConfig(in, out, "identity"))
	if err == nil || !strings.HasPrefix(err.Error(), "restore: stopped: jpegrestore: the output is unusable: 10 writes in a row failed, the last: ") ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("RunRestore error:\n%v", err)
	}
}
