// Package transforms holds jpegrestore's Beam DoFns and small PTransforms. They adapt enhance's
// journeys to Beam: a DoFn builds its Journey in Setup, keeps a window of inputs in flight per
// bundle (window.go), counts each record in the progress line and the Beam metrics, and emits it;
// the logic worth testing lives in enhance and the other pure packages. Only exported fields are
// serialized: they hold the config, and the handles (the journey, its models) are built in Setup
// over the process-wide ORT pools of gpuworker, because Prism never calls Teardown and runs
// several bundles, each with its own DoFn instance, at once.
//
// Bad input never fails a bundle: it becomes a failed record with a typed reason. A DoFn returns
// an error only for faults a retry can fix (a storage outage), never for the same element it
// already emitted a record for.
package transforms
