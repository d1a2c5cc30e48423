package gpuworker

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"jpegrestore/inference"
	"jpegrestore/pix"
)

// session is one ORT session of a pool's model: a runner of the pool's batcher.
type session struct {
	s      *ort.DynamicAdvancedSession
	man    *inference.Manifest
	device string
	outs   *pix.Buffers[float32] // the pool's output buffers, handed back by Pool.Release
}

// sessionConf is what differs between the sessions of a pool.
type sessionConf struct {
	threads    int  // intra-op threads
	memPattern bool // ORT's memory pattern: one preplanned block per input shape
}

// openSessions creates one session per conf, side by side: each one optimises the graph on its
// own. On failure it destroys the ones it made.
func openSessions(man *inference.Manifest, confs []sessionConf, cudaID int, spin bool, outs *pix.Buffers[float32]) ([]*session, error) {
	inputs := modelInputs(man)
	sessions := make([]*session, len(confs))
	errs := make([]error, len(confs))
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts, err := newSessionOptions(confs[i], cudaID, spin)
			if err != nil {
				errs[i] = err
				return
			}
			s, err := ort.NewDynamicAdvancedSession(man.Path(), inputs, []string{man.Output}, opts)
			errs[i] = errors.Join(err, opts.Destroy())
			if s != nil {
				sessions[i] = &session{s: s, man: man, device: deviceName(cudaID), outs: outs}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if cudaID >= 0 {
			err = &cudaError{err}
		}
		return nil, errors.Join(fmt.Errorf("model %s: creating session on %s: %w", man.Name, deviceName(cudaID), err), destroySessions(sessions))
	}
	return sessions, nil
}

// destroySessions destroys every session of the list that was made.
func destroySessions(sessions []*session) error {
	var errs []error
	for _, s := range sessions {
		if s != nil {
			errs = append(errs, s.s.Destroy())
		}
	}
	return errors.Join(errs...)
}

// run executes one batch of same-size tiles and returns each tile's output.
func (s *session) run(batch []*request) ([][]float32, error) {
	n, h, w := len(batch), batch[0].h, batch[0].w
	plane := 3 * h * w
	x := batch[0].x // a lone tile runs from the caller's buffer
	if n > 1 {
		x = make([]float32, n*plane)
		for i, r := range batch {
			copy(x[i*plane:], r.x)
		}
	}
	shape := ort.NewShape(int64(n), 3, int64(h), int64(w))
	xt, err := ort.NewTensor(shape, x)
	if err != nil {
		return nil, fmt.Errorf("gpuworker: input tensor: %w", err)
	}
	defer xt.Destroy()
	inputs := []ort.Value{xt}
	if s.man.Conditioned() {
		q := make([]float32, n*inference.QTableLen)
		for i, r := range batch {
			copy(q[i*inference.QTableLen:], r.q)
		}
		qt, err := ort.NewTensor(ort.NewShape(int64(n), inference.QTableLen), q)
		if err != nil {
			return nil, fmt.Errorf("gpuworker: qtable tensor: %w", err)
		}
		defer qt.Destroy()
		inputs = append(inputs, qt)
	}
	var y []float32
	if n == 1 {
		y = s.outs.Get(plane)
	} else {
		y = make([]float32, n*plane)
	}
	yt, err := ort.NewTensor(shape, y)
	if err != nil {
		return nil, fmt.Errorf("gpuworker: output tensor: %w", err)
	}
	defer yt.Destroy()
	if err := s.s.Run(inputs, []ort.Value{yt}); err != nil {
		return nil, fmt.Errorf("gpuworker: model %s on %s, batch %dx3x%dx%d: %w", s.man.Name, s.device, n, h, w, err)
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = y[i*plane : (i+1)*plane : (i+1)*plane]
	}
	return out, nil
}

// newSessionOptions builds options for one session: its threads, which spin when idle or sleep,
// its memory pattern, and the CUDA provider on device cudaID when cudaID ≥ 0.
func newSessionOptions(conf sessionConf, cudaID int, spin bool) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		return nil, errors.Join(err, opts.Destroy())
	}
	if err := opts.SetIntraOpNumThreads(conf.threads); err != nil {
		return fail(err)
	}
	if err := opts.SetMemPattern(conf.memPattern); err != nil {
		return fail(err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return fail(err)
	}
	allow := "0"
	if spin {
		allow = "1"
	}
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", allow); err != nil {
		return fail(err)
	}
	if cudaID >= 0 {
		cuda, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fail(err)
		}
		err = cuda.Update(map[string]string{"device_id": strconv.Itoa(cudaID)})
		if err == nil {
			err = opts.AppendExecutionProviderCUDA(cuda)
		}
		if derr := cuda.Destroy(); err == nil {
			err = derr
		}
		if err != nil {
			return fail(err)
		}
	}
	return opts, nil
}

// modelInputs names the model's inputs in the order a run passes them: image, then qtable.
func modelInputs(m *inference.Manifest) []string {
	if m.Conditioned() {
		return []string{m.Inputs.Image, m.Inputs.QTable}
	}
	return []string{m.Inputs.Image}
}

// checkModelIO compares the ONNX file's inputs and outputs with the manifest: names, float32,
// rank 4 image with 3 channels, [N,128] qtable.
func checkModelIO(m *inference.Manifest) error {
	ins, outs, err := ort.GetInputOutputInfo(m.Path())
	if err != nil {
		return fmt.Errorf("model %s: reading %s: %w", m.Name, m.Path(), err)
	}
	find := func(list []ort.InputOutputInfo, name string) *ort.InputOutputInfo {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		return nil
	}
	names := func(list []ort.InputOutputInfo) []string {
		var s []string
		for _, x := range list {
			s = append(s, x.Name)
		}
		return s
	}
	var errs []error
	checkImage := func(what string, io *ort.InputOutputInfo, list []ort.InputOutputInfo, name string) {
		switch {
		case io == nil:
			errs = append(errs, fmt.Errorf("%s %q missing (the model has %q)", what, name, names(list)))
		case io.DataType != ort.TensorElementDataTypeFloat:
			errs = append(errs, fmt.Errorf("%s %q is %v, want float32", what, name, io.DataType))
		case len(io.Dimensions) != 4 || io.Dimensions[1] != 3:
			errs = append(errs, fmt.Errorf("%s %q has shape %v, want [N,3,H,W]", what, name, io.Dimensions))
		}
	}
	checkImage("input", find(ins, m.Inputs.Image), ins, m.Inputs.Image)
	checkImage("output", find(outs, m.Output), outs, m.Output)
	wantInputs := 1
	if m.Conditioned() {
		wantInputs = 2
		q := find(ins, m.Inputs.QTable)
		switch {
		case q == nil:
			errs = append(errs, fmt.Errorf("input %q missing (the model has %q)", m.Inputs.QTable, names(ins)))
		case q.DataType != ort.TensorElementDataTypeFloat || len(q.Dimensions) != 2 || q.Dimensions[1] != inference.QTableLen:
			errs = append(errs, fmt.Errorf("input %q is %v %v, want float32 [N,%d]", m.Inputs.QTable, q.DataType, q.Dimensions, inference.QTableLen))
		}
	}
	if len(ins) != wantInputs {
		errs = append(errs, fmt.Errorf("model has inputs %q, the manifest names %d", names(ins), wantInputs))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model %s does not match its manifest: %w", m.Name, err)
	}
	return nil
}
