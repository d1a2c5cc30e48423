package gpuworker

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"jpegrestore/inference"
)

// Device names where a pool runs: "cpu", "cuda:N", or "auto" (CUDA device 0 when the library has
// the CUDA execution provider and a GPU answers, else CPU).
type Device string

// DeviceCPU is the default device.
const DeviceCPU Device = "cpu"

// parseDevice returns the CUDA device id, or -1 for CPU; auto reports whether to fall back.
func parseDevice(d Device) (id int, auto bool, err error) {
	switch s := string(d); {
	case s == "" || s == "cpu":
		return -1, false, nil
	case s == "auto":
		return 0, true, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "cuda:"))
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("device %q: want cuda:N with N ≥ 0", s)
		}
		return n, false, nil
	case s == "cuda":
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("device %q: want cpu, cuda:N or auto", d)
}

// errNoCUDA explains a failed CUDA start-up.
var errNoCUDA = errors.New("the CUDA execution provider is unavailable: the loaded ONNX Runtime " +
	"library is CPU-only or no GPU/driver answered. Use the GPU build of ONNX Runtime " +
	"(onnxruntime-linux-x64-gpu-*.tgz with CUDA 12 and cuDNN 9) via --ort-lib, or run with --device cpu " +
	"(--device auto falls back to CPU by itself)")

// newSessionOptions builds options for one session: threads intra-op threads that spin when idle
// or sleep, and the CUDA provider on device cudaID when cudaID ≥ 0.
func newSessionOptions(threads, cudaID int, spin bool) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		return nil, errors.Join(err, opts.Destroy())
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
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
			return fail(fmt.Errorf("%w (%v)", errNoCUDA, err))
		}
		err = cuda.Update(map[string]string{"device_id": strconv.Itoa(cudaID)})
		if err == nil {
			err = opts.AppendExecutionProviderCUDA(cuda)
		}
		if derr := cuda.Destroy(); err == nil {
			err = derr
		}
		if err != nil {
			return fail(fmt.Errorf("%w (%v)", errNoCUDA, err))
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

func defaultThreads(sessions int) int { return max(1, runtime.NumCPU()/max(1, sessions)) }
