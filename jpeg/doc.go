// Package jpeg reads what a JPEG file says about itself and decodes and encodes pixels exactly as
// libjpeg does.
//
// JPEG is defined in ITU-T T.81: https://www.w3.org/Graphics/JPEG/itu-t81.pdf. JFIF is ITU-T
// T.871, EXIF is CIPA DC-008, the ICC profile embedding is ICC.1 Annex B, and the Adobe APP14
// segment is Adobe Technical Note #5116.
//
// Parse walks the markers of a file without decoding any pixels: size, components and sampling,
// coding process, quantization tables, restart interval, scans, EXIF orientation, XMP, ICC and
// comments. EstimateQuality fits each quantization table against the IJG tables that libjpeg,
// Pillow, OpenCV and Go's image/jpeg write, and reports the quality factor with a fit score.
//
// Decode goes through libjpeg-turbo's TurboJPEG API (cgo) with its defaults — the ISLOW integer
// IDCT and fancy (triangular) chroma upsampling — so its pixels equal djpeg's, Pillow's and
// OpenCV's. Go's image/jpeg differs in both and must not be used on the restore path. Every
// failure is an *Error whose Kind says why (corrupt, truncated, unsupported, too_large, not_jpeg).
package jpeg
