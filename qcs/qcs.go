// Package qcs pulls a restored image back toward what its JPEG file says (the quantization
// constraint set).
//
// A JPEG file fixes each 8×8 block's DCT coefficients only up to rounding: the encoder kept k =
// round(F/q), so the image it was made from had F in [(k−½)·q, (k+½)·q]. A restoring network
// does not know that interval and sometimes leaves it. Project moves every coefficient of the
// restored image that lies outside [(k−α)·q, (k+α)·q] to the nearest end, block by block, in the
// color space and at the resolution the encoder used (JFIF YCbCr, chroma averaged over its
// sampling factors), and changes nothing else. α = ½ is the file's own interval; a smaller α
// also pulls coefficients that are inside it but far from the middle, which measured better
// (models/fast.md, Projection).
//
// It reads the coefficients from the file (jpeg.ReadCoefficients), so it sees exactly what the
// decoder saw; the image must be in the file's stored orientation. The chroma averaging is
// libjpeg's (a box over the sampling factors); for an encoder that filters otherwise before it
// subsamples, the chroma bins are only approximately where its image lay.
package qcs

import (
	"errors"
	"fmt"
	"math"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
)

// ErrUnsupported says that the file's color space or sampling cannot be projected: CMYK and YCCK
// files, and sampling factors that do not divide the largest one.
var ErrUnsupported = errors.New("qcs: unsupported")

// basis[u][x] is the orthonormal 8-point DCT-II, the transform of T.81 A.3.3 (F(u,v) =
// ¼·C(u)·C(v)·ΣΣ f(x,y)·cos((2x+1)uπ/16)·cos((2y+1)vπ/16)).
var basis = func() (b [8][8]float32) {
	for u := 0; u < 8; u++ {
		s := math.Sqrt(2.0 / 8)
		if u == 0 {
			s = math.Sqrt(1.0 / 8)
		}
		for x := 0; x < 8; x++ {
			b[u][x] = float32(s * math.Cos(float64((2*x+1)*u)*math.Pi/16))
		}
	}
	return b
}()

// The DCT's cosines: ck = cos(kπ/16)/2, c0 = 1/(2√2), as basis holds them.
var (
	c0 = basis[0][0]
	c1 = basis[1][0]
	c2 = basis[2][0]
	c3 = basis[3][0]
	c4 = basis[4][0]
	c5 = basis[5][0]
	c6 = basis[6][0]
	c7 = basis[7][0]
)

// dct8 transforms the 8 values at v[o], v[o+st], ... v[o+7st] in place (forward: the DCT;
// inverse: its transpose), with the even/odd butterflies of the 8-point DCT.
func dct8(v *[64]float32, o, st int, inverse bool) {
	x0, x1, x2, x3 := v[o], v[o+st], v[o+2*st], v[o+3*st]
	x4, x5, x6, x7 := v[o+4*st], v[o+5*st], v[o+6*st], v[o+7*st]
	if !inverse {
		e0, e1, e2, e3 := x0+x7, x1+x6, x2+x5, x3+x4
		d0, d1, d2, d3 := x0-x7, x1-x6, x2-x5, x3-x4
		p, q := e0+e3, e1+e2
		r, t := e0-e3, e1-e2
		v[o] = c0 * (p + q)
		v[o+4*st] = c4 * (p - q)
		v[o+2*st] = c2*r + c6*t
		v[o+6*st] = c6*r - c2*t
		v[o+st] = c1*d0 + c3*d1 + c5*d2 + c7*d3
		v[o+3*st] = c3*d0 - c7*d1 - c1*d2 - c5*d3
		v[o+5*st] = c5*d0 - c1*d1 + c7*d2 + c3*d3
		v[o+7*st] = c7*d0 - c5*d1 + c3*d2 - c1*d3
		return
	}
	// x holds coefficients 0..7 here.
	p, q := c0*x0, c4*x4
	r := c2*x2 + c6*x6
	t := c6*x2 - c2*x6
	e0, e3 := p+q+r, p+q-r
	e1, e2 := p-q+t, p-q-t
	d0 := c1*x1 + c3*x3 + c5*x5 + c7*x7
	d1 := c3*x1 - c7*x3 - c1*x5 - c5*x7
	d2 := c5*x1 - c1*x3 + c7*x5 + c3*x7
	d3 := c7*x1 - c5*x3 + c3*x5 - c1*x7
	v[o], v[o+7*st] = e0+d0, e0-d0
	v[o+st], v[o+6*st] = e1+d1, e1-d1
	v[o+2*st], v[o+5*st] = e2+d2, e2-d2
	v[o+3*st], v[o+4*st] = e3+d3, e3-d3
}

