package quality

import "math"

// PSNR returns the peak signal-to-noise ratio between ref and dist in dB,
// 20·log10(255/√MSE), where MSE is the mean squared difference of the 8-bit
// values over all pixels and channels together (for RGB this is not the
// mean of per-channel PSNRs). Identical images give +Inf. Typical values for
// JPEG images are 20–45 dB.
//
// This is calculate_psnr of FBCNN's utils/utils_image.py with border 0. The
// metric is symmetric in its arguments. The images must have the same size
// and channel count.
func PSNR(ref, dist Image) (float64, error) {
	if err := checkPair(ref, dist); err != nil {
		return 0, err
	}
	return psnrFromMSE(mse(ref.Pix, dist.Pix)), nil
}

// mse returns the mean squared difference of a and b (same length > 0). The
// sum is accumulated exactly in integers.
func mse(a, b []uint8) float64 {
	b = b[:len(a)]
	var sum uint64
	for i, v := range a {
		d := int32(v) - int32(b[i])
		sum += uint64(d * d)
	}
	return float64(sum) / float64(len(a))
}

// psnrFromMSE converts a mean squared error on the 0..255 scale to PSNR in
// dB; a zero error gives +Inf.
func psnrFromMSE(m float64) float64 {
	if m == 0 {
		return math.Inf(1)
	}
	return 20 * math.Log10(255/math.Sqrt(m))
}
