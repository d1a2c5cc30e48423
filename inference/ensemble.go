package inference

import "fmt"

// A transform is one of the eight symmetries of the square (the dihedral group D4) applied to a
// CHW tile. The numbering is fixed: 0 identity, 1 transpose, 2 rotate 180°, 3 anti-transpose,
// 4 flip left-right, 5 flip top-bottom, 6 rotate 90° clockwise, 7 rotate 90° counter-clockwise.
type transform int

// ensembleSets lists the transforms of each self-ensemble size. Each set is a subgroup (closed
// under composition), and ×2 ⊂ ×4 ⊂ ×8.
var ensembleSets = map[int][]transform{
	1: {0},
	2: {0, 1},
	4: {0, 1, 2, 3},
	8: {0, 1, 2, 3, 4, 5, 6, 7},
}

// inverse[t] undoes t.
var inverse = [8]transform{0, 1, 2, 3, 4, 5, 7, 6}

func validEnsemble(n int) error {
	if _, ok := ensembleSets[n]; !ok {
		return fmt.Errorf("ensemble %d, want 1, 2, 4 or 8", n)
	}
	return nil
}

// swaps reports whether t exchanges height and width.
func (t transform) swaps() bool { return t == 1 || t == 3 || t == 6 || t == 7 }

// apply returns t applied to x (c planes of h×w) and the result's height and width.
func (t transform) apply(x []float32, c, h, w int) ([]float32, int, int) {
	if t == 0 {
		return x, h, w
	}
	oh, ow := h, w
	if t.swaps() {
		oh, ow = w, h
	}
	out := make([]float32, len(x))
	for ch := 0; ch < c; ch++ {
		src, dst := x[ch*h*w:(ch+1)*h*w], out[ch*h*w:(ch+1)*h*w]
		for y := 0; y < oh; y++ {
			row := dst[y*ow : (y+1)*ow]
			for xx := range row {
				// (sy, sx) is the source pixel that lands at (y, xx).
				var sy, sx int
				switch t {
				case 1:
					sy, sx = xx, y
				case 2:
					sy, sx = h-1-y, w-1-xx
				case 3:
					sy, sx = h-1-xx, w-1-y
				case 4:
					sy, sx = y, w-1-xx
				case 5:
					sy, sx = h-1-y, xx
				case 6:
					sy, sx = h-1-xx, y
				case 7:
					sy, sx = xx, w-1-y
				}
				row[xx] = src[sy*w+sx]
			}
		}
	}
	return out, oh, ow
}
