// Package gpuworker is the only owner of ONNX Runtime in the process: it finds the shared library
// (library.go), initialises the process-global ORT environment exactly once, and runs models in
// pools. A Pool (pool.go) is ORT sessions on one device (ort.go, device.go) behind a pure-Go
// batching scheduler (batcher.go) that groups concurrent tile requests, bounds the queue and keeps
// a solo session for lone callers; its defaults depend on the device it ends up on (options.go).
// The process-wide registry (acquire.go) shares one pool per model file and options between every
// caller, and Loader hands those pools to package enhance as an inference.Loader. ORT's
// environment is process-global and a second InitializeEnvironment is an error, so nothing else
// may call into onnxruntime_go directly.
package gpuworker
