package oip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"jpegrestore/inference"
	"jpegrestore/oip/oippb"
)

// MaxMessage bounds one gRPC message either way: a batch of tiles and its answer (a 1024×1024
// tile is 12 MiB of FP32 each way).
const MaxMessage = 256 << 20

// Flow-control windows of a stream and of a connection: a tile (megabytes) flows without waiting
// for window updates, where gRPC's default (64 KiB, grown by its estimate of the bandwidth-delay
// product) makes a large message wait for round trips.
// A tile is written and read through buffers of ioBuffer bytes, not gRPC's 32 KiB: fewer
// system calls per megabyte.
const streamWindow, connWindow, ioBuffer = 16 << 20, 64 << 20, 1 << 20

// ServerOptions are the gRPC options of a server: messages up to MaxMessage and the keepalive
// pings Remote sends allowed.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessage), grpc.MaxSendMsgSize(MaxMessage),
		grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(connWindow),
		grpc.WriteBufferSize(ioBuffer), grpc.ReadBufferSize(ioBuffer),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// Queue bounds the tiles waiting or running at once over every model; a request that would
	// go over it is refused with RESOURCE_EXHAUSTED, so a caller backs off or goes elsewhere
	// rather than piling up memory here. 0 means 64.
	Queue int
	// Version is the server's version in ServerMetadata.
	Version string
}

// Server serves loaded models over the Open Inference Protocol: each under its manifest's name
// and version, with the manifest's inputs and output as FP32 tensors. A request of N tiles runs
// as N concurrent calls of the model's engine, which batches them with the tiles of every other
// request (gpuworker's pool does). It is safe for concurrent use.
type Server struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	cfg      ServerConfig
	models   []inference.Model
	draining atomic.Bool
	queued   atomic.Int64 // tiles waiting or running
	metrics  *serverMetrics
}

// NewServer returns a server for the models, whose names must differ.
func NewServer(cfg ServerConfig, models ...inference.Model) (*Server, error) {
	if cfg.Queue == 0 {
		cfg.Queue = 64
	}
	if cfg.Queue < 0 {
		return nil, fmt.Errorf("oip: queue %d < 0", cfg.Queue)
	}
	if len(models) == 0 {
		return nil, errors.New("oip: no model to serve")
	}
	seen := map[string]bool{}
	var names []string
	for _, m := range models {
		if seen[m.Manifest.Name] {
			return nil, fmt.Errorf("oip: two models named %s", m.Manifest.Name)
		}
		seen[m.Manifest.Name] = true
		names = append(names, m.Manifest.Name)
	}
	return &Server{cfg: cfg, models: models, metrics: newServerMetrics(names)}, nil
}

// Register adds the protocol's service to g.
func (s *Server) Register(g *grpc.Server) { oippb.RegisterGRPCInferenceServiceServer(g, s) }

// Drain makes the server not ready and refuses new inference with UNAVAILABLE, so callers send
// their work elsewhere; requests already running finish. grpc.Server.GracefulStop then waits for
// them.
func (s *Server) Drain() { s.draining.Store(true) }

// Ready reports whether the server takes new work (it does until Drain).
func (s *Server) Ready() bool { return !s.draining.Load() }

// Queued returns the tiles waiting or running now.
func (s *Server) Queued() int64 { return s.queued.Load() }

// Served returns the models served, in the order given.
func (s *Server) Served() []inference.Model { return slices.Clone(s.models) }

func (s *Server) ServerLive(context.Context, *oippb.ServerLiveRequest) (*oippb.ServerLiveResponse, error) {
	return &oippb.ServerLiveResponse{Live: true}, nil
}

func (s *Server) ServerReady(context.Context, *oippb.ServerReadyRequest) (*oippb.ServerReadyResponse, error) {
	return &oippb.ServerReadyResponse{Ready: s.Ready()}, nil
}

func (s *Server) ModelReady(_ context.Context, r *oippb.ModelReadyRequest) (*oippb.ModelReadyResponse, error) {
	_, err := s.model(r.GetName(), r.GetVersion())
	return &oippb.ModelReadyResponse{Ready: err == nil && s.Ready()}, nil
}

