// Package storage reads, lists and writes objects addressed by URI, for
// jpegrestore's inputs and outputs.
//
// A URI is either a local path (absolute or relative, in the host's filepath
// syntax) or a Google Cloud Storage object "gs://bucket/path/to/object". Both
// backends share one API: Match lists what a user-given input URI means
// (a file, a folder or bucket prefix, or a glob with *, ? and **), ReadFile
// and ReadHead read, Stat describes, and WriteFile writes atomically. Root, Rel
// and Join mirror input paths into an output folder or bucket without ever
// running a gs:// URI through path/filepath (filepath.Clean("gs://b/x") is
// "gs:/b/x").
//
// GCS calls share one process-wide client made by storage.NewClient on first
// use. It honours STORAGE_EMULATOR_HOST (host:port or a URL), in which case it
// talks to that emulator without credentials. Tests of other packages get an
// in-process emulator from package storage/gcstest, with a fault-injecting
// proxy in front of it if they ask (StartFaulty).
//
// Every call, local or GCS (list page, read, stat, write, delete), retries the
// faults Transient names (429, 5xx, reset or refused connections, timeouts) with
// exponential backoff and full jitter, a deadline per try and a bound on all
// tries (retry.go: MaxTries tries within 5 minutes). Uploads are retried too: a
// write puts the same bytes under the same name, so a try made twice does no
// harm. What was retried is counted by kind, for the process (Retries) and per
// context (CountRetries). ctx bounds every call.
//
// Every error names the operation and the URI ("storage: read gs://b/x: ...").
// A missing object or file satisfies errors.Is(err, fs.ErrNotExist) for both
// backends, and Transient says whether a retry may fix an error.
package storage
