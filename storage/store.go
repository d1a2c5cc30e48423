package storage

import "context"

// Store is this package's object functions as a value, for code that takes its storage as a
// parameter (enhance's journey) so that a test can hand it a wrapper that fails on purpose. The
// zero value is ready to use.
type Store struct{}

// ReadFile calls the package's ReadFile.
func (Store) ReadFile(ctx context.Context, uri string) ([]byte, error) { return ReadFile(ctx, uri) }

// ReadHead calls the package's ReadHead.
func (Store) ReadHead(ctx context.Context, uri string, n int64) ([]byte, error) {
	return ReadHead(ctx, uri, n)
}

// WriteFile calls the package's WriteFile.
func (Store) WriteFile(ctx context.Context, uri string, data []byte) error {
	return WriteFile(ctx, uri, data)
}
