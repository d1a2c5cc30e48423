package qcs

import (
	"math"

	"jpegrestore/jpeg"
)

// DoubleQuantizedAbove is the DoubleQuantized score above which a file counts as re-saved. Files
// compressed once by libjpeg at QF 10–95 scored at most 0.0125 (Kodak24 and 11 BSDS500 images);
// files compressed twice on the same grid with a coarser step first at least 0.25 where the steps
// differ much (QF 10, 20, 30 or 50 then a higher one; 70 then 90) and 0.008–0.12 where they are
// close (70 then 75, 75 then 80), where projecting does no harm (training/tools/consistency_probe.py;
// models/fast.md, Projection).
const DoubleQuantizedAbove = 0.05

// zigzagAC20 are the first 20 AC positions in zigzag order, as v*8+u (natural order).
var zigzagAC20 = [20]int{1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40}

// histogramCap bounds the histograms; a coefficient of 2048 steps or more is counted as 2047,
// far past where the bins hold 20 values.
const histogramCap = 2048

// DoubleQuantized scores the signs that the file's luma was quantized twice on its own grid, with
// a coarser step first: the image was decoded and saved again. Once-quantized coefficients
// follow a peaked distribution whose histogram of |k| falls from 1 on; a second, finer
// quantization of coarsely quantized values cannot reach some values (QF 10 then 30: only
// multiples of about 3), so the histogram rises again past the empty ones. The score is how much
// h(n+1) exceeds h(n) beyond twice its Poisson noise, summed over n ≥ 1 where h(n+1) ≥ 20 and over
// the first 20 AC positions, divided by their values with n ≥ 1: the formula of
// consistency_probe.py's double_quantized, which the thresholds were measured with (there on the
// coefficients of a float re-enactment of the encoder, here on the file's own).
//
// It does not see a first compression on another grid (the image was cropped before it was saved
// again), nor one finer than the last; its score for a small image (few blocks) is noisier.
func DoubleQuantized(c *jpeg.Coefficients) float64 {
	if len(c.Components) == 0 {
		return 0
	}
	y := &c.Components[0]
	n := y.BlocksW * y.BlocksH
	var up, total float64
	var h [histogramCap]int64
	for _, pos := range zigzagAC20 {
		clear(h[:])
		top := 0
		for b := 0; b < n; b++ {
			v := int(y.Coef[b*64+pos])
			if v < 0 {
				v = -v
			}
			v = min(v, histogramCap-1)
			h[v]++
			top = max(top, v)
		}
		// numpy's bincount(minlength=3) has max(top+1, 3) bins; n runs to len-2.
		bins := max(top+1, 3)
		for k := 1; k < bins-1; k++ {
			if h[k+1] >= 20 {
				up += max(0, float64(h[k+1]-h[k])-2*math.Sqrt(float64(h[k+1])))
			}
			total += float64(h[k])
		}
	}
	return up / max(total, 1)
}
