// Package transforms holds jpegrestore's Beam DoFns and small PTransforms. Each DoFn unpacks its
// element, calls the pure packages (storage, enhance, jpeg, quality, report) and emits; the logic
// worth testing lives there. Only exported fields are serialized: they hold the config, and the
// handles (models, pools) are built in Setup from process-wide caches, because Prism never calls
// Teardown and runs several bundles, each with its own DoFn instance, at once.
//
// Bad input never fails a bundle: it becomes a failed record with a typed reason. A DoFn returns
// an error only for faults a retry can fix (a storage outage), never for the same element it
// already emitted a record for.
package transforms
