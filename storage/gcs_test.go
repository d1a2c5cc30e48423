package storage_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"jpegrestore/storage"
	"jpegrestore/storage/gcstest"
)

// testObjects is the content of the fake bucket "b" in every GCS test.
var testObjects = map[string][]byte{
	"in/a.jpg":                  []byte("aaaa"),
	"in/b.png":                  []byte("bb"),
	"in/sub/":                   nil, // Folder placeholder.
	"in/sub/c.jpg":              []byte("ccc"),
	"in/sub/deep/d.jpg":         []byte("dddd"),
	"in/sub/.jpegrestore-tmp-1": []byte("ours"),
	"in/_tmp-x/f.jpg":           []byte("temporary"),
	"input.jpg":                 []byte("not under in/"),
	"single":                    []byte("exact object"),
	"single/child.jpg":          []byte("under single/"),
	"empty.jpg":                 {},
	"other/_tmp-1/y.jpg":        []byte("temporary folder"),
}

// matchURIs returns the URIs Match gives for pattern, in order.
func matchURIs(ctx context.Context, pattern string) ([]string, error) {
	var got []string
	err := storage.Match(ctx, pattern, func(o storage.Object) error {
		got = append(got, o.URI)
		return nil
	})
	return got, err
}

func TestMatchGCS(t *testing.T) {
	gcstest.Start(t, "b", testObjects)
	tests := []struct {
		name    string
		pattern string
		want    []string
		wantErr bool
	}{
		{name: "prefix", pattern: "gs://b/in", want: []string{
			"gs://b/in/a.jpg", "gs://b/in/b.png", "gs://b/in/sub/c.jpg", "gs://b/in/sub/deep/d.jpg",
		}},
		{name: "prefix slash", pattern: "gs://b/in/", want: []string{
			"gs://b/in/a.jpg", "gs://b/in/b.png", "gs://b/in/sub/c.jpg", "gs://b/in/sub/deep/d.jpg",
		}},
		{name: "partial name is not a prefix", pattern: "gs://b/in/su", want: nil},
		{name: "exact object", pattern: "gs://b/in/sub/c.jpg", want: []string{"gs://b/in/sub/c.jpg"}},
		{name: "object shadows folder", pattern: "gs://b/single", want: []string{"gs://b/single"}},
		{name: "folder with slash", pattern: "gs://b/single/", want: []string{"gs://b/single/child.jpg"}},
		{name: "bucket", pattern: "gs://b", want: []string{
			"gs://b/empty.jpg", "gs://b/in/a.jpg", "gs://b/in/b.png", "gs://b/in/sub/c.jpg",
			"gs://b/in/sub/deep/d.jpg", "gs://b/input.jpg", "gs://b/single", "gs://b/single/child.jpg",
		}},
		{name: "star", pattern: "gs://b/in/*.jpg", want: []string{"gs://b/in/a.jpg"}},
		{name: "double star", pattern: "gs://b/in/**/*.jpg", want: []string{
			"gs://b/in/a.jpg", "gs://b/in/sub/c.jpg", "gs://b/in/sub/deep/d.jpg",
		}},
		{name: "double star from bucket", pattern: "gs://b/**/c.jpg", want: []string{"gs://b/in/sub/c.jpg"}},
		{name: "question mark", pattern: "gs://b/in?jpg", want: nil},
		{name: "glob top level", pattern: "gs://b/*.jpg", want: []string{"gs://b/empty.jpg", "gs://b/input.jpg"}},
		{name: "class", pattern: "gs://b/in/[ab].*", want: []string{"gs://b/in/a.jpg", "gs://b/in/b.png"}},
		{name: "missing prefix", pattern: "gs://b/nothing", want: nil},
		{name: "glob matching nothing", pattern: "gs://b/in/*.gif", want: nil},
		{name: "missing bucket", pattern: "gs://missing/in", wantErr: true},
		{name: "missing bucket root", pattern: "gs://missing", wantErr: true},
		{name: "missing bucket glob", pattern: "gs://missing/*.jpg", wantErr: true},
		{name: "bad glob", pattern: "gs://b/in/[", wantErr: true},
		{name: "no bucket", pattern: "gs:///in", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matchURIs(t.Context(), tc.pattern)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Match(%q) error = %v, wantErr %v", tc.pattern, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match(%q) mismatch (-want +got):\n%s", tc.pattern, diff)
			}
		})
	}

	t.Run("objects", func(t *testing.T) {
		var got []storage.Object
		err := storage.Match(t.Context(), "gs://b/in/sub", func(o storage.Object) error {
			if o.ModTime.IsZero() {
				t.Errorf("%s: zero ModTime", o.URI)
			}
			got = append(got, o)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.Object{gcsObject("gs://b/in/sub/c.jpg", "ccc"), gcsObject("gs://b/in/sub/deep/d.jpg", "dddd")}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(storage.Object{}, "ModTime")); diff != "" {
			t.Errorf("Match objects mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("fn error stops", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := storage.Match(t.Context(), "gs://b/in", func(storage.Object) error {
			calls++
			return errStop
		})
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("Match = %v after %d calls, want errStop after 1", err, calls)
		}
	})
}

