package storage

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// gsScheme is the prefix of every GCS URI.
const gsScheme = "gs://"

// Object describes one file or GCS object.
type Object struct {
	// URI is the object's full URI, in the same form (relative or absolute,
	// local or gs://) as the pattern it was listed from; local paths are
	// cleaned with filepath.Clean.
	URI string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is the file's modification time, or the GCS object's last
	// update time.
	ModTime time.Time
	// OutsideRoot marks a local symlink below the listed root that resolves
	// to a file outside it (see Match).
	OutsideRoot bool
	// MD5 and CRC32C are the content hashes GCS lists for an object (MD5 is
	// absent for composite objects); both unset for local files.
	MD5    []byte
	CRC32C uint32
}

// Version identifies the object's content as far as a listing can, without
// reading it: for GCS its size and content hash ("gcs:SIZE:md5:HEX", or crc32c
// when GCS has no MD5), which change exactly when the content does; for a
// local file its size and modification time in nanoseconds ("local:SIZE:NS"),
// which change whenever it is written (and when it is only touched, which the
// content hash of a read then tells apart).
func (o Object) Version() string {
	switch {
	case len(o.MD5) > 0:
		return fmt.Sprintf("gcs:%d:md5:%x", o.Size, o.MD5)
	case IsGCS(o.URI):
		return fmt.Sprintf("gcs:%d:crc32c:%08x", o.Size, o.CRC32C)
	}
	return fmt.Sprintf("local:%d:%d", o.Size, o.ModTime.UnixNano())
}

// IsGCS reports whether uri names a Google Cloud Storage object or prefix,
// that is whether it starts with "gs://".
func IsGCS(uri string) bool {
	return strings.HasPrefix(uri, gsScheme)
}

// splitGCS splits "gs://bucket/a/b" into "bucket" and "a/b". The object part
// may be empty ("gs://bucket", "gs://bucket/").
func splitGCS(uri string) (bucket, object string, err error) {
	if !IsGCS(uri) {
		return "", "", fmt.Errorf("storage: %q is not a gs:// URI", uri)
	}
	bucket, object, _ = strings.Cut(strings.TrimPrefix(uri, gsScheme), "/")
	if bucket == "" {
		return "", "", fmt.Errorf("storage: %q has no bucket name", uri)
	}
	return bucket, object, nil
}

// Join appends the "/"-separated relative path rel to base.
//
// For a gs:// base it joins strings, so the "gs://" stays intact; base may end
// with "/" or not, and leading slashes of rel are dropped. For a local base it
// is filepath.Join(base, filepath.FromSlash(rel)). An empty rel returns base
// unchanged.
func Join(base, rel string) string {
	if rel == "" {
		return base
	}
	if IsGCS(base) {
		return strings.TrimSuffix(base, "/") + "/" + strings.TrimLeft(rel, "/")
	}
	return filepath.Join(base, filepath.FromSlash(rel))
}

// Rel returns the path of uri relative to root, with "/" separators, for
// mirroring an input tree into an output one with Join.
//
// root is normally Root(pattern) and uri an Object.URI that Match listed for
// that pattern. If uri equals root (the pattern named a single file), Rel
// returns the base name of uri, so that a single input file is written as
// Join(out, name). Rel returns an error if uri is not under root, or if one is
// a gs:// URI and the other is not.
func Rel(root, uri string) (string, error) {
	if IsGCS(root) != IsGCS(uri) {
		return "", fmt.Errorf("storage: %s is not under %s", uri, root)
	}
	if IsGCS(root) {
		if _, _, err := splitGCS(root); err != nil {
			return "", err
		}
		r := strings.TrimSuffix(root, "/")
		if uri == r || uri == r+"/" {
			return path.Base(uri), nil
		}
		rel, ok := strings.CutPrefix(uri, r+"/")
		if !ok || rel == "" {
			return "", fmt.Errorf("storage: %s is not under %s", uri, root)
		}
		return rel, nil
	}
	rel, err := filepath.Rel(root, uri)
	if err != nil {
		return "", fmt.Errorf("storage: %s is not under %s: %w", uri, root, err)
	}
	if rel == "." {
		return filepath.Base(uri), nil
	}
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("storage: %s is not under %s", uri, root)
	}
	return filepath.ToSlash(rel), nil
}
