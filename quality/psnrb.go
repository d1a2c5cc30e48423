package quality

import "math"

// blockSize is the JPEG block size assumed by the blocking measures.
const blockSize = 8

// Minimum image sides of the two PSNR-B variants. FBCNN's block counts stay
// positive from 9 pixels on; QGAC's integer block count needs two blocks.
const (
	psnrbMinSide           = blockSize + 1
	psnrbPerChannelMinSide = 2 * blockSize
)

// PSNRB returns the PSNR-B of the distorted (compressed or restored) image
// dist against the ground truth ref, in dB, exactly as FBCNN's evaluation
// computes it: calculate_psnrb(img1=ground truth, img2=restored) in FBCNN's
// utils/utils_image.py, on the 0..255 scale,
//
//	PSNR-B = 20·log10(255 / √(MSE + BEF)),
//
// where MSE is the mean squared difference over all pixels and channels
// together and BEF is the blocking effect factor of dist alone: η times the
// excess of the mean squared step between neighbours across the 8×8 block
// grid (pixel pairs 8k−1, 8k in either direction) over the mean squared
// step elsewhere, or 0 if there is no excess, with η = 3/log2(min(W, H)).
// The means use FBCNN's nominal pair counts, which are fractional when a
// side is not a multiple of 8. For RGB images the BEF is taken on the rounded 8-bit
// BT.601 studio-swing luma of dist, Y = round((65.481 R + 128.553 G +
// 24.966 B)/255 + 16), as FBCNN's rgb2ycbcr computes it; MSE still uses the
// RGB values. The result is +Inf only when MSE + BEF is 0: identical images
// give a finite value if dist itself has excess differences across the 8×8
// grid. PSNR-B ≤ PSNR always.
//
// The metric is not symmetric. The images must have the same size and
// channel count and be at least 9×9 pixels.
func PSNRB(ref, dist Image) (float64, error) {
	if err := checkPair(ref, dist); err != nil {
		return 0, err
	}
	if err := checkMinSize(ref, psnrbMinSide, "PSNR-B"); err != nil {
		return 0, err
	}
	plane := dist.Pix
	if dist.C == 3 {
		plane = fbcnnLuma(dist)
	}
	m := mse(ref.Pix, dist.Pix) + fbcnnBEF(plane, dist.W, dist.H)
	return psnrFromMSE(m), nil
}

// fbcnnLuma returns FBCNN's rgb2ycbcr(img, only_y=True) of an RGB image:
// the BT.601 studio-swing luma (65.481 R + 128.553 G + 24.966 B)/255 + 16,
// rounded half to even like numpy's round.
//
// It is evaluated exactly, in integers. FBCNN evaluates it with np.dot in
// float64, and for the few dozen of the 2²⁴ colors whose exact value is a
// tie (k + 0.5, e.g. R,G,B = 41,187,48 → 125.5) the float result lands on
// k + 0.5 or one ulp either side depending on the BLAS summation order, so
// FBCNN's own rounding of those colors is platform dependent. The exact
// value avoids that; it agrees with numpy 1.24/OpenBLAS on all colors but
// one (11,205,34, which that np.dot rounds down).
func fbcnnLuma(m Image) []uint8 {
	const den = 255000 // the weights are in thousandths, divided by 255
	n := m.W * m.H
	out := make([]uint8, n)
	p := m.Pix[:3*n]
	for i := range out {
		r, g, b := int64(p[3*i]), int64(p[3*i+1]), int64(p[3*i+2])
		num := 65481*r + 128553*g + 24966*b + 16*den
		q, rem := num/den, num%den
		if 2*rem > den || (2*rem == den && q%2 == 1) {
			q++
		}
		out[i] = uint8(q)
	}
	return out
}

// fbcnnBEF is compute_bef of FBCNN's utils/utils_image.py for one 8-bit
// plane of w×h samples (w, h ≥ 9). With D_B the sum of squared differences
// between horizontal neighbours (x, x+1) for x = 7, 15, ... < w-1 plus
// vertical neighbours (y, y+1) for y = 7, 15, ... < h-1, and D_BC the same
// sum over all other neighbour pairs, it returns
//
//	η·(D_B/N_B − D_BC/N_BC)   if D_B/N_B > D_BC/N_BC, else 0,
//
// with η = log2(8)/log2(min(w, h)), N_B = h·(w/8−1) + w·(h/8−1) using real
// (not integer) division, and N_BC = h·(w−1) + w·(h−1) − N_B. When a side is
// not a multiple of 8 these "counts" differ from the numbers of pairs
// summed; that is what FBCNN computes, so it is reproduced.
func fbcnnBEF(p []uint8, w, h int) float64 {
	db, dbc := blockDiffSums(p, w, h)
	fw, fh := float64(w), float64(h)
	nhb := fh * (fw/blockSize - 1)
	nhbc := fh*(fw-1) - nhb
	nvb := fw * (fh/blockSize - 1)
	nvbc := fw*(fh-1) - nvb
	b := float64(db) / (nhb + nvb)
	bc := float64(dbc) / (nhbc + nvbc)
	if !(b > bc) {
		return 0
	}
	eta := math.Log2(blockSize) / math.Log2(float64(min(w, h)))
	return eta * (b - bc)
}

