package quality

import "math"

// Model parameters of the no-reference JPEG quality score, from Z. Wang's
// MATLAB reference jpeg_quality_score.m (2002, the version distributed with
// the ICIP 2002 paper on his LIVE web page). The same five numbers appear in
// the C++ and Python ports of that file; Cris Luengo's DIPimage port uses
// them rounded (-245.9, 261.9, -0.0240, 0.0160, 0.0064). A later LIVE
// revision of the file ("Version 1.BUQI") refits them to different values;
// that variant is not implemented.
const (
	nrAlpha  = -245.8909
	nrBeta   = 261.9373
	nrGamma1 = -239.8886
	nrGamma2 = 160.1664
	nrGamma3 = 64.2859
)

// nrMinSide is the smallest width and height the no-reference measures
// accept (the MATLAB reference returns -2 below 16 pixels).
const nrMinSide = 2 * blockSize

// nrFeatureFloor is the lower bound applied to B, A and Z before the power
// law of the score (see [NRScore]).
const nrFeatureFloor = 1e-3

// Score holds the no-reference JPEG quality score and its three features.
// B and A are in gray levels (0..255 scale); Z is a rate in [0, 1].
type Score struct {
	// S is the predicted quality on roughly the 1 (worst) to 10 (best)
	// scale of the subjective scores the model was fitted to; heavily
	// compressed images score near or below 1 and pristine ones can exceed
	// 10.
	S float64
	// B is the blockiness: the mean absolute difference between
	// neighbouring pixels across 8×8 block boundaries, averaged over the
	// horizontal and vertical directions. Compression raises it.
	B float64
	// A is the activity: the mean absolute difference between neighbours
	// inside blocks, averaged over both directions. Compression, which
	// blurs blocks, lowers it. It can be negative in degenerate images.
	A float64
	// Z is the zero-crossing rate of the neighbour differences, averaged
	// over both directions; in [0, 1]. Compression lowers it.
	Z float64
}

// NRScore returns the no-reference perceptual JPEG quality score of Wang,
// Sheikh and Bovik (ICIP 2002) for img, as the authors' MATLAB
// jpeg_quality_score.m computes it. The score is computed on a gray plane:
// gray images as they are, RGB images as their BT.601 luma
// 0.299 R + 0.587 G + 0.114 B in float64 (unrounded). The paper and the
// MATLAB code only define the score for gray images.
//
// With d_h(m,n) = x(m,n+1) − x(m,n) (0-based n = 0..W−2):
//
//   - B_h is the mean |d_h| over the block-boundary columns n = 8k−1,
//     k = 1..⌊W/8⌋−1 (MATLAB's d_h(:, 8:8:8*(floor(N/8)-1)); when W is not
//     a multiple of 8 the last complete boundary is left out, as there);
//   - A_h = (8·mean|d_h| − B_h)/7, mean over all columns;
//   - Z_h is the fraction of the W−2 adjacent pairs per row with
//     sign(d_h(m,n))·sign(d_h(m,n+1)) < 0;
//
// B_v, A_v and Z_v are the same down the columns, B, A and Z are the means
// of the horizontal and vertical values, and
//
//	S = α + β·B^(γ1/10⁴)·A^(γ2/10⁴)·Z^(γ3/10⁴)
//
// with α = −245.8909, β = 261.9373, γ1 = −239.8886, γ2 = 160.1664,
// γ3 = 64.2859.
//
// Degenerate images: the power law is undefined (NaN, infinite or complex in
// the reference) when a feature is 0 or negative, e.g. for a flat image
// (B = A = Z = 0), a linear ramp (Z = 0) or flat 8×8 blocks (A < 0). So that
// S is always finite, each feature is raised to at least 1e-3 before the
// power law; the returned B, A and Z are the unclamped values. A flat image
// scores about 18.9 (nothing to penalise); flat blocks score far below 1.
// The floor never binds for natural images.
//
// img must be valid and at least 16×16 pixels.
func NRScore(img Image) (Score, error) {
	r, err := NoReference(img)
	return r.Score, err
}

// NoRef is what NoReference measures in one pass over the luma plane.
type NoRef struct {
	Score      Score
	Blockiness float64
}