func TestReadGCS(t *testing.T) {
	gcstest.Start(t, "b", map[string][]byte{"x.jpg": []byte("0123456789"), "empty.jpg": {}})
	tests := []struct {
		name    string
		uri     string
		n       int64 // ReadHead length; -1 means ReadFile.
		want    string
		wantErr bool
	}{
		{name: "file", uri: "gs://b/x.jpg", n: -1, want: "0123456789"},
		{name: "head", uri: "gs://b/x.jpg", n: 4, want: "0123"},
		{name: "head longer than object", uri: "gs://b/x.jpg", n: 100, want: "0123456789"},
		{name: "head zero", uri: "gs://b/x.jpg", n: 0, want: ""},
		{name: "empty object", uri: "gs://b/empty.jpg", n: -1, want: ""},
		{name: "empty object head", uri: "gs://b/empty.jpg", n: 10, want: ""},
		{name: "missing", uri: "gs://b/missing.jpg", n: -1, wantErr: true},
		{name: "missing head", uri: "gs://b/missing.jpg", n: 4, wantErr: true},
		{name: "missing bucket", uri: "gs://missing/x.jpg", n: -1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var err error
			if tc.n < 0 {
				got, err = storage.ReadFile(t.Context(), tc.uri)
			} else {
				got, err = storage.ReadHead(t.Context(), tc.uri, tc.n)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("read %s error = %v, wantErr %v", tc.uri, err, tc.wantErr)
			}
			if tc.wantErr && (!errors.Is(err, fs.ErrNotExist) || storage.Transient(err)) {
				t.Errorf("read %s error = %v, want fs.ErrNotExist and not Transient", tc.uri, err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("read %s mismatch (-want +got):\n%s", tc.uri, diff)
			}
		})
	}
}

func TestStatGCS(t *testing.T) {
	gcstest.Start(t, "b", map[string][]byte{"in/x.jpg": []byte("01234")})
	got, err := storage.Stat(t.Context(), "gs://b/in/x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if got.ModTime.IsZero() {
		t.Error("Stat: zero ModTime")
	}
	want := gcsObject("gs://b/in/x.jpg", "01234")
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(storage.Object{}, "ModTime")); diff != "" {
		t.Errorf("Stat mismatch (-want +got):\n%s", diff)
	}
	for _, uri := range []string{"gs://b/in/missing.jpg", "gs://b/in", "gs://missing/x.jpg"} {
		_, err := storage.Stat(t.Context(), uri)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want fs.ErrNotExist", uri, err)
		}
	}
}

