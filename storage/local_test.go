package storage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree creates files (slash path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// matchURIs returns the URIs Match gives for pattern, in order.
func matchURIs(ctx context.Context, pattern string) ([]string, error) {
	var got []string
	err := Match(ctx, pattern, func(o Object) error {
		got = append(got, o.URI)
		return nil
	})
	return got, err
}

func TestMatchLocal(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"in/a.jpg":                   "a",
		"in/b.png":                   "bb",
		"in/sub/c.jpg":               "ccc",
		"in/sub/deep/d.jpg":          "dddd",
		"in/sub/e1.jpg":              "e1",
		"in/sub/e2.jpg":              "e2",
		"in/_tmp-x/f.jpg":            "temp folder",
		"in/.jpegrestore-tmp-123":    "crashed write",
		"in/sub/_tmp-g.jpg":          "temp file",
		"in/sub/.jpegrestore-tmp-9a": "crashed write",
	})
	if err := os.Symlink(filepath.Join(dir, "in"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	all := []string{"in/a.jpg", "in/b.png", "in/sub/c.jpg", "in/sub/deep/d.jpg", "in/sub/e1.jpg", "in/sub/e2.jpg"}
	tests := []struct {
		name    string
		pattern string // Slash path relative to dir.
		want    []string
		wantErr bool
	}{
		{name: "folder", pattern: "in", want: all},
		{name: "folder trailing slash", pattern: "in/", want: all},
		{name: "symlinked folder", pattern: "link", want: []string{
			"link/a.jpg", "link/b.png", "link/sub/c.jpg", "link/sub/deep/d.jpg", "link/sub/e1.jpg", "link/sub/e2.jpg",
		}},
		{name: "file", pattern: "in/sub/c.jpg", want: []string{"in/sub/c.jpg"}},
		{name: "star", pattern: "in/*.jpg", want: []string{"in/a.jpg"}},
		{name: "star folder", pattern: "in/*/c.jpg", want: []string{"in/sub/c.jpg"}},
		{name: "double star", pattern: "in/**/*.jpg", want: []string{
			"in/a.jpg", "in/sub/c.jpg", "in/sub/deep/d.jpg", "in/sub/e1.jpg", "in/sub/e2.jpg",
		}},
		{name: "double star alone", pattern: "in/**", want: all},
		{name: "double star in middle", pattern: "in/s*/**/d.jpg", want: []string{"in/sub/deep/d.jpg"}},
		{name: "question mark", pattern: "in/sub/e?.jpg", want: []string{"in/sub/e1.jpg", "in/sub/e2.jpg"}},
		{name: "class", pattern: "in/[ab].*", want: []string{"in/a.jpg", "in/b.png"}},
		{name: "glob in root segment", pattern: "i*/a.jpg", want: []string{"in/a.jpg"}},
		{name: "no match", pattern: "in/*.gif", want: nil},
		{name: "glob below a file", pattern: "in/a.jpg/*", want: nil},
		{name: "missing folder", pattern: "missing", wantErr: true},
		{name: "missing glob root", pattern: "missing/*.jpg", wantErr: true},
		{name: "bad pattern", pattern: "in/[", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matchURIs(t.Context(), filepath.Join(dir, filepath.FromSlash(tc.pattern)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Match(%q) error = %v, wantErr %v", tc.pattern, err, tc.wantErr)
			}
			for i, uri := range got {
				got[i] = filepath.ToSlash(strings.TrimPrefix(uri, dir+string(filepath.Separator)))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match(%q) mismatch (-want +got):\n%s", tc.pattern, diff)
			}
		})
	}

	t.Run("objects", func(t *testing.T) {
		var got []Object
		err := Match(t.Context(), filepath.Join(dir, "in/sub/*.jpg"), func(o Object) error {
			got = append(got, o)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(filepath.Join(dir, "in/sub/c.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		want := []Object{
			{URI: filepath.Join(dir, "in/sub/c.jpg"), Size: 3, ModTime: info.ModTime()},
			{URI: filepath.Join(dir, "in/sub/e1.jpg"), Size: 2},
			{URI: filepath.Join(dir, "in/sub/e2.jpg"), Size: 2},
		}
		if len(got) == len(want) {
			want[1].ModTime, want[2].ModTime = got[1].ModTime, got[2].ModTime
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Match objects mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("missing is ErrNotExist", func(t *testing.T) {
		_, err := matchURIs(t.Context(), filepath.Join(dir, "missing"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Match(missing) = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("fn error stops", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := Match(t.Context(), filepath.Join(dir, "in"), func(Object) error {
			calls++
			return errStop
		})
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("Match = %v after %d calls, want errStop after 1", err, calls)
		}
	})

	t.Run("relative", func(t *testing.T) {
		t.Chdir(dir)
		for _, tc := range []struct {
			pattern string
			want    []string
		}{
			{"in/sub/e*.jpg", []string{"in/sub/e1.jpg", "in/sub/e2.jpg"}},
			{"./in/sub/e1.jpg", []string{"in/sub/e1.jpg"}},
			{"in/sub/deep", []string{"in/sub/deep/d.jpg"}},
			// Symlinked folders below the root are not followed.
			{"*/sub/deep/*.jpg", []string{"in/sub/deep/d.jpg"}},
		} {
			got, err := matchURIs(t.Context(), filepath.FromSlash(tc.pattern))
			if err != nil {
				t.Fatalf("Match(%q): %v", tc.pattern, err)
			}
			for i := range got {
				got[i] = filepath.ToSlash(got[i])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match(%q) mismatch (-want +got):\n%s", tc.pattern, diff)
			}
		}
	})
}

// TestMatchMirror checks that Root, Rel and Join mirror matched paths.
func TestMatchMirror(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"in/a.jpg": "a", "in/x/b.jpg": "b"})
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"in", []string{"out/a.jpg", "out/x/b.jpg"}},
		{"in/**/*.jpg", []string{"out/a.jpg", "out/x/b.jpg"}},
		{"in/x/b.jpg", []string{"out/b.jpg"}},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			pattern := filepath.Join(dir, tc.pattern)
			root := Root(pattern)
			var got []string
			err := Match(t.Context(), pattern, func(o Object) error {
				rel, err := Rel(root, o.URI)
				if err != nil {
					return err
				}
				got = append(got, filepath.ToSlash(strings.TrimPrefix(Join(filepath.Join(dir, "out"), rel), dir+"/")))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mirrored paths mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadLocal(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"x.jpg": "0123456789", "empty.jpg": ""})
	x := filepath.Join(dir, "x.jpg")
	tests := []struct {
		name    string
		uri     string
		n       int64 // ReadHead length; -1 means ReadFile.
		want    string
		wantErr bool
	}{
		{name: "file", uri: x, n: -1, want: "0123456789"},
		{name: "head", uri: x, n: 4, want: "0123"},
		{name: "head longer than file", uri: x, n: 100, want: "0123456789"},
		{name: "head zero", uri: x, n: 0, want: ""},
		{name: "empty file head", uri: filepath.Join(dir, "empty.jpg"), n: 10, want: ""},
		{name: "missing", uri: filepath.Join(dir, "missing.jpg"), n: -1, wantErr: true},
		{name: "missing head", uri: filepath.Join(dir, "missing.jpg"), n: 4, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var err error
			if tc.n < 0 {
				got, err = ReadFile(t.Context(), tc.uri)
			} else {
				got, err = ReadHead(t.Context(), tc.uri, tc.n)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("read error = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("read error = %v, want fs.ErrNotExist", err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("read mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ReadHead(t.Context(), x, -1); err == nil {
		t.Error("ReadHead(n=-1) = nil error, want one")
	}
}

func TestStatLocal(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"x.jpg": "01234"})
	x := filepath.Join(dir, "x.jpg")
	info, err := os.Stat(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Stat(t.Context(), x)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Object{URI: x, Size: 5, ModTime: info.ModTime()}, got); diff != "" {
		t.Errorf("Stat mismatch (-want +got):\n%s", diff)
	}
	_, err = Stat(t.Context(), filepath.Join(dir, "missing.jpg"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
	}
	if Transient(err) {
		t.Errorf("Transient(%v) = true, want false", err)
	}
	if _, err := Stat(t.Context(), dir); err == nil {
		t.Error("Stat(folder) = nil error, want one")
	}
}

// tempFiles returns the names of WriteFile's temporary files below dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
			found = append(found, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestWriteFileLocal(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out", "a", "b", "x.jpg") // Parents do not exist yet.
	for _, data := range []string{"first version", "v2"} { // Overwrite with shorter data.
		if err := WriteFile(t.Context(), target, []byte(data)); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(data, string(got)); diff != "" {
			t.Errorf("content mismatch (-want +got):\n%s", diff)
		}
	}
	info, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o644 {
		t.Errorf("mode = %v, want 0644", got)
	}
	if tmp := tempFiles(t, dir); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	t.Run("failed rename leaves no temp file", func(t *testing.T) {
		folder := filepath.Join(dir, "out", "folder")
		if err := os.MkdirAll(filepath.Join(folder, "child"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(t.Context(), folder, []byte("x")); err == nil {
			t.Error("WriteFile over a non-empty folder = nil error, want one")
		}
		if tmp := tempFiles(t, dir); len(tmp) > 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})

	t.Run("parent is a file", func(t *testing.T) {
		if err := WriteFile(t.Context(), filepath.Join(target, "y.jpg"), []byte("x")); err == nil {
			t.Error("WriteFile below a file = nil error, want one")
		}
	})

	t.Run("readers see whole files", func(t *testing.T) {
		name := filepath.Join(dir, "race.jpg")
		versions := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 1000)}
		if err := WriteFile(t.Context(), name, versions[0]); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := os.ReadFile(name)
				if err != nil {
					t.Errorf("ReadFile during writes: %v", err)
					return
				}
				if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
					t.Errorf("reader saw a partial file of %d bytes", len(got))
					return
				}
			}
		})
		for i := range 50 {
			if err := WriteFile(t.Context(), name, versions[i%2]); err != nil {
				t.Error(err)
				break
			}
		}
		close(done)
		wg.Wait()
	})
}

// TestMatchSymlinks: links to files below the root are listed, marked when they lead outside
// it; dangling links are listed (reading them fails); links to folders are not followed.
func TestMatchSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"in/a.jpg": "a", "in/sub/b.jpg": "b", "secret.jpg": "s"})
	for link, target := range map[string]string{
		"in/inside.jpg":   filepath.Join(dir, "in", "sub", "b.jpg"),
		"in/relative.jpg": filepath.Join("sub", "b.jpg"),
		"in/outside.jpg":  filepath.Join(dir, "secret.jpg"),
		"in/escape.jpg":   filepath.Join("..", "secret.jpg"),
		"in/dangling.jpg": filepath.Join(dir, "none.jpg"),
		"in/folder":       filepath.Join(dir, "in", "sub"),
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	// The root itself reached through a symlink: its files are inside.
	if err := os.Symlink(filepath.Join(dir, "in"), filepath.Join(dir, "rootlink")); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"in", "rootlink"} {
		got := map[string]bool{}
		err := Match(t.Context(), filepath.Join(dir, root), func(o Object) error {
			rel, _ := filepath.Rel(filepath.Join(dir, root), o.URI)
			got[filepath.ToSlash(rel)] = o.OutsideRoot
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"a.jpg": false, "sub/b.jpg": false, "inside.jpg": false, "relative.jpg": false,
			"outside.jpg": true, "escape.jpg": true, "dangling.jpg": false}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Match(%s) (-want +got):\n%s", root, diff)
		}
	}
}

func TestCheckReadableWritable(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"in/a.jpg": "a", "file": "x"})
	ctx := t.Context()
	for _, ok := range []string{filepath.Join(dir, "in"), filepath.Join(dir, "in", "*.jpg"), filepath.Join(dir, "in", "a.jpg")} {
		if err := CheckReadable(ctx, ok); err != nil {
			t.Errorf("CheckReadable(%s): %v", ok, err)
		}
	}
	if err := CheckReadable(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing input is readable")
	}
	if err := CheckWritable(ctx, filepath.Join(dir, "new", "out")); err != nil {
		t.Errorf("CheckWritable(new folder): %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "new", "out")); len(entries) != 0 {
		t.Errorf("the write check left %v", entries)
	}
	if err := CheckWritable(ctx, filepath.Join(dir, "file", "out")); err == nil {
		t.Error("a folder under a file is writable")
	}
}
