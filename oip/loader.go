package oip

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"jpegrestore/inference"
	"jpegrestore/refcount"
)

// The process-wide remotes, one per model file, worker set and options, shared by every caller
// that asks for the same (Beam runs many DoFn instances per worker process; each must not open
// its own connections and health checks).
var registry = refcount.Map[remoteKey, *Remote]{Close: (*Remote).Close}

type remoteKey struct {
	path, addrs string
	opts        ClientOptions
}

// Loader returns an inference.Loader that runs models on the workers at addrs: it reads the
// model's manifest here (checking the model file's sha256, as every loader does, since the
// caller's output tags name it) and connects to the workers (Dial), sharing one Remote per model
// and worker set in the process.
func Loader(addrs []string, opts ClientOptions) inference.Loader {
	return func(path string) (inference.Model, func() error, error) {
		abs, err := filepath.Abs(inference.ManifestPath(path))
		if err != nil {
			return inference.Model{}, nil, err
		}
		r, release, err := registry.Acquire(remoteKey{path: abs, addrs: strings.Join(addrs, ","), opts: opts}, func() (*Remote, error) {
			man, err := inference.LoadManifest(abs)
			if err != nil {
				return nil, err
			}
			r, err := Dial(context.Background(), addrs, man, opts)
			if err != nil {
				return nil, fmt.Errorf("--workers: %w", err)
			}
			return r, nil
		})
		if err != nil {
			return inference.Model{}, nil, err
		}
		return inference.Model{Manifest: r.Manifest(), Engine: r, Device: r.Device()}, release, nil
	}
}

// Workers returns what every open Remote of the process did with each of its workers, by
// model: the figures a job's summary keeps.
func Workers() map[string][]WorkerStats {
	type remote struct {
		key remoteKey
		r   *Remote
	}
	var rs []remote
	registry.Each(func(k remoteKey, r *Remote) { rs = append(rs, remote{k, r}) })
	slices.SortFunc(rs, func(a, b remote) int { return strings.Compare(a.key.path+a.key.addrs, b.key.path+b.key.addrs) })
	out := map[string][]WorkerStats{}
	for _, x := range rs {
		name := x.r.Manifest().Name
		out[name] = append(out[name], x.r.Stats()...)
	}
	return out
}

// Since returns the figures of after (Workers) less those of before: what the Remotes did in
// between. Remotes outlive a job in a process that runs several (Prism never tears a DoFn down,
// and a watch runs a job per cycle), so a job's figures are the difference.
func Since(before, after map[string][]WorkerStats) map[string][]WorkerStats {
	out := map[string][]WorkerStats{}
	for model, ws := range after {
		for _, w := range ws {
			for _, b := range before[model] {
				if b.Addr == w.Addr {
					w.Tiles -= b.Tiles
					w.Failed -= b.Failed
					w.Busy -= b.Busy
					w.Downs -= b.Downs
					w.BytesSent -= b.BytesSent
					w.BytesReceived -= b.BytesReceived
					break
				}
			}
			out[model] = append(out[model], w)
		}
	}
	return out
}