// TestWriteGCS writes a mirrored copy of a glob's matches and reads it back.
func TestWriteGCS(t *testing.T) {
	gcstest.Start(t, "b", map[string][]byte{
		"in/a.jpg":     []byte("a"),
		"in/x/b.jpg":   []byte("bb"),
		"in/x/c.png":   []byte("not a jpeg"),
		"in/y/z/d.jpg": []byte("dddd"),
	})
	ctx := t.Context()
	pattern := "gs://b/in/**/*.jpg"
	root := storage.Root(pattern)
	err := storage.Match(ctx, pattern, func(o storage.Object) error {
		rel, err := storage.Rel(root, o.URI)
		if err != nil {
			return err
		}
		data, err := storage.ReadFile(ctx, o.URI)
		if err != nil {
			return err
		}
		return storage.WriteFile(ctx, storage.Join("gs://b/out/", rel), append(data, '!'))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gs://b/out/a.jpg": "a!", "gs://b/out/x/b.jpg": "bb!", "gs://b/out/y/z/d.jpg": "dddd!"}
	got := map[string]string{}
	err = storage.Match(ctx, "gs://b/out", func(o storage.Object) error {
		data, err := storage.ReadFile(ctx, o.URI)
		got[o.URI] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written objects mismatch (-want +got):\n%s", diff)
	}

	t.Run("overwrite", func(t *testing.T) {
		if err := storage.WriteFile(ctx, "gs://b/out/a.jpg", []byte("v2")); err != nil {
			t.Fatal(err)
		}
		data, err := storage.ReadFile(ctx, "gs://b/out/a.jpg")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff("v2", string(data)); diff != "" {
			t.Errorf("overwritten object mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("cancelled context commits nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := storage.WriteFile(cctx, "gs://b/out/cancelled.jpg", []byte("x")); err == nil {
			t.Fatal("WriteFile with a cancelled context = nil error, want one")
		}
		if _, err := storage.Stat(ctx, "gs://b/out/cancelled.jpg"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat after a cancelled write = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("no object name", func(t *testing.T) {
		if err := storage.WriteFile(ctx, "gs://b/", []byte("x")); err == nil {
			t.Error("WriteFile(gs://b/) = nil error, want one")
		}
	})
}

// TestUnreachableGCS checks that a dead emulator gives a transient error.
func TestUnreachableGCS(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1") // Nothing listens on port 1.
	storage.ResetClientForTest()
	t.Cleanup(storage.ResetClientForTest)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := storage.ReadFile(ctx, "gs://b/x.jpg")
	if err == nil {
		t.Fatal("ReadFile from a dead emulator = nil error, want one")
	}
	if !storage.Transient(err) {
		t.Errorf("Transient(%v) = false, want true", err)
	}
	if _, err := matchURIs(ctx, "gs://b/in"); err == nil {
		t.Error("Match on a dead emulator = nil error, want one")
	}
}

// gcsObject is the Object GCS lists for content at uri (ModTime aside): its size and hashes.
func gcsObject(uri, content string) storage.Object {
	sum := md5.Sum([]byte(content))
	return storage.Object{URI: uri, Size: int64(len(content)), MD5: sum[:],
		CRC32C: crc32.Checksum([]byte(content), crc32.MakeTable(crc32.Castagnoli))}
}

// TestOpenThroughFaults: a streamed read through a proxy that fails a third of the requests
// returns the whole object.
func TestOpenThroughFaults(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	p := gcstest.StartFaulty(t, "b", map[string][]byte{"big.bin": big}, gcstest.Faults{Unavailable: 0.15, Drop: 0.2, Seed: 7})
	for range 5 {
		r, err := storage.Open(t.Context(), "gs://b/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read %d of %d bytes: %v", len(got), len(big), err)
		}
	}
	if injected, _ := p.Injected(); len(injected) == 0 {
		t.Error("no fault was injected")
	}
}

func TestCheckGCS(t *testing.T) {
	gcstest.Start(t, "b", map[string][]byte{"in/x.jpg": []byte("x")})
	ctx := t.Context()
	if err := storage.CheckReadable(ctx, "gs://b/in"); err != nil {
		t.Error(err)
	}
	if err := storage.CheckReadable(ctx, "gs://missing/in"); err == nil {
		t.Error("a missing bucket is readable")
	}
	if err := storage.CheckWritable(ctx, "gs://b/out"); err != nil {
		t.Error(err)
	}
	if err := storage.CheckWritable(ctx, "gs://missing/out"); err == nil {
		t.Error("a missing bucket is writable")
	}
}