// fdct returns the DCT of the 8×8 block s (row-major, s[y*8+x]), as F[v*8+u].
func fdct(s *[64]float32) [64]float32 {
	f := *s
	for y := 0; y < 8; y++ {
		dct8(&f, y*8, 1, false)
	}
	for u := 0; u < 8; u++ {
		dct8(&f, u, 8, false)
	}
	return f
}

// idct is fdct's inverse.
func idct(f *[64]float32) [64]float32 {
	s := *f
	for u := 0; u < 8; u++ {
		dct8(&s, u, 8, true)
	}
	for y := 0; y < 8; y++ {
		dct8(&s, y*8, 1, true)
	}
	return s
}

// space maps the image's channels to the coded components and back: component c of a pixel is
// Σ_k fwd[c][k]·channel_k − offset[c] (level-shifted, as the encoder's DCT takes it), and a change
// d of the components changes channel k by Σ_c inv[k][c]·d_c.
type space struct {
	fwd    [][]float32
	offset []float32
	inv    [][]float32
}

// JFIF's YCbCr (T.871); Cb and Cr carry +128, which the level shift removes.
var (
	ycbcrFwd = [][]float32{{0.299, 0.587, 0.114}, {-0.168736, -0.331264, 0.5}, {0.5, -0.418688, -0.081312}}
	ycbcrInv = [][]float32{{1, 0, 1.402}, {1, -0.344136, -0.714136}, {1, 1.772, 0}}
)

func spaceFor(cs jpeg.ColorSpace, ncomp, channels int) (space, error) {
	switch {
	case cs == jpeg.ColorGray && ncomp == 1 && channels == 1:
		return space{fwd: [][]float32{{1}}, offset: []float32{128}, inv: [][]float32{{1}}}, nil
	case cs == jpeg.ColorGray && ncomp == 1 && channels == 3:
		return space{fwd: ycbcrFwd[:1], offset: []float32{128}, inv: [][]float32{{1}, {1}, {1}}}, nil
	case cs == jpeg.ColorYCbCr && ncomp == 3 && channels == 3:
		return space{fwd: ycbcrFwd, offset: []float32{128, 0, 0}, inv: ycbcrInv}, nil
	case cs == jpeg.ColorRGB && ncomp == 3 && channels == 3:
		return space{fwd: [][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, offset: []float32{128, 128, 128},
			inv: [][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}, nil
	}
	return space{}, fmt.Errorf("%w: %s with %d components onto %d channels", ErrUnsupported, cs, ncomp, channels)
}

// Project moves the DCT coefficients of img's blocks into [(k−alpha)·q, (k+alpha)·q] around the
// file's coefficients k (see the package doc), in place. alpha must be in (0, 0.5]. img must have
// the file's size, in its stored orientation. Blocks that reach past the right or bottom edge (the
// encoder padded them) are left as they are. It returns the number of coefficients moved.
func Project(img pix.Image, c *jpeg.Coefficients, alpha float64) (moved int, err error) {
	if !(alpha > 0 && alpha <= 0.5) {
		return 0, fmt.Errorf("qcs: alpha %g outside (0, 0.5]", alpha)
	}
	if err := img.Validate(); err != nil {
		return 0, err
	}
	if img.W != c.Width || img.H != c.Height {
		return 0, fmt.Errorf("qcs: image %dx%d, file %dx%d", img.W, img.H, c.Width, c.Height)
	}
	sp, err := spaceFor(c.ColorSpace, len(c.Components), img.C)
	if err != nil {
		return 0, err
	}
	for _, cc := range c.Components {
		if cc.H < 1 || cc.V < 1 || c.MaxH%cc.H != 0 || c.MaxV%cc.V != 0 {
			return 0, fmt.Errorf("%w: sampling %dx%d under %dx%d", ErrUnsupported, cc.H, cc.V, c.MaxH, c.MaxV)
		}
	}
	a := float32(alpha)
	rows := 8 * c.MaxV // one MCU row of pixels
	// plane[ci] and delta[ci]: component ci (level-shifted) and its change at each pixel of one
	// MCU row, at full resolution.
	plane, delta := make([][]float32, len(c.Components)), make([][]float32, len(c.Components))
	for ci := range delta {
		plane[ci], delta[ci] = make([]float32, img.W*rows), make([]float32, img.W*rows)
	}
	var s, d [64]float32
	for y0 := 0; y0 < img.H; y0 += rows {
		n := min(rows, img.H-y0)
		components(img, sp, plane, y0, n)
		for ci := range delta {
			clear(delta[ci])
		}
		for ci := range c.Components {
			cc := &c.Components[ci]
			sx, sy := c.MaxH/cc.H, c.MaxV/cc.V
			for j := 0; j < cc.V; j++ {
				by := y0/rows*cc.V + j
				py := by * 8 * sy
				if by >= cc.BlocksH || py+8*sy > img.H {
					continue
				}
				for bx := 0; bx < cc.BlocksW; bx++ {
					px := bx * 8 * sx
					if px+8*sx > img.W {
						break
					}
					sample(plane[ci][(py-y0)*img.W+px:], img.W, sx, sy, &s)
					f := fdct(&s)
					k := cc.Block(bx, by)
					changed := false
					for i := range f {
						q := float32(cc.Quant[i])
						lo, hi := (float32(k[i])-a)*q, (float32(k[i])+a)*q
						switch {
						case f[i] < lo:
							d[i], changed = lo-f[i], true
							moved++
						case f[i] > hi:
							d[i], changed = hi-f[i], true
							moved++
						default:
							d[i] = 0
						}
					}
					if !changed {
						continue
					}
					r := idct(&d)
					// Each sample covers sx×sy pixels: adding its change to all of them changes
					// their average, which is what the encoder would take, by exactly that much.
					for yy := 0; yy < 8*sy; yy++ {
						row := delta[ci][(py-y0+yy)*img.W:]
						for xx := 0; xx < 8*sx; xx++ {
							row[px+xx] = r[(yy/sy)*8+xx/sx]
						}
					}
				}
			}
		}
		apply(img, sp, delta, y0, n)
	}
	return moved, nil
}

// components fills plane[ci] with component ci, level-shifted, of n image rows from y0.
func components(img pix.Image, sp space, plane [][]float32, y0, n int) {
	px := img.Pix[y0*img.W*img.C : (y0+n)*img.W*img.C]
	if img.C == 3 && len(plane) == 3 {
		f0, f1, f2 := sp.fwd[0], sp.fwd[1], sp.fwd[2]
		o0, o1, o2 := sp.offset[0], sp.offset[1], sp.offset[2]
		p0, p1, p2 := plane[0][:n*img.W], plane[1][:n*img.W], plane[2][:n*img.W]
		for i := range p0 {
			r, g, b := float32(px[3*i]), float32(px[3*i+1]), float32(px[3*i+2])
			p0[i] = f0[0]*r + f0[1]*g + f0[2]*b - o0
			p1[i] = f1[0]*r + f1[1]*g + f1[2]*b - o1
			p2[i] = f2[0]*r + f2[1]*g + f2[2]*b - o2
		}
		return
	}
	for ci, fwd := range sp.fwd {
		p := plane[ci][:n*img.W]
		for i := range p {
			var acc float32
			for k, w := range fwd {
				acc += w * float32(px[i*img.C+k])
			}
			p[i] = acc - sp.offset[ci]
		}
	}
}

// sample fills s with the sx×sy averages of the plane p (row stride w) from its start.
func sample(p []float32, w, sx, sy int, s *[64]float32) {
	if sx == 1 && sy == 1 {
		for y := 0; y < 8; y++ {
			copy(s[y*8:y*8+8], p[y*w:y*w+8])
		}
		return
	}
	norm := 1 / float32(sx*sy)
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			var acc float32
			for yy := 0; yy < sy; yy++ {
				row := p[(y*sy+yy)*w+x*sx:]
				for xx := 0; xx < sx; xx++ {
					acc += row[xx]
				}
			}
			s[y*8+x] = acc * norm
		}
	}
}

