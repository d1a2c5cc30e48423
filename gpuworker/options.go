package gpuworker

import (
	"fmt"
	"runtime"
	"time"
)

// Options configures a Pool. Zero fields take defaults for the device the pool ends up on (see
// withDefaults): on the CPU, single-threaded sessions side by side plus a solo session with every
// core; on CUDA, one session that batches.
type Options struct {
	// Device is "cpu" (default), "cuda:N" or "auto".
	Device Device
	// Sessions is the number of ORT sessions, each run by its own goroutine. 0 means 1 on CUDA
	// and, on the CPU, cores / Threads, or min(cores, 4) when Threads is 0 too: on 2 cores two
	// single-threaded sessions side by side run the fast model on 512×384 tiles at 4.4 MP/s,
	// one session with both cores at 3.4 (jobs' BenchmarkPipelineEfficiency, model-MP/s, with
	// and without JPEGRESTORE_BENCH_SESSIONS=1 JPEGRESTORE_BENCH_THREADS=2): its small operators
	// parallelise poorly.
	Sessions int
	// Threads is the intra-op thread count of each CPU session; 0 means cores / Sessions.
	Threads int
	// SoloThreads is the thread count of one more CPU session, which takes a batch only when
	// the pool is otherwise idle, so that a lone caller gets every core rather than one
	// session's share. 0 means every core when the sessions have fewer; negative means none.
	SoloThreads int
	// SoloPixels: on the CPU, tiles of at least this many pixels run only on the solo session,
	// which runs without ORT's memory pattern. 0 means DefaultSoloPixels, 1.25 MP: best's tiles
	// of photo-size images (up to 1376 px) go to it, fast's (up to 1024 px) do not. On big tiles
	// one session with every core runs about as fast as single-threaded sessions side by side,
	// each of which keeps a working set of its own, and the memory pattern (a preplanned block
	// per tile shape) adds to the peak without adding speed. Restoring two 8 MP photos with best
	// (int8) took 1.45–1.54 GB instead of 3.43–3.47, in 27–32 s instead of 27–29 s; one with
	// best-float 1.2 GB instead of 2.75, in 21 s instead of 24–25. On bigger images it costs some
	// speed: 7% at 12 MP, 23% at 50 MP (one run; peak 1.39 GB instead of 2.96). models/best.md,
	// Memory, has the runs. Negative means no tile is kept for the solo session (--solo-pixels -1).
	SoloPixels int
	// MaxBatch is the most tiles one model run takes. 0 means the device's default: 1 on the CPU,
	// where a batch of four 512² tiles runs about 8% slower per pixel than one at a time
	// (BenchmarkRawSession), and 4 on CUDA.
	MaxBatch int
	// MaxWait is how long a partial batch waits for more tiles of its size before a free session
	// may take it. 0 means the device's default: none on the CPU, where batching gains nothing
	// and a free session should take whatever is queued, and 2ms on CUDA. Negative means none.
	// Batches still form without waiting: tiles that queue while every session is busy are
	// grouped.
	MaxWait time.Duration
	// Spin lets ORT's intra-op threads spin between operators and runs (its default). Off (the
	// default here), idle threads sleep and leave the cores to decoding and encoding.
	Spin bool
	// QueueSize bounds the tiles waiting to be batched (twice over: in the queue and in the
	// groups being formed); further callers block in Infer (backpressure). 0 means
	// 4 × max(MaxBatch, 2) × Sessions.
	QueueSize int
}

// withDefaults fills every zero field for the device the pool runs on: cudaID ≥ 0 for a CUDA
// device, -1 for the CPU. It is the one place defaults are decided, and it is called with the
// device actually used, so "--device auto" that falls back to the CPU runs the CPU's defaults.
func (o Options) withDefaults(cudaID int) Options {
	cpu := cudaID < 0
	cores := runtime.NumCPU()
	if o.Sessions == 0 {
		switch {
		case !cpu:
			o.Sessions = 1
		case o.Threads > 0:
			o.Sessions = max(1, cores/o.Threads)
		default:
			o.Sessions = min(cores, 4)
		}
	}
	if o.Threads == 0 {
		o.Threads = defaultThreads(o.Sessions)
	}
	if o.SoloThreads == 0 {
		o.SoloThreads = -1
		if cpu && o.Threads < cores {
			o.SoloThreads = cores
		}
	}
	if o.SoloPixels == 0 {
		o.SoloPixels = DefaultSoloPixels
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 4
		if cpu {
			o.MaxBatch = 1
		}
	}
	if o.MaxWait == 0 && !cpu {
		o.MaxWait = 2 * time.Millisecond
	}
	if o.QueueSize == 0 {
		o.QueueSize = 4 * max(o.MaxBatch, 2) * o.Sessions
	}
	return o
}

func (o Options) validate() error {
	if o.Sessions < 1 || o.Threads < 1 || o.MaxBatch < 1 || o.QueueSize < 1 {
		return fmt.Errorf("gpuworker: bad options %+v", o)
	}
	return nil
}

// DefaultSoloPixels is the default of Options.SoloPixels.
const DefaultSoloPixels = 1_250_000

func defaultThreads(sessions int) int { return max(1, runtime.NumCPU()/max(1, sessions)) }
