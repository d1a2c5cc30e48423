package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// listPageSize is the number of GCS objects fetched per list request; Match
// holds at most one page in memory.
const listPageSize = 1000

// Match lists the files that the user-given input URI pattern means and calls
// fn for each, one at a time, in a deterministic order: for local paths the
// lexical per-folder order of filepath.WalkDir, for GCS the lexicographic
// order of object names. Listing streams: GCS is read page by page
// (listPageSize objects), a local tree folder by folder.
//
// pattern is one of
//   - a file or object: fn sees just that;
//   - a folder, a bucket ("gs://b") or a prefix without glob characters: fn
//     sees every file below it, recursively. "gs://b/p" is listed as the
//     folder "p/", unless an object named exactly "p" exists, which is then
//     the only match;
//   - a glob: fn sees every file below Root(pattern) whose path matches.
//     "*", "?" and "[...]" (negated "[^...]") match within one path segment
//     (as path.Match), and a whole segment "**" matches any number of
//     segments, including none:
//     "gs://b/in/**/*.jpg" matches "gs://b/in/x.jpg" and "gs://b/in/a/b/x.jpg".
//
// Below the root, Match skips GCS folder placeholders (names ending in "/"),
// every path segment starting with "_tmp-" or ".jpegrestore-tmp" (temporary
// files, including WriteFile's), and local entries that are neither regular
// files nor symlinks. Symlinked folders are followed only as the root, which
// also rules out cycles. A symlink to a file is listed, with OutsideRoot set
// when the file it resolves to lies outside the resolved root (the caller
// refuses to read those: a name in the archive must not reach files elsewhere);
// a dangling symlink is listed as it is (reading it fails). Each Object.URI has the pattern's form: relative
// local patterns give relative (cleaned) paths.
//
// A pattern that matches nothing is not an error: Match returns nil without
// calling fn. A missing local file or root folder, a missing or unreachable
// bucket, and a malformed glob are errors. An error from fn stops the listing
// and is returned as is.
func Match(ctx context.Context, pattern string, fn func(Object) error) error {
	if pattern == "" {
		return errors.New("storage: match: empty pattern")
	}
	if IsGCS(pattern) {
		return matchGCS(ctx, pattern, fn)
	}
	return matchLocal(ctx, pattern, fn)
}

// matchLocal is Match for local paths.
func matchLocal(ctx context.Context, pattern string, fn func(Object) error) error {
	clean := filepath.Clean(pattern)
	root := Root(clean)
	var glob []string
	if hasGlob(clean) {
		var err error
		if glob, err = compileGlob(globTail(clean, root)); err != nil {
			return err
		}
	} else {
		info, err := os.Stat(clean)
		if err != nil {
			return fmt.Errorf("storage: match %s: %w", pattern, err)
		}
		if !info.IsDir() {
			return fn(Object{URI: clean, Size: info.Size(), ModTime: info.ModTime()})
		}
	}
	// WalkDir does not follow a symlinked root; a trailing separator makes
	// the kernel resolve it.
	walkRoot := root
	rootReal := "" // the root with symlinks resolved, once a symlink below it needs it
	if info, err := os.Lstat(root); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		walkRoot = root + string(filepath.Separator)
	}
	return filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("storage: match %s: %w", pattern, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("storage: match %s: %w", pattern, err)
		}
		if p == walkRoot {
			return nil // A glob whose root is a file matches nothing.
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("storage: match %s: %w", pattern, err)
		}
		segs := strings.Split(filepath.ToSlash(rel), "/")
		if isTemp(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if glob != nil && !mayMatchBelow(glob, segs) {
				return filepath.SkipDir
			}
			return nil
		}
		if glob != nil && !matchSegs(glob, segs) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return matchLink(p, root, &rootReal, fn)
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil // Socket, device, pipe: not a file to read.
		}
		return fn(Object{URI: p, Size: info.Size(), ModTime: info.ModTime()})
	})
}

