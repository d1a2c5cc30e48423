package storage

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIsGCS(t *testing.T) {
	tests := []struct {
		uri  string
		want bool
	}{
		{"gs://b/x.jpg", true},
		{"gs://b", true},
		{"/data/x.jpg", false},
		{"in/x.jpg", false},
		{"gs:/b/x.jpg", false},
		{"GS://b/x", false},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			if got := IsGCS(tc.uri); got != tc.want {
				t.Errorf("IsGCS(%q) = %v, want %v", tc.uri, got, tc.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		name, base, rel, want string
	}{
		{"gcs", "gs://b/out", "a/x.jpg", "gs://b/out/a/x.jpg"},
		{"gcs trailing slash", "gs://b/out/", "a/x.jpg", "gs://b/out/a/x.jpg"},
		{"gcs bucket", "gs://b", "x.jpg", "gs://b/x.jpg"},
		{"gcs bucket slash", "gs://b/", "x.jpg", "gs://b/x.jpg"},
		{"gcs leading slash in rel", "gs://b/out", "/x.jpg", "gs://b/out/x.jpg"},
		{"gcs empty rel", "gs://b/out", "", "gs://b/out"},
		{"local abs", "/data/out", "a/x.jpg", "/data/out/a/x.jpg"},
		{"local trailing slash", "/data/out/", "x.jpg", "/data/out/x.jpg"},
		{"local relative", "out", "a/x.jpg", "out/a/x.jpg"},
		{"local dot", ".", "x.jpg", "x.jpg"},
		{"local cleans", "./out//", "a/./x.jpg", "out/a/x.jpg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Join(tc.base, tc.rel)); diff != "" {
				t.Errorf("Join(%q, %q) mismatch (-want +got):\n%s", tc.base, tc.rel, diff)
			}
		})
	}
}

func TestRel(t *testing.T) {
	tests := []struct {
		name, root, uri, want string
		wantErr               bool
	}{
		{name: "gcs", root: "gs://b/in", uri: "gs://b/in/a/x.jpg", want: "a/x.jpg"},
		{name: "gcs root slash", root: "gs://b/in/", uri: "gs://b/in/x.jpg", want: "x.jpg"},
		{name: "gcs bucket root", root: "gs://b", uri: "gs://b/a/x.jpg", want: "a/x.jpg"},
		{name: "gcs single object", root: "gs://b/in/x.jpg", uri: "gs://b/in/x.jpg", want: "x.jpg"},
		{name: "gcs sibling prefix", root: "gs://b/in", uri: "gs://b/input/x.jpg", wantErr: true},
		{name: "gcs other bucket", root: "gs://b/in", uri: "gs://c/in/x.jpg", wantErr: true},
		{name: "gcs vs local", root: "gs://b/in", uri: "/in/x.jpg", wantErr: true},
		{name: "gcs no bucket", root: "gs://", uri: "gs:///x.jpg", wantErr: true},
		{name: "local abs", root: "/data/in", uri: "/data/in/a/x.jpg", want: "a/x.jpg"},
		{name: "local relative", root: "in", uri: "in/a/x.jpg", want: "a/x.jpg"},
		{name: "local dot root", root: ".", uri: "a/x.jpg", want: "a/x.jpg"},
		{name: "local single file", root: "/data/in/x.jpg", uri: "/data/in/x.jpg", want: "x.jpg"},
		{name: "local outside", root: "/data/in", uri: "/data/input/x.jpg", wantErr: true},
		{name: "local parent", root: "/data/in", uri: "/data", wantErr: true},
		{name: "local vs gcs", root: "/data/in", uri: "gs://b/in/x.jpg", wantErr: true},
		{name: "local abs vs relative", root: "/data/in", uri: "in/x.jpg", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rel(tc.root, tc.uri)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Rel(%q, %q) error = %v, wantErr %v", tc.root, tc.uri, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Rel(%q, %q) mismatch (-want +got):\n%s", tc.root, tc.uri, diff)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	tests := []struct {
		pattern, want string
	}{
		{"gs://b/in/**/*.jpg", "gs://b/in"},
		{"gs://b/in/a?/x.jpg", "gs://b/in"},
		{"gs://b/in/[ab]/x.jpg", "gs://b/in"},
		{"gs://b/*.jpg", "gs://b"},
		{"gs://b/in", "gs://b/in"},
		{"gs://b/in/", "gs://b/in"},
		{"gs://b/in/x.jpg", "gs://b/in/x.jpg"},
		{"gs://b", "gs://b"},
		{"gs://b/", "gs://b"},
		{"/data/in/**/*.jpg", "/data/in"},
		{"/data/in/", "/data/in"},
		{"/data/in/x.jpg", "/data/in/x.jpg"},
		{"/*.jpg", "/"},
		{"*.jpg", "."},
		{"in/*.jpg", "in"},
		{"./in/sub/*", "in/sub"},
		{"in/a*/b/*.jpg", "in"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Root(tc.pattern)); diff != "" {
				t.Errorf("Root(%q) mismatch (-want +got):\n%s", tc.pattern, diff)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	at := time.Unix(1700000000, 123)
	for _, tc := range []struct {
		o    Object
		want string
	}{
		{Object{URI: "/a.jpg", Size: 10, ModTime: at}, "local:10:1700000000000000123"},
		{Object{URI: "gs://b/a.jpg", Size: 10, MD5: []byte{0xab, 0x01}, CRC32C: 7}, "gcs:10:md5:ab01"},
		{Object{URI: "gs://b/a.jpg", Size: 10, CRC32C: 0xbeef}, "gcs:10:crc32c:0000beef"},
	} {
		if got := tc.o.Version(); got != tc.want {
			t.Errorf("%+v: Version() = %q, want %q", tc.o, got, tc.want)
		}
	}
}
