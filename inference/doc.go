// Package inference holds the model contract and everything between an 8-bit image and a model
// run: the manifest that describes a model, reflect padding to the block grid, tiling with overlap
// and stitching, geometric self-ensemble, and the conversions to and from the model's float
// tensors. It runs models through the small Engine interface; gpuworker implements it with ONNX
// Runtime, and tests implement it in pure Go.
//
// The contract (v1): ONNX, float32, input "image" [N,3,H,W] RGB in [0,1], output "restored" of the
// same shape, optional conditioning input "qtable" [N,128] (the file's luma and chroma quantization
// tables in natural order, divided by 255). H and W are dynamic and padded to the manifest's
// multiple; the network has a bounded receptive field and no whole-image operation, so tiled
// inference with enough overlap equals whole-image inference. Tiles start on the 16-pixel grid
// and flips/rotations apply to images padded to a multiple of 16, so the 8×8 JPEG block grid is
// always where the network was trained to see it (16×16 with 4:2:0 chroma).
package inference
