package oip

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"jpegrestore/inference"
)

// The process-wide remotes, one per model file, worker set and options, shared by every caller
// that asks for the same (Beam runs many DoFn instances per worker process; each must not open
// its own connections and health checks).
var registry = struct {
	sync.Mutex
	remotes map[remoteKey]*sharedRemote
}{remotes: map[remoteKey]*sharedRemote{}}

type remoteKey struct {
	path, addrs string
	opts        ClientOptions
}

type sharedRemote struct {
	remote *Remote
	refs   int
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
		key := remoteKey{path: abs, addrs: strings.Join(addrs, ","), opts: opts}
		registry.Lock()
		defer registry.Unlock()
		s := registry.remotes[key]
		if s == nil {
			man, err := inference.LoadManifest(abs)
			if err != nil {
				return inference.Model{}, nil, err
			}
			r, err := Dial(context.Background(), addrs, man, opts)
			if err != nil {
				return inference.Model{}, nil, fmt.Errorf("--workers: %w", err)
			}
			s = &sharedRemote{remote: r}
			registry.remotes[key] = s
		}
		s.refs++
		var once sync.Once
		release := func() error {
			var err error
			once.Do(func() {
				registry.Lock()
				defer registry.Unlock()
				if s.refs--; s.refs == 0 {
					delete(registry.remotes, key)
					err = s.remote.Close()
				}
			})
			return err
		}
		return inference.Model{Manifest: s.remote.Manifest(), Engine: s.remote, Device: s.remote.Device()}, release, nil
	}
}

// Workers returns what every open Remote of the process did with each of its workers, by
// model: the figures a job's summary keeps.
func Workers() map[string][]WorkerStats {
	registry.Lock()
	defer registry.Unlock()
	out := map[string][]WorkerStats{}
	keys := make([]remoteKey, 0, len(registry.remotes))
	for k := range registry.remotes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b remoteKey) int { return strings.Compare(a.path+a.addrs, b.path+b.addrs) })
	for _, k := range keys {
		r := registry.remotes[k].remote
		out[r.Manifest().Name] = append(out[r.Manifest().Name], r.Stats()...)
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