// NoReference computes [NRScore] and [Blockiness] together, from one luma plane and one pass
// over its neighbour differences (row-major in both directions, so it stays in cache). img must
// be valid and at least 16×16 pixels.
func NoReference(img Image) (NoRef, error) {
	if err := validate(img); err != nil {
		return NoRef{}, err
	}
	if err := checkMinSize(img, nrMinSide, "NRScore"); err != nil {
		return NoRef{}, err
	}
	x := lumaInto(lumaBufs.Get(img.W*img.H), img)
	defer lumaBufs.Put(x)
	w, h := img.W, img.H
	lastH := blockSize*(w/blockSize-1) - 1 // 0-based index of the last boundary difference
	lastV := blockSize*(h/blockSize-1) - 1
	var (
		hB, hAll, vB, vAll float64 // NRScore sums
		hCross, vCross     int
		sb, so             float64 // Blockiness sums
		nb, no             int
	)
	colPrev := make([]float64, w) // the previous row's vertical differences
	for y := 0; y < h; y++ {
		row := x[y*w : (y+1)*w]
		// A zero crossing is a sign change of the difference: sign(a)·sign(b) < 0 ⇔ a·b < 0.
		prev := 0.0
		var rowAll, rowB, rowSB, rowSO float64
		for i, k := 0, 0; i+1 < w; i, k = i+1, k+1 {
			d := row[i+1] - row[i]
			ad := math.Abs(d)
			rowAll += ad
			if k == blockSize-1 {
				k = -1
				if i <= lastH {
					rowB += ad
				}
				rowSB += ad
				nb++
			} else {
				rowSO += ad
				no++
			}
			if prev*d < 0 {
				hCross++
			}
			prev = d
		}
		hAll, hB, sb, so = hAll+rowAll, hB+rowB, sb+rowSB, so+rowSO
		if y+1 == h {
			continue
		}
		next := x[(y+1)*w : (y+2)*w]
		boundary := y%blockSize == blockSize-1
		var rowV float64
		for i, v := range row {
			d := next[i] - v
			rowV += math.Abs(d)
			if colPrev[i]*d < 0 {
				vCross++
			}
			colPrev[i] = d
		}
		vAll += rowV
		if boundary {
			if y <= lastV {
				vB += rowV
			}
			sb += rowV
			nb += w
		} else {
			so += rowV
			no += w
		}
	}
	feat := func(sumB, sumAll float64, cross, n, lines int) (b, a, z float64) {
		b = sumB / float64(lines*(n/blockSize-1))
		a = (8*(sumAll/float64(lines*(n-1))) - b) / 7
		z = float64(cross) / float64(lines*(n-2))
		return b, a, z
	}
	bh, ah, zh := feat(hB, hAll, hCross, w, h)
	bv, av, zv := feat(vB, vAll, vCross, h, w)
	sc := Score{B: (bh + bv) / 2, A: (ah + av) / 2, Z: (zh + zv) / 2}
	b := max(sc.B, nrFeatureFloor)
	a := max(sc.A, nrFeatureFloor)
	z := max(sc.Z, nrFeatureFloor)
	sc.S = nrAlpha + nrBeta*math.Pow(b, nrGamma1/10000)*math.Pow(a, nrGamma2/10000)*math.Pow(z, nrGamma3/10000)
	mb, mo := sb/float64(nb), so/float64(no)
	blk := mb / mo
	switch {
	case mo == 0 && mb == 0:
		blk = 1
	case mo == 0:
		blk = math.Inf(1)
	}
	return NoRef{Score: sc, Blockiness: blk}, nil
}

// Blockiness returns how much larger the luminance steps across the 8×8
// JPEG block grid are than the steps elsewhere:
//
//	mean |x(p) − x(q)| over neighbour pairs (p, q) straddling a block boundary
//	────────────────────────────────────────────────────────────────────────
//	mean |x(p) − x(q)| over all other neighbour pairs
//
// where boundary pairs are the horizontal neighbours in columns (8k−1, 8k)
// and the vertical neighbours in rows (8k−1, 8k), k ≥ 1, both directions
// pooled. It is computed on the same gray plane as [NRScore] (BT.601 luma
// for RGB). The value is dimensionless and ≥ 0: about 1.0 means the block
// grid is invisible, JPEG compression raises it (on this package's test
// images from about 1.05–1.3 uncompressed to 1.3–1.5 at quality 50 and
// 2.2–3 at quality 10), and deblocking should bring it back towards 1. A
// flat image gives exactly 1; an image whose only changes are at the block
// grid (flat 8×8 blocks) gives +Inf.
//
// Unlike FBCNN's blocking effect factor it uses absolute rather than
// squared differences (less dominated by a few strong edges) and is a ratio
// rather than a scaled difference, so it does not depend on contrast or
// image size. img must be valid and at least 16×16 pixels.
func Blockiness(img Image) (float64, error) {
	r, err := NoReference(img)
	return r.Blockiness, err
}