func (s *Server) ServerMetadata(context.Context, *oippb.ServerMetadataRequest) (*oippb.ServerMetadataResponse, error) {
	return &oippb.ServerMetadataResponse{Name: "jpegrestore", Version: s.cfg.Version}, nil
}

func (s *Server) ModelMetadata(_ context.Context, r *oippb.ModelMetadataRequest) (*oippb.ModelMetadataResponse, error) {
	m, err := s.model(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return Metadata(m.Manifest, m.Device), nil
}

// model finds the served model of a name and version ("" for any).
func (s *Server) model(name, version string) (inference.Model, error) {
	for _, m := range s.models {
		if m.Manifest.Name == name && (version == "" || version == m.Manifest.Version) {
			return m, nil
		}
	}
	var served []string
	for _, m := range s.models {
		served = append(served, m.Manifest.Name+" version "+m.Manifest.Version)
	}
	return inference.Model{}, status.Errorf(codes.NotFound, "model %q version %q is not served here; this server serves %s", name, version, strings.Join(served, ", "))
}

// ModelInfer runs a model on a batch of tiles: the input named by the manifest's inputs.image,
// FP32 [N,3,H,W] with H and W multiples of its pad_multiple, and for a conditioned model its
// inputs.qtable, FP32 [N,128], as raw_input_contents or as fp32_contents. The answer is the
// manifest's output, FP32 [N,3,H,W], laid out as the request's inputs were, with the model's
// sha256 in its parameters.
func (s *Server) ModelInfer(ctx context.Context, r *oippb.ModelInferRequest) (resp *oippb.ModelInferResponse, err error) {
	start := time.Now()
	tiles := 0
	defer func() { s.metrics.observe(r.GetModelName(), status.Code(err), tiles, time.Since(start)) }()
	if !s.Ready() {
		return nil, status.Error(codes.Unavailable, "draining: this server is shutting down and takes no new work")
	}
	m, err := s.model(r.GetModelName(), r.GetModelVersion())
	if err != nil {
		return nil, err
	}
	in, err := parseInputs(r, m.Manifest)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	tiles = in.n
	if q := s.queued.Add(int64(in.n)); q > int64(s.cfg.Queue) {
		s.queued.Add(-int64(in.n))
		return nil, status.Errorf(codes.ResourceExhausted, "queue full: %d tiles waiting or running here, at most %d (serve --queue)", q-int64(in.n), s.cfg.Queue)
	}
	defer s.queued.Add(-int64(in.n))
	out, err := run(ctx, m.Engine, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(codes.Internal, "model %s: %v", m.Manifest.Name, err)
	}
	resp = &oippb.ModelInferResponse{ModelName: m.Manifest.Name, ModelVersion: m.Manifest.Version, Id: r.GetId(),
		Parameters: map[string]*oippb.InferParameter{ParamSHA256: stringParam(m.Manifest.SHA256)}}
	tensor := &oippb.ModelInferResponse_InferOutputTensor{Name: m.Manifest.Output, Datatype: DataType, Shape: []int64{int64(in.n), 3, int64(in.h), int64(in.w)}}
	if in.raw {
		resp.RawOutputContents = [][]byte{asBytes(out)}
	} else {
		tensor.Contents = &oippb.InferTensorContents{Fp32Contents: out}
	}
	resp.Outputs = []*oippb.ModelInferResponse_InferOutputTensor{tensor}
	return resp, nil
}

// batch is a request's tiles, checked against the model.
type batch struct {
	n, h, w int
	x, q    []float32 // n×3×h×w and n×128 (nil for a model without conditioning)
	raw     bool      // the request used raw_input_contents
}

func parseInputs(r *oippb.ModelInferRequest, man *inference.Manifest) (batch, error) {
	var b batch
	for _, o := range r.GetOutputs() {
		if o.GetName() != man.Output {
			return b, fmt.Errorf("output %q: model %s has one output, %q", o.GetName(), man.Name, man.Output)
		}
	}
	want := []string{man.Inputs.Image}
	if man.Conditioned() {
		want = append(want, man.Inputs.QTable)
	}
	if len(r.GetInputs()) != len(want) {
		return b, fmt.Errorf("model %s takes the inputs %q, got %d inputs", man.Name, want, len(r.GetInputs()))
	}
	raw := r.GetRawInputContents()
	b.raw = len(raw) > 0
	if b.raw && len(raw) != len(r.GetInputs()) {
		return b, fmt.Errorf("%d raw_input_contents for %d inputs", len(raw), len(r.GetInputs()))
	}
	byName := map[string]int{}
	for i, t := range r.GetInputs() {
		byName[t.GetName()] = i
	}
	input := func(name string) (int, *oippb.ModelInferRequest_InferInputTensor, error) {
		i, ok := byName[name]
		if !ok {
			return 0, nil, fmt.Errorf("model %s takes the inputs %q, input %q is missing", man.Name, want, name)
		}
		return i, r.GetInputs()[i], nil
	}
	values := func(name string, shape ...int64) ([]float32, error) {
		i, t, err := input(name)
		if err != nil {
			return nil, err
		}
		if t.GetDatatype() != DataType {
			return nil, fmt.Errorf("input %s: datatype %s, the model takes %s", name, t.GetDatatype(), DataType)
		}
		if !slices.Equal(t.GetShape(), shape) {
			return nil, fmt.Errorf("input %s: shape %v, want %v", name, t.GetShape(), shape)
		}
		n := 1
		for _, d := range shape {
			n *= int(d)
		}
		if !b.raw {
			if t.GetContents() == nil || len(t.GetContents().GetFp32Contents()) != n {
				return nil, fmt.Errorf("input %s: %d fp32_contents for shape %v", name, len(t.GetContents().GetFp32Contents()), shape)
			}
			return t.GetContents().GetFp32Contents(), nil
		}
		if t.GetContents() != nil {
			return nil, fmt.Errorf("input %s: contents given with raw_input_contents", name)
		}
		if len(raw[i]) != 4*n {
			return nil, fmt.Errorf("input %s: %d raw bytes for FP32 shape %v (%d bytes)", name, len(raw[i]), shape, 4*n)
		}
		return asFloats(raw[i]), nil // the request's memory: the engine reads it before the answer
	}
	_, image, err := input(man.Inputs.Image)
	if err != nil {
		return b, err
	}
	shape := image.GetShape()
	if len(shape) != 4 || shape[0] < 1 || shape[1] != 3 || shape[2] < 1 || shape[3] < 1 ||
		shape[2]%int64(man.PadMultiple) != 0 || shape[3]%int64(man.PadMultiple) != 0 {
		return b, fmt.Errorf("input %s: shape %v, want [N,3,H,W] with N ≥ 1 and H, W positive multiples of %d", man.Inputs.Image, shape, man.PadMultiple)
	}
	if shape[0] > 1<<16 || shape[2] > 1<<16 || shape[3] > 1<<16 || shape[0]*3*shape[2]*shape[3] > MaxMessage/4 { // no overflow below
		return b, fmt.Errorf("input %s: shape %v is larger than a message may be", man.Inputs.Image, shape)
	}
	b.n, b.h, b.w = int(shape[0]), int(shape[2]), int(shape[3])
	if b.x, err = values(man.Inputs.Image, shape...); err != nil {
		return b, err
	}
	if man.Conditioned() {
		if b.q, err = values(man.Inputs.QTable, int64(b.n), inference.QTableLen); err != nil {
			return b, err
		}
	}
	return b, nil
}

// run runs the batch's tiles concurrently on eng and returns their outputs, in order, in one
// slice.
func run(ctx context.Context, eng inference.Engine, b batch) ([]float32, error) {
	size := 3 * b.h * b.w
	out := make([]float32, b.n*size)
	errs := make([]error, b.n)
	var wg sync.WaitGroup
	for i := range b.n {
		wg.Go(func() {
			var q []float32
			if b.q != nil {
				q = b.q[i*inference.QTableLen : (i+1)*inference.QTableLen]
			}
			y, err := eng.Infer(ctx, b.x[i*size:(i+1)*size], b.h, b.w, q)
			if err == nil && len(y) != size {
				err = fmt.Errorf("the model gave %d values for a tile of %d", len(y), size)
			}
			if err == nil {
				copy(out[i*size:], y)
				if rel, ok := eng.(inference.Releaser); ok {
					rel.Release(y)
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
