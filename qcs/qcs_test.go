package qcs

import (
	"errors"
	"math"
	"math/rand"
	"testing"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
)

// photo is a smooth gradient with texture and a few edges: something a JPEG encoder quantizes in
// every coefficient band.
func photo(w, h, c int, seed int64) pix.Image {
	r := rand.New(rand.NewSource(seed))
	m := pix.New(w, h, c)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for k := 0; k < c; k++ {
				v := 60 + 1.5*float64(x) + 0.8*float64(y) + 25*math.Sin(float64(x*(k+1))/3.0+float64(y)/5.0) + r.Float64()*30
				if (x/13+y/11)%2 == 0 {
					v += 40
				}
				m.Pix[(y*w+x)*c+k] = uint8(max(0, min(255, v)))
			}
		}
	}
	return m
}

func compress(t *testing.T, m pix.Image, qf int, sub jpeg.Subsampling) ([]byte, *jpeg.Decoded, *jpeg.Coefficients) {
	t.Helper()
	data, err := jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: qf, Subsampling: sub})
	if err != nil {
		t.Fatal(err)
	}
	d, err := jpeg.Decode(data, jpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := jpeg.ReadCoefficients(data, d.Info)
	if err != nil {
		t.Fatal(err)
	}
	return data, d, c
}

// coefficients computes the image's own DCT coefficients of component ci's block (bx, by), in
// units of the block's quantization steps, the way Project sees them.
func coefficients(m pix.Image, c *jpeg.Coefficients, ci, bx, by int) [64]float32 {
	sp, err := spaceFor(c.ColorSpace, len(c.Components), m.C)
	if err != nil {
		panic(err)
	}
	cc := c.Components[ci]
	sx, sy := c.MaxH/cc.H, c.MaxV/cc.V
	plane := make([][]float32, len(c.Components))
	for i := range plane {
		plane[i] = make([]float32, m.W*8*sy)
	}
	components(m, sp, plane, by*8*sy, 8*sy)
	var s [64]float32
	sample(plane[ci][bx*8*sx:], m.W, sx, sy, &s)
	f := fdct(&s)
	for i := range f {
		f[i] /= float32(cc.Quant[i])
	}
	return f
}

func TestDCTRoundTrip(t *testing.T) {
	var s [64]float32
	for i := range s {
		s[i] = float32((i*37)%61) - 30
	}
	f := fdct(&s)
	if want := float32(0); math.Abs(float64(f[0]-sumOf(s)/8)) > 1e-3 {
		t.Errorf("DC %g, want the block's sum/8 %g (%g)", f[0], sumOf(s)/8, want)
	}
	back := idct(&f)
	for i := range s {
		if math.Abs(float64(back[i]-s[i])) > 1e-3 {
			t.Fatalf("idct(fdct(s))[%d] = %g, want %g", i, back[i], s[i])
		}
	}
}

func sumOf(s [64]float32) (a float32) {
	for _, v := range s {
		a += v
	}
	return a
}

// After Project with alpha, the coefficients of every whole block lie within alpha steps of the
// file's (up to the 8-bit rounding of the result), where the original image's did not.
func TestProjectLandsInTheInterval(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     int
		sub   jpeg.Subsampling
		qf    int
		alpha float64
	}{
		{"420-qf20", 3, jpeg.Sub420, 20, 0.25},
		{"444-qf50", 3, jpeg.Sub444, 50, 0.25},
		{"422-qf10", 3, jpeg.Sub422, 10, 0.1},
		{"gray-qf30", 1, jpeg.Sub444, 30, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := photo(77, 53, tc.c, 1)
			_, _, c := compress(t, orig, tc.qf, tc.sub)
			out := pix.New(orig.W, orig.H, orig.C)
			copy(out.Pix, orig.Pix)
			moved, err := Project(out, c, tc.alpha)
			if err != nil {
				t.Fatal(err)
			}
			if moved == 0 {
				t.Fatal("nothing moved")
			}
			outside := func(m pix.Image) (n, total int) {
				for ci, cc := range c.Components {
					sx, sy := c.MaxH/cc.H, c.MaxV/cc.V
					for by := 0; (by+1)*8*sy <= m.H; by++ {
						for bx := 0; (bx+1)*8*sx <= m.W; bx++ {
							f, k := coefficients(m, c, ci, bx, by), cc.Block(bx, by)
							for i := range f {
								// 8-bit rounding moves a coefficient by up to about a gray level.
								tol := float64(tc.alpha) + 1.5/float64(cc.Quant[i])
								if math.Abs(float64(f[i])-float64(k[i])) > tol {
									n++
								}
								total++
							}
						}
					}
				}
				return n, total
			}
			before, total := outside(orig)
			after, _ := outside(out)
			t.Logf("%d coefficients moved; outside the interval: %d before, %d after, of %d", moved, before, after, total)
			if before == 0 || after > total/200 || after > before/20 {
				t.Errorf("outside the interval: %d before, %d after, of %d", before, after, total)
			}
			// Pixels that no whole block of any component covers (at the right and bottom edges,
			// where the encoder padded the blocks) are left alone.
			for y := 0; y < orig.H; y++ {
				for x := 0; x < orig.W; x++ {
					if x < orig.W/8*8 && y < orig.H/8*8 {
						continue
					}
					i := (y*orig.W + x) * orig.C
					if out.Pix[i] != orig.Pix[i] {
						t.Fatalf("pixel (%d,%d) of a partial block changed", x, y)
					}
				}
			}
		})
	}
}

