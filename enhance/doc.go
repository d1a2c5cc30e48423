// Package enhance owns one input's journey, without Beam. A Journey takes an input from a Store
// to its record, with each step visible in one place (journey.go) and each failure mapped to a
// typed stage and reason there (steps.go):
//
//	restore: name → read → probe → route → resume check → decode → restore → encode → write,
//	         measuring the no-reference quality before and after
//	survey:  read → probe → decode → measure
//	probe:   read → probe
//	eval:    read → decode the reference, then per QF: compress → decode → restore → measure
//
// Naming refuses input paths that could leave the output root and inputs whose output another
// input claimed (transforms.ClaimOutputs); probing parses the markers and estimates the quality factor from the quantization tables;
// routing picks the band by that QF; the resume check skips an input whose output already
// carries the same tag (tag.go: input, model and settings); decoding is libjpeg's; restoring runs
// the route's model (models.go, over an inference.Loader: ONNX Runtime in the product, pure Go in
// tests); encoding writes PNG or JPEG with EXIF and ICC carried over. Crops (crops.go) cuts the
// report's before/after examples. The Beam DoFns in transforms/ only adapt these journeys to
// bundles.
package enhance
