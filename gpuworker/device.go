package gpuworker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// deviceName is the name of the device with CUDA id cudaID (-1: the CPU).
func deviceName(cudaID int) string {
	if cudaID < 0 {
		return string(DeviceCPU)
	}
	return fmt.Sprintf("cuda:%d", cudaID)
}

// cudaError is a failed CUDA start-up: errNoCUDA, which says what to do, and its cause.
type cudaError struct{ cause error }

func (e *cudaError) Error() string { return fmt.Sprintf("%v (%v)", errNoCUDA, e.cause) }
func (e *cudaError) Unwrap() error { return e.cause }

// errNoCUDA explains a failed CUDA start-up.
var errNoCUDA = errors.New("the CUDA execution provider is unavailable: the loaded ONNX Runtime " +
	"library is CPU-only or no GPU/driver answered. Use the GPU build of ONNX Runtime " +
	"(onnxruntime-linux-x64-gpu-*.tgz with CUDA 12 and cuDNN 9) via --ort-lib, or run with --device cpu " +
	"(--device auto falls back to CPU by itself)")