// With a tiny alpha every block becomes the file's own coefficients: the luma of the result is
// the decoder's luma, from any starting image.
func TestProjectTinyAlphaIsTheDecodedImage(t *testing.T) {
	for _, sub := range []jpeg.Subsampling{jpeg.Sub420, jpeg.Sub444} {
		orig := photo(64, 48, 3, 2)
		_, d, c := compress(t, orig, 30, sub)
		start := photo(64, 48, 3, 3) // another image altogether
		if _, err := Project(start, c, 1e-6); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		luma := func(p []uint8) float64 { return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2]) }
		clipped := func(p []uint8) bool { return min(p[0], p[1], p[2]) == 0 || max(p[0], p[1], p[2]) == 255 }
		for i := 0; i < len(start.Pix); i += 3 {
			// Where a channel is clipped, luma could not follow in either image.
			if !clipped(start.Pix[i:i+3]) && !clipped(d.Image.Pix[i:i+3]) {
				worst = max(worst, math.Abs(luma(start.Pix[i:])-luma(d.Image.Pix[i:])))
			}
		}
		// libjpeg's integer IDCT and color conversion round differently from ours: a level or two.
		if worst > 2.5 {
			t.Errorf("%s: luma differs from the decoded image's by up to %.2f", sub, worst)
		}
	}
}

func TestProjectRefuses(t *testing.T) {
	m := photo(32, 32, 3, 4)
	_, _, c := compress(t, m, 50, jpeg.Sub420)
	if _, err := Project(m, c, 0); err == nil {
		t.Error("alpha 0 accepted")
	}
	if _, err := Project(m, c, 0.6); err == nil {
		t.Error("alpha 0.6 accepted")
	}
	if _, err := Project(photo(16, 32, 3, 4), c, 0.4); err == nil {
		t.Error("an image of another size accepted")
	}
	cmyk := *c
	cmyk.ColorSpace = jpeg.ColorCMYK
	if _, err := Project(m, &cmyk, 0.4); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CMYK: %v, want ErrUnsupported", err)
	}
	odd := *c
	odd.Components = append([]jpeg.ComponentCoefficients(nil), c.Components...)
	odd.MaxH, odd.Components[0].H, odd.Components[1].H = 3, 3, 2
	if _, err := Project(m, &odd, 0.4); !errors.Is(err, ErrUnsupported) {
		t.Errorf("sampling 2 under 3: %v, want ErrUnsupported", err)
	}
}

