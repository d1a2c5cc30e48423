package storage

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// globChars are the characters that make a pattern a glob.
const globChars = "*?["

// doubleStar is the path segment that matches any number (zero or more) of
// whole path segments.
const doubleStar = "**"

// Temporary-file prefixes: Match skips every path segment that starts with one
// of them. WriteFile's local temp files start with tmpPrefix.
const (
	tmpPrefix      = ".jpegrestore-tmp"
	otherTmpPrefix = "_tmp-"
)

// hasGlob reports whether s contains a glob metacharacter.
func hasGlob(s string) bool {
	return strings.ContainsAny(s, globChars)
}

// isTemp reports whether the path segment seg names one of our temporary files
// or folders.
func isTemp(seg string) bool {
	return strings.HasPrefix(seg, tmpPrefix) || strings.HasPrefix(seg, otherTmpPrefix)
}

// Root returns the part of pattern that names a folder or bucket prefix to
// list from: the longest leading run of path segments without glob characters
// (*, ? or [). A pattern without glob characters is its own root.
//
// Root never touches storage, so for a single-file pattern it returns the file
// itself; Rel handles that case. Trailing slashes are dropped, except that a
// bare bucket stays "gs://bucket" and the local root folder stays "/". Local
// results are cleaned with filepath.Clean, and a relative local glob without
// a folder part ("*.jpg") has root ".".
//
// Examples: Root("gs://b/in/**/*.jpg") is "gs://b/in", Root("gs://b/*.jpg") is
// "gs://b", Root("data/in/") is "data/in".
func Root(pattern string) string {
	if IsGCS(pattern) {
		bucket, object, err := splitGCS(pattern)
		if err != nil {
			return pattern
		}
		dir := strings.Join(literalPrefix(strings.Split(object, "/")), "/")
		dir = strings.TrimRight(dir, "/")
		if dir == "" {
			return gsScheme + bucket
		}
		return gsScheme + bucket + "/" + dir
	}
	clean := filepath.Clean(pattern)
	if !hasGlob(clean) {
		return clean
	}
	segs := literalPrefix(strings.Split(filepath.ToSlash(clean), "/"))
	dir := strings.Join(segs, "/")
	switch {
	case dir == "" && filepath.IsAbs(clean):
		return string(filepath.Separator)
	case dir == "":
		return "."
	}
	return filepath.Clean(filepath.FromSlash(dir))
}

// literalPrefix returns the segments before the first one with a glob
// character; all of segs if none has one.
func literalPrefix(segs []string) []string {
	for i, s := range segs {
		if hasGlob(s) {
			return segs[:i]
		}
	}
	return segs
}

// compileGlob splits the "/"-separated glob pat into segments and checks
// their syntax.
func compileGlob(pat string) ([]string, error) {
	segs := strings.Split(pat, "/")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("storage: bad pattern %q: empty path segment", pat)
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, fmt.Errorf("storage: bad pattern %q: %w", pat, err)
		}
	}
	return segs, nil
}

// matchSegs reports whether the path segments name match the glob segments
// pat. A pattern segment "**" matches zero or more whole segments; any other
// segment is matched against exactly one name segment with path.Match, so *
// and ? never cross a "/". pat must come from compileGlob.
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == doubleStar {
			for len(pat) > 0 && pat[0] == doubleStar {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range len(name) + 1 {
				if matchSegs(pat, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// mayMatchBelow reports whether some file below the folder with path
// segments dir could match pat, so a walk can skip folders that cannot.
func mayMatchBelow(pat, dir []string) bool {
	for ; len(dir) > 0; pat, dir = pat[1:], dir[1:] {
		if len(pat) == 0 {
			return false
		}
		if pat[0] == doubleStar {
			return true
		}
		if ok, _ := path.Match(pat[0], dir[0]); !ok {
			return false
		}
	}
	return len(pat) > 0
}
