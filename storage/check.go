package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// CheckReadable tells, before a job starts, whether the input pattern can be listed: its local
// root exists, or its bucket exists and lists (one object at most is asked for). A pattern that
// matches nothing yet is fine.
func CheckReadable(ctx context.Context, pattern string) error {
	root := Root(pattern)
	if !IsGCS(root) {
		if _, err := os.Stat(root); err != nil {
			return wrapErr("list", root, err)
		}
		return nil
	}
	bucket, object, err := splitGCS(root)
	if err != nil {
		return err
	}
	err = retry(ctx, defaultRetry, func(ctx context.Context) error {
		c, err := client(ctx)
		if err != nil {
			return err
		}
		var page []*gcs.ObjectAttrs
		_, err = iterator.NewPager(c.Bucket(bucket).Objects(ctx, &gcs.Query{Prefix: object}), 1, "").NextPage(&page)
		return err
	})
	if err != nil {
		return wrapErr("list", root, err)
	}
	return nil
}

// CheckWritable tells, before a job starts, whether objects can be written under root: it writes
// a small object there (named "_tmp-write-check-*", which Match skips) and deletes it.
func CheckWritable(ctx context.Context, root string) error {
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	probe := Join(root, "_tmp-write-check-"+hex.EncodeToString(id[:]))
	if err := WriteFile(ctx, probe, []byte("jpegrestore checks that it can write here\n")); err != nil {
		return err
	}
	if err := Delete(ctx, probe); err != nil {
		return fmt.Errorf("storage: %s can be written but not deleted from: %w", root, errors.Unwrap(err))
	}
	return nil
}
