package qcs

import (
	"math"
	"slices"

	"jpegrestore/pix"
)

// ShiftedGridAbove is the ShiftedGrid score above which a file counts as re-saved after a crop.
// Files compressed once by libjpeg scored at most 0.16 at QF 50 and up, and up to 0.32 at QF 10–30
// (so `--qcs auto` leaves some of those alone too); files compressed on one grid and again on
// another scored 0.08–0.91, most over 0.3 (training/tools/consistency_probe.py's shifted_grid, on
// Kodak24 and 11 BSDS500 images; models/fast.md, Projection).
const ShiftedGridAbove = 0.25

const (
	shiftBlocks  = 1024 // blocks sampled per shift
	periodLo     = 6    // periods searched for the earlier grid's DC step, in DC units
	periodHi     = 120
	shiftsPerDim = 7 // shifts 1..7 in each direction: one along an axis only shares the file's grid there
)

// ShiftedGrid scores the signs, in a decoded image (in the file's stored orientation), of an
// earlier compression on another 8×8 grid: the image was cropped between two saves. On that
// grid the blocks' luma DC values (sum/8) lie near multiples of its DC step, whatever came after;
// on other grids they do not. For each grid shifted by (dy, dx), both in 1..7, and each period q
// of 6..120, the periodicity is |mean(exp(2πi·DC/q))| over 1024 blocks spread over the image; the
// score is the largest excess of one shift over the median of the shifts at the same period. It
// is consistency_probe.py's shifted_grid.
func ShiftedGrid(img pix.Image) float64 {
	bh, bw := (img.H-7)/8, (img.W-7)/8 // blocks that fit at every shift
	if bh < 1 || bw < 1 || img.Validate() != nil {
		return 0
	}
	total := bh * bw
	n := min(shiftBlocks, total)
	// The sampled blocks, spread evenly over the image in row-major order (numpy's linspace).
	at := make([][2]int, n)
	for i := range at {
		k := 0
		if n > 1 {
			k = int(float64(i) * (float64(total-1) / float64(n-1)))
		}
		at[i] = [2]int{k / bw, k % bw}
	}
	periods := periodHi - periodLo + 1
	p := make([][]float64, periods) // p[q][shift]
	for i := range p {
		p[i] = make([]float64, 0, shiftsPerDim*shiftsPerDim)
	}
	dc := make([]float64, n)
	for dy := 1; dy <= shiftsPerDim; dy++ {
		for dx := 1; dx <= shiftsPerDim; dx++ {
			for i, b := range at {
				dc[i] = blockLumaSum(img, dy+8*b[0], dx+8*b[1]) / 8
			}
			for qi := 0; qi < periods; qi++ {
				scale := lutSize / float64(periodLo+qi)
				var re, im float64
				for _, v := range dc {
					// The phase of v (≥ 0) on a circle of circumference q, in table steps: the
					// integer part modulo the table's size. The table is within 0.002 of
					// math.Sincos, which makes no difference at these thresholds.
					i := int(v*scale) & (lutSize - 1)
					re, im = re+phaseLUT[i][0], im+phaseLUT[i][1]
				}
				p[qi] = append(p[qi], math.Hypot(re, im)/float64(n))
			}
		}
	}
	best := 0.0
	for _, ps := range p {
		sorted := slices.Sorted(slices.Values(ps))
		median := (sorted[len(sorted)/2] + sorted[(len(sorted)-1)/2]) / 2
		best = max(best, sorted[len(sorted)-1]-median)
	}
	return best
}

const lutSize = 4096

// phaseLUT[i] is (cos, sin) of 2π·i/lutSize.
var phaseLUT = func() (t [lutSize][2]float64) {
	for i := range t {
		s, c := math.Sincos(2 * math.Pi * float64(i) / lutSize)
		t[i] = [2]float64{c, s}
	}
	return t
}()

// blockLumaSum is the sum of the JFIF luma of the 8×8 pixels from (y, x).
func blockLumaSum(img pix.Image, y, x int) float64 {
	var s float64
	for r := y; r < y+8; r++ {
		row := img.Pix[(r*img.W+x)*img.C : (r*img.W+x+8)*img.C]
		if img.C == 1 {
			for _, v := range row {
				s += float64(v)
			}
			continue
		}
		for i := 0; i < len(row); i += img.C {
			s += 0.299*float64(row[i]) + 0.587*float64(row[i+1]) + 0.114*float64(row[i+2])
		}
	}
	return s
}
