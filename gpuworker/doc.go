// Package gpuworker is the only owner of ONNX Runtime in the process: it finds the shared library,
// initialises the process-global ORT environment exactly once, and (with the inference issue) holds
// the sessions and the batching pool. ORT's environment is process-global and a second
// InitializeEnvironment is an error, so nothing else may call into onnxruntime_go directly.
package gpuworker