// blockDiffSums returns the sums of squared neighbour differences of an
// 8-bit plane across the 8×8 block boundaries (between positions 8k−1 and
// 8k, k ≥ 1, horizontally and vertically) and at all other neighbour pairs.
// The sums are exact.
func blockDiffSums(p []uint8, w, h int) (boundary, other uint64) {
	for y := 0; y < h; y++ {
		row := p[y*w : (y+1)*w]
		for x := 0; x+1 < w; x++ {
			d := int32(row[x]) - int32(row[x+1])
			if x%blockSize == blockSize-1 {
				boundary += uint64(d * d)
			} else {
				other += uint64(d * d)
			}
		}
		if y+1 == h {
			continue
		}
		next := p[(y+1)*w : (y+2)*w]
		var s uint64
		for x, v := range row {
			d := int32(v) - int32(next[x])
			s += uint64(d * d)
		}
		if y%blockSize == blockSize-1 {
			boundary += s
		} else {
			other += s
		}
	}
	return boundary, other
}

// PSNRBPerChannel returns the PSNR-B of dist against ref in dB as the
// SwinIR/KAIR calculate_psnrb computes it, following QGAC's psnrb.py: on
// values divided by 255 (once), for each channel c
//
//	PSNR-B_c = 10·log10(1 / (MSE_c + BEF_c)),
//
// with MSE_c the channel's mean squared difference and BEF_c the QGAC
// blocking effect factor of dist's channel c (as in [PSNRB] but on the 0..1
// scale and with whole-block pair counts), and the result is the mean of the per-channel values. SwinIR's scripts call it as
// calculate_psnrb(output, img_gt), so the BEF is taken on the restored
// image, which is dist here.
//
// This is not FBCNN's definition (see [PSNRB]) and does not give FBCNN's
// numbers; use it to compare with tables computed with SwinIR or KAIR code.
// The metric is not symmetric. The images must have the same size and
// channel count and be at least 16×16 pixels.
func PSNRBPerChannel(ref, dist Image) (float64, error) {
	if err := checkPair(ref, dist); err != nil {
		return 0, err
	}
	if err := checkMinSize(ref, psnrbPerChannelMinSide, "PSNR-B"); err != nil {
		return 0, err
	}
	w, h, nc := ref.W, ref.H, ref.C
	n := w * h
	plane := make([]float64, n)
	total := 0.0
	for c := 0; c < nc; c++ {
		sq := 0.0
		for i := range plane {
			x := float64(dist.Pix[i*nc+c]) / 255
			y := float64(ref.Pix[i*nc+c]) / 255
			plane[i] = x
			sq += (x - y) * (x - y)
		}
		total += 10 * math.Log10(1/(sq/float64(n)+qgacBEF(plane, w, h)))
	}
	return total / float64(nc), nil
}

// qgacBEF is _blocking_effect_factor of QGAC's psnrb.py (as copied into
// SwinIR and KAIR) for one w×h plane on the 0..1 scale (w, h ≥ 16). It
// differs from [fbcnnBEF] in using integer division for the block counts:
// N_B = h·(⌊w/8⌋−1) + w·(⌊h/8⌋−1).
func qgacBEF(p []float64, w, h int) float64 {
	var b, nb float64
	for y := 0; y < h; y++ {
		row := p[y*w : (y+1)*w]
		for x := 0; x+1 < w; x++ {
			d := row[x] - row[x+1]
			if x%blockSize == blockSize-1 {
				b += d * d
			} else {
				nb += d * d
			}
		}
		if y+1 == h {
			continue
		}
		next := p[(y+1)*w : (y+2)*w]
		s := 0.0
		for x, v := range row {
			d := v - next[x]
			s += d * d
		}
		if y%blockSize == blockSize-1 {
			b += s
		} else {
			nb += s
		}
	}
	nhb := float64(h * (w/blockSize - 1))
	nvb := float64(w * (h/blockSize - 1))
	nhbc := float64(h*(w-1)) - nhb
	nvbc := float64(w*(h-1)) - nvb
	bd := b / (nhb + nvb)
	nbd := nb / (nhbc + nvbc)
	if bd <= nbd {
		return 0
	}
	return math.Log2(blockSize) / math.Log2(float64(min(w, h))) * (bd - nbd)
}