// BenchmarkProject: the projection of a 12 MP image onto its 4:2:0 QF 30 file's coefficients,
// read once; the image projected is the one the file was made from, which, like a restored image,
// has many coefficients outside the narrowed bins (b.SetBytes counts pixels: MB/s reads as MP/s).
// BenchmarkReadCoefficients: reading them.
func BenchmarkProject(b *testing.B) {
	img, data, info := benchImage(b)
	c, err := jpeg.ReadCoefficients(data, info)
	if err != nil {
		b.Fatal(err)
	}
	work := pix.New(img.W, img.H, img.C)
	b.SetBytes(int64(img.W * img.H))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(work.Pix, img.Pix)
		if _, err := Project(work, c, 0.4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCoefficients(b *testing.B) {
	img, data, info := benchImage(b)
	b.SetBytes(int64(img.W * img.H))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := jpeg.ReadCoefficients(data, info); err != nil {
			b.Fatal(err)
		}
	}
}

func benchImage(b *testing.B) (pix.Image, []byte, *jpeg.Info) {
	b.Helper()
	src := photo(4000, 3000, 3, 5)
	data, err := jpeg.EncodeJPEG(src, jpeg.EncodeOptions{Quality: 30, Subsampling: jpeg.Sub420})
	if err != nil {
		b.Fatal(err)
	}
	info, err := jpeg.Parse(data, jpeg.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return src, data, info
}

// DoubleQuantized tells a file saved again after a coarser compression from a file saved once.
func TestDoubleQuantized(t *testing.T) {
	src := photo(256, 256, 3, 6)
	once := func(m pix.Image, qf int) (pix.Image, *jpeg.Coefficients) {
		_, d, c := compress(t, m, qf, jpeg.Sub420)
		return d.Image, c
	}
	for _, tc := range []struct {
		name   string
		qfs    []int
		resave bool
	}{
		{"30", []int{30}, false},
		{"70", []int{70}, false},
		{"90", []int{90}, false},
		{"10>30", []int{10, 30}, true},
		{"30>70", []int{30, 70}, true},
		{"50>90", []int{50, 90}, true},
		{"90>50", []int{90, 50}, false}, // finer first: not seen, and projecting does no harm there
	} {
		m := src
		var c *jpeg.Coefficients
		for _, qf := range tc.qfs {
			m, c = once(m, qf)
		}
		score := DoubleQuantized(c)
		t.Logf("%s: %.4f", tc.name, score)
		if got := score > DoubleQuantizedAbove; got != tc.resave {
			t.Errorf("%s: score %.4f, re-saved %v, want %v", tc.name, score, got, tc.resave)
		}
	}
	if DoubleQuantized(&jpeg.Coefficients{}) != 0 {
		t.Error("no components: a score")
	}
}

// ShiftedGrid tells an image compressed on one grid and again on another (a crop between the
// saves) from one compressed once.
func TestShiftedGrid(t *testing.T) {
	// A smooth scene with edges and a little noise: photo()'s heavy noise would bury the earlier
	// grid's DC steps under the later compression's error, as little in photographs does.
	src := pix.New(320, 256, 3)
	r := rand.New(rand.NewSource(7))
	for y := 0; y < src.H; y++ {
		for x := 0; x < src.W; x++ {
			for k := 0; k < 3; k++ {
				v := 90 + 60*math.Sin(float64(x)/23+float64(k)) + 40*math.Cos(float64(y)/17) + r.Float64()*4
				if (x/29+y/37)%2 == 0 {
					v += 30
				}
				src.Pix[(y*src.W+x)*3+k] = uint8(max(0, min(255, v)))
			}
		}
	}
	save := func(m pix.Image, qf int) pix.Image {
		_, d, _ := compress(t, m, qf, jpeg.Sub420)
		return d.Image
	}
	crop := func(m pix.Image, dy, dx int) pix.Image {
		out := pix.New(m.W-dx, m.H-dy, m.C)
		for y := 0; y < out.H; y++ {
			copy(out.Pix[y*out.W*m.C:(y+1)*out.W*m.C], m.Pix[((y+dy)*m.W+dx)*m.C:])
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		img     pix.Image
		shifted bool
	}{
		{"50", save(src, 50), false},
		{"90", save(src, 90), false},
		{"30>70", save(save(src, 30), 70), false}, // the same grid: DoubleQuantized's case
		{"20>70@4", save(crop(save(src, 20), 4, 4), 70), true},
		{"50>90@3,5", save(crop(save(src, 50), 3, 5), 90), true},
	} {
		score := ShiftedGrid(tc.img)
		t.Logf("%s: %.3f", tc.name, score)
		if got := score > ShiftedGridAbove; got != tc.shifted {
			t.Errorf("%s: score %.3f, shifted %v, want %v", tc.name, score, got, tc.shifted)
		}
	}
	if ShiftedGrid(pix.New(12, 12, 3)) != 0 {
		t.Error("an image too small for a shifted block: a score")
	}
}

// BenchmarkShiftedGrid: the score of a 12 MP image (it samples 1024 blocks whatever the size).
func BenchmarkShiftedGrid(b *testing.B) {
	img, _, _ := benchImage(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ShiftedGrid(img)
	}
}