// apply adds the components' changes of n rows from y0 to img's channels, rounding to 8 bits.
func apply(img pix.Image, sp space, delta [][]float32, y0, n int) {
	px := img.Pix[y0*img.W*img.C : (y0+n)*img.W*img.C]
	if img.C == 3 && len(delta) == 3 {
		i0, i1, i2 := sp.inv[0], sp.inv[1], sp.inv[2]
		d0, d1, d2 := delta[0][:n*img.W], delta[1][:n*img.W], delta[2][:n*img.W]
		for i := range d0 {
			a, b, c := d0[i], d1[i], d2[i]
			if a == 0 && b == 0 && c == 0 {
				continue
			}
			p := px[3*i : 3*i+3]
			p[0] = clamp8(float32(p[0]) + i0[0]*a + i0[1]*b + i0[2]*c)
			p[1] = clamp8(float32(p[1]) + i1[0]*a + i1[1]*b + i1[2]*c)
			p[2] = clamp8(float32(p[2]) + i2[0]*a + i2[1]*b + i2[2]*c)
		}
		return
	}
	for i := 0; i < n*img.W; i++ {
		for k := 0; k < img.C; k++ {
			var v float32
			for ci, inv := range sp.inv[k] {
				v += inv * delta[ci][i]
			}
			if v != 0 {
				px[i*img.C+k] = clamp8(float32(px[i*img.C+k]) + v)
			}
		}
	}
}

func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
