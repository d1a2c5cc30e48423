package storage

import (
	"strings"
	"testing"
)

func TestMatchSegs(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.jpg", "a.jpg", true},
		{"*.jpg", "a.png", false},
		{"*.jpg", "sub/a.jpg", false}, // * stays within one segment.
		{"*", "a.jpg", true},
		{"*", "sub/a.jpg", false},
		{"a?.jpg", "ab.jpg", true},
		{"a?.jpg", "a.jpg", false},
		{"a?.jpg", "abc.jpg", false},
		{"[ab].jpg", "b.jpg", true},
		{"[ab].jpg", "c.jpg", false},
		{"[^ab].jpg", "c.jpg", true}, // path.Match negates with ^, not !.
		{"[^ab].jpg", "a.jpg", false},
		{"**/*.jpg", "a.jpg", true}, // ** matches zero segments.
		{"**/*.jpg", "x/a.jpg", true},
		{"**/*.jpg", "x/y/z/a.jpg", true},
		{"**/*.jpg", "x/y/a.png", false},
		{"**", "a.jpg", true},
		{"**", "x/y/a.jpg", true},
		{"x/**", "x/a.jpg", true},
		{"x/**", "y/a.jpg", false},
		{"x/**/a.jpg", "x/a.jpg", true},
		{"x/**/a.jpg", "x/1/2/a.jpg", true},
		{"x/**/a.jpg", "x/1/2/b.jpg", false},
		{"x/**/**/a.jpg", "x/1/a.jpg", true},
		{"**/y/**/*.jpg", "x/y/z/a.jpg", true},
		{"**/y/**/*.jpg", "x/w/z/a.jpg", false},
		{"*/a.jpg", "x/a.jpg", true},
		{"*/a.jpg", "a.jpg", false},
		{"*/a.jpg", "x/y/a.jpg", false},
		{"x/*/*.jpg", "x/y/a.jpg", true},
		{"a**.jpg", "ab.jpg", true}, // Not a whole segment: ** is * *.
		{"a**.jpg", "a/b.jpg", false},
		{"a.jpg", "a.jpg", true},
		{"a.jpg", "a.jpg/b", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.name, func(t *testing.T) {
			pat, err := compileGlob(tc.pattern)
			if err != nil {
				t.Fatalf("compileGlob(%q): %v", tc.pattern, err)
			}
			if got := matchSegs(pat, strings.Split(tc.name, "/")); got != tc.want {
				t.Errorf("matchSegs(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
			}
		})
	}
}

func TestMayMatchBelow(t *testing.T) {
	tests := []struct {
		pattern, dir string
		want         bool
	}{
		{"*.jpg", "sub", false},
		{"*/*.jpg", "sub", true},
		{"*/*.jpg", "sub/deep", false},
		{"s*/x/*.jpg", "sub/x", true},
		{"s*/x/*.jpg", "other", false},
		{"**/*.jpg", "a/b/c", true},
		{"s*/**", "sub/a/b", true},
		{"s*/**", "other/a", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.dir, func(t *testing.T) {
			pat, err := compileGlob(tc.pattern)
			if err != nil {
				t.Fatalf("compileGlob(%q): %v", tc.pattern, err)
			}
			if got := mayMatchBelow(pat, strings.Split(tc.dir, "/")); got != tc.want {
				t.Errorf("mayMatchBelow(%q, %q) = %v, want %v", tc.pattern, tc.dir, got, tc.want)
			}
		})
	}
}

func TestCompileGlobErrors(t *testing.T) {
	for _, pattern := range []string{"[", "a/[b", "a//b", "a/", `a\`} {
		t.Run(pattern, func(t *testing.T) {
			if _, err := compileGlob(pattern); err == nil {
				t.Errorf("compileGlob(%q) = nil error, want one", pattern)
			}
		})
	}
}