// matchLink lists a symbolic link found below the root: a link to a file is listed, marked
// OutsideRoot when the file lies outside the (resolved) root, and a dangling link is listed too,
// so that reading it fails on the record; a link to a folder is not followed.
func matchLink(p, root string, rootReal *string, fn func(Object) error) error {
	info, err := os.Stat(p)
	if err != nil {
		return fn(Object{URI: p}) // dangling
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	if *rootReal == "" {
		if *rootReal, err = filepath.EvalSymlinks(root); err != nil {
			return fmt.Errorf("storage: match %s: %w", root, err)
		}
	}
	target, err := filepath.EvalSymlinks(p)
	if err == nil {
		_, err = Rel(*rootReal, target)
	}
	outside := err != nil
	return fn(Object{URI: p, Size: info.Size(), ModTime: info.ModTime(), OutsideRoot: outside})
}

// globTail returns the "/"-separated part of the cleaned local pattern clean
// below its root.
func globTail(clean, root string) string {
	switch root {
	case ".":
		return filepath.ToSlash(clean)
	case string(filepath.Separator):
		return filepath.ToSlash(clean[1:])
	}
	return filepath.ToSlash(clean[len(root)+1:])
}

// matchGCS is Match for gs:// patterns.
func matchGCS(ctx context.Context, pattern string, fn func(Object) error) error {
	bucket, object, err := splitGCS(pattern)
	if err != nil {
		return err
	}
	c, err := client(ctx)
	if err != nil {
		return fmt.Errorf("storage: match %s: %w", pattern, err)
	}
	bkt := c.Bucket(bucket)
	if hasGlob(object) {
		_, prefix, _ := splitGCS(Root(pattern))
		if prefix != "" {
			prefix += "/"
		}
		glob, err := compileGlob(object[len(prefix):])
		if err != nil {
			return err
		}
		return listGCS(ctx, bkt, bucket, pattern, prefix, glob, fn)
	}
	if object != "" && !strings.HasSuffix(object, "/") {
		var attrs *gcs.ObjectAttrs
		err := retry(ctx, defaultRetry, func(ctx context.Context) error {
			var err error
			attrs, err = bkt.Object(object).Attrs(ctx)
			return err
		})
		if err == nil {
			return fn(objectFromAttrs(bucket, attrs))
		}
		if !errors.Is(err, gcs.ErrObjectNotExist) {
			return wrapErr("match", pattern, err)
		}
		object += "/"
	}
	return listGCS(ctx, bkt, bucket, pattern, object, nil, fn)
}

// listGCS calls fn for every object of bucket under prefix whose name below prefix
// matches glob (every object if glob is nil), skipping placeholders and
// temporary files. It lists a page of listPageSize objects at a time, each page
// retried as one call.
func listGCS(ctx context.Context, bkt *gcs.BucketHandle, bucket, pattern, prefix string, glob []string, fn func(Object) error) error {
	q := &gcs.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "MD5", "CRC32C"}); err != nil {
		return fmt.Errorf("storage: match %s: %w", pattern, err)
	}
	var page []*gcs.ObjectAttrs
	for token := ""; ; {
		var next string
		err := retry(ctx, defaultRetry, func(ctx context.Context) error {
			var err error
			page = page[:0]
			next, err = iterator.NewPager(bkt.Objects(ctx, q), listPageSize, token).NextPage(&page)
			return err
		})
		if err != nil {
			return wrapErr("match", pattern, err)
		}
		for _, attrs := range page {
			if strings.HasSuffix(attrs.Name, "/") {
				continue
			}
			segs := strings.Split(attrs.Name[len(prefix):], "/")
			if containsTemp(segs) || (glob != nil && !matchSegs(glob, segs)) {
				continue
			}
			if err := fn(objectFromAttrs(bucket, attrs)); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// containsTemp reports whether any of segs is a temporary name.
func containsTemp(segs []string) bool {
	for _, s := range segs {
		if isTemp(s) {
			return true
		}
	}
	return false
}

// objectFromAttrs converts GCS attributes to an Object in bucket.
func objectFromAttrs(bucket string, a *gcs.ObjectAttrs) Object {
	return Object{URI: gsScheme + bucket + "/" + a.Name, Size: a.Size, ModTime: a.Updated, MD5: a.MD5, CRC32C: a.CRC32C}
}
