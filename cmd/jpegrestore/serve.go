package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"

	"jpegrestore/enhance"
	"jpegrestore/gpuworker"
	"jpegrestore/inference"
	"jpegrestore/oip"
)

// serve runs models behind the Open Inference Protocol (gRPC) for the --workers of restore,
// watch and eval, or any other client of the protocol, until SIGINT or SIGTERM; then it drains:
// it refuses new work, finishes what is running (at most --drain-timeout) and exits 0.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	var pool poolFlags
	listen := fs.String("listen", "localhost:8001", "HOST:PORT to serve the Open Inference Protocol (gRPC) on; :8001 for every interface, port 0 for a free one")
	httpAddr := fs.String("http-listen", "", "HOST:PORT to serve over HTTP: Prometheus metrics at /metrics, and the protocol's health checks at /v2/health/live and /v2/health/ready (200, or 503 while draining) for load balancers (default: none)")
	presets := fs.String("preset", "fast", "shipped models to serve, comma-separated: "+enhance.ShippedHelp())
	models := fs.String("model", "", "model manifests (.json) or .onnx files to serve, comma-separated; overrides --preset")
	modelsDir := fs.String("models", "", "folder of the shipped models (default: models/ of the checkout or beside the binary, or $"+enhance.ModelsDirEnv+")")
	queue := fs.Int("queue", 64, "most tiles waiting or running at once; more are refused with RESOURCE_EXHAUSTED, and callers retry")
	drain := fs.Duration("drain-timeout", 2*time.Minute, "longest the running requests may take to finish after SIGTERM")
	pool.register(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "jpegrestore: serve: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments %q", fs.Args())
	}
	names := strings.Split(*presets, ",")
	if *models != "" {
		names = strings.Split(*models, ",")
	} else {
		for _, p := range names {
			if !enhance.Shipped(p) {
				return usageErr("--preset %s: the shipped models are %s (or give --model PATH)", p, enhance.ShippedHelp())
			}
		}
	}
	if *queue < 1 {
		return usageErr("--queue %d: want at least 1 tile", *queue)
	}

	lib, err := gpuworker.LibraryPath(pool.ortLib)
	if err == nil {
		err = gpuworker.Init(lib)
	}
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore: serve:", err)
		return exitJobFailed
	}
	load := gpuworker.Loader(lib, pool.options())
	var served []inference.Model
	var releases []func() error
	defer func() { // after the drain: the pools close
		for _, r := range releases {
			r()
		}
	}()
	for _, name := range names {
		path, err := enhance.ResolveModel(strings.TrimSpace(name), *modelsDir)
		if err != nil {
			return usageErr("%v", err)
		}
		m, release, err := load(path)
		if err != nil {
			fmt.Fprintf(stderr, "jpegrestore: serve: %s: %v\n", name, err)
			return exitJobFailed
		}
		releases = append(releases, release)
		served = append(served, m)
	}
	srv, err := oip.NewServer(oip.ServerConfig{Queue: *queue, Version: version()}, served...)
	if err != nil {
		return usageErr("%v", err)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "jpegrestore: serve: --listen %s: %v\n", *listen, err)
		return exitUsage
	}
	g := grpc.NewServer(oip.ServerOptions()...)
	srv.Register(g)
	failed := make(chan error, 2)
	go func() { failed <- g.Serve(lis) }()
	var hs *http.Server
	if *httpAddr != "" {
		mlis, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			g.Stop()
			fmt.Fprintf(stderr, "jpegrestore: serve: --http-listen %s: %v\n", *httpAddr, err)
			return exitUsage
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			srv.WriteMetrics(w)
			gpuworker.WritePrometheus(w, gpuworker.Pools())
		})
		mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "live") })
		mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, _ *http.Request) {
			if !srv.Ready() {
				http.Error(w, "draining", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ready")
		})
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(mlis); !errors.Is(err, http.ErrServerClosed) {
				failed <- err
			}
		}()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics, health checks at /v2/health/live and /v2/health/ready\n", mlis.Addr())
	}
	for _, m := range srv.Served() {
		fmt.Fprintf(stdout, "serving %s version %s (sha256 %s…) on %s\n", m.Manifest.Name, m.Manifest.Version, m.Manifest.SHA256[:12], m.Device)
	}
	fmt.Fprintf(stdout, "listening on %s (Open Inference Protocol, gRPC)\n", lis.Addr())

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-failed:
		fmt.Fprintln(stderr, "jpegrestore: serve:", err)
		code = exitJobFailed
	}
	srv.Drain()
	fmt.Fprintf(stdout, "draining: %d tiles running; new requests are refused\n", srv.Queued())
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(*drain):
		fmt.Fprintf(stderr, "jpegrestore: serve: requests still running after --drain-timeout %v; stopping them\n", *drain)
		g.Stop()
		code = exitJobFailed
	}
	if hs != nil {
		hs.Close()
	}
	fmt.Fprintln(stdout, "stopped")
	return code
}

// version is the build's module version and VCS revision, for ServerMetadata.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
