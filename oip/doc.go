// Package oip runs models over the network with the Open Inference Protocol (KServe v2, gRPC;
// the messages are in oippb, generated from oippb/grpc_predict_v2.proto): Server puts loaded
// models (inference.Model, whatever runs them) behind the protocol for `jpegrestore serve`, and
// Remote is an inference.Engine that sends tiles to a set of such servers for `--workers`, so the
// tiling and self-ensemble run in the caller as they do in-process and the outputs are the same
// bytes. The model contract (contract.go) is checked when a caller connects, and the model's
// sha256 travels with every answer, so a caller never restores with another model than its
// output tags name.
package oip
