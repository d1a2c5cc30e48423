package quality

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"jpegrestore/pix"
)

// approx compares float64s to 1e-12 relative (hand-computed expectations).
var approx = cmpopts.EquateApprox(1e-12, 0)

// synthImage returns a deterministic w×h image with c channels: smooth
// gradients plus pseudo-random texture from a fixed LCG.
func synthImage(w, h, c int, seed uint32) Image {
	m := pix.New(w, h, c)
	s := seed
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for k := 0; k < c; k++ {
				s = s*1664525 + 1013904223
				v := 40 + 150*float64(x)/float64(w) + 50*float64(y)/float64(h) + 20*float64(k) + float64(s>>27)
				m.Pix[(y*w+x)*c+k] = uint8(min(v, 255))
			}
		}
	}
	return m
}

// distort returns a copy of m with every sample moved by a small
// deterministic amount, clamped to 0..255.
func distort(m Image, seed uint32) Image {
	out := Image{W: m.W, H: m.H, C: m.C, Pix: make([]uint8, len(m.Pix))}
	s := seed
	for i, v := range m.Pix {
		s = s*1664525 + 1013904223
		d := int(s>>28) - 8
		out.Pix[i] = uint8(max(0, min(255, int(v)+d)))
	}
	return out
}

// fill returns a w×h image with c channels, all samples v.
func fill(w, h, c int, v uint8) Image {
	m := pix.New(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = v
	}
	return m
}

type pairMetric struct {
	name string
	f    func(ref, dist Image) (float64, error)
	min  int // smallest accepted side
}

var pairMetrics = []pairMetric{
	{"PSNR", PSNR, 1},
	{"SSIM", SSIM, 11},
	{"PSNRB", PSNRB, 9},
	{"PSNRBPerChannel", PSNRBPerChannel, 16},
}

func TestPairErrors(t *testing.T) {
	rgb := synthImage(32, 24, 3, 1)
	tests := []struct {
		name      string
		ref, dist Image
		want      error
	}{
		{"width mismatch", rgb, synthImage(31, 24, 3, 1), ErrMismatch},
		{"height mismatch", rgb, synthImage(32, 25, 3, 1), ErrMismatch},
		{"gray vs rgb", synthImage(32, 24, 1, 1), rgb, ErrMismatch},
		{"rgb vs gray", rgb, synthImage(32, 24, 1, 1), ErrMismatch},
		{"invalid ref", Image{W: 32, H: 24, C: 3}, rgb, ErrInvalidImage},
		{"invalid dist", rgb, Image{W: 32, H: 24, C: 3, Pix: rgb.Pix[1:]}, ErrInvalidImage},
		{"zero images", Image{}, Image{}, ErrInvalidImage},
	}
	for _, m := range pairMetrics {
		for _, tt := range tests {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				got, err := m.f(tt.ref, tt.dist)
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s() = %v, %v; want error %v", m.name, got, err, tt.want)
				}
			})
		}
	}
}

func TestPairMinSize(t *testing.T) {
	for _, m := range pairMetrics {
		for _, c := range []int{1, 3} {
			ok := synthImage(m.min, m.min+3, c, 2)
			if _, err := m.f(ok, distort(ok, 3)); err != nil {
				t.Errorf("%s(%dx%dx%d) = %v, want no error", m.name, ok.W, ok.H, c, err)
			}
			if m.min == 1 {
				continue
			}
			for _, small := range []Image{synthImage(m.min-1, 40, c, 2), synthImage(40, m.min-1, c, 2)} {
				if _, err := m.f(small, small); !errors.Is(err, ErrTooSmall) {
					t.Errorf("%s(%dx%dx%d) error = %v, want ErrTooSmall", m.name, small.W, small.H, c, err)
				}
			}
		}
	}
}

func TestIdenticalImages(t *testing.T) {
	inf := math.Inf(1)
	type result struct{ PSNR, SSIM, PSNRB, PSNRBPerChannel float64 }
	tests := []struct {
		name string
		img  Image
		want result
	}{
		// Without excess steps at the block grid the BEF is 0, so PSNR-B is
		// infinite too.
		{"flat gray", fill(24, 16, 1, 77), result{inf, 1, inf, inf}},
		{"flat rgb", fill(24, 16, 3, 200), result{inf, 1, inf, inf}},
		{"black rgb", fill(16, 16, 3, 0), result{inf, 1, inf, inf}},
		// A vertical edge exactly on the block grid: the image's own BEF
		// makes FBCNN's PSNR-B finite even against itself.
		// BEF = log2(8)/log2(16) · (D_B/N_B − 0) with D_B = 16·100², N_B = 16·1 + 16·1.
		{"edge on grid", edgeImage(16, 16, 8), result{inf, 1, 20 * math.Log10(255/math.Sqrt(0.75*16*1e4/32)), 10 * math.Log10(1/(0.75*16*math.Pow(100.0/255, 2)/32))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			var err error
			fs := []*float64{&got.PSNR, &got.SSIM, &got.PSNRB, &got.PSNRBPerChannel}
			for i, m := range pairMetrics {
				if *fs[i], err = m.f(tt.img, tt.img); err != nil {
					t.Fatalf("%s: %v", m.name, err)
				}
			}
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("identical images (-want +got):\n%s", diff)
			}
		})
	}
}

// edgeImage returns a gray w×h image that is 50 left of column x0 and 150
// from column x0 on.
func edgeImage(w, h, x0 int) Image {
	m := fill(w, h, 1, 50)
	for y := 0; y < h; y++ {
		for x := x0; x < w; x++ {
			m.Pix[y*w+x] = 150
		}
	}
	return m
}

func TestPSNRKnownValues(t *testing.T) {
	tests := []struct {
		name      string
		ref, dist Image
		want      float64
	}{
		// one of 16 samples off by 16: MSE = 16
		{"one sample", fill(4, 4, 1, 0), func() Image { m := fill(4, 4, 1, 0); m.Pix[5] = 16; return m }(), 20 * math.Log10(255.0/4)},
		// all samples off by 1: MSE = 1
		{"all off by one rgb", fill(5, 3, 3, 10), fill(5, 3, 3, 11), 20 * math.Log10(255)},
		{"black vs white", fill(2, 2, 1, 0), fill(2, 2, 1, 255), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PSNR(tt.ref, tt.dist)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("PSNR (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProperties(t *testing.T) {
	for _, c := range []int{1, 3} {
		ref := synthImage(45, 37, c, 11)
		dist := distort(ref, 12)
		p, _ := PSNR(ref, dist)
		pr, _ := PSNR(dist, ref)
		s, _ := SSIM(ref, dist)
		sr, _ := SSIM(dist, ref)
		pb, _ := PSNRB(ref, dist)
		pbc, _ := PSNRBPerChannel(ref, dist)
		if p != pr || s != sr {
			t.Errorf("C=%d: PSNR/SSIM not symmetric: %v/%v, %v/%v", c, p, pr, s, sr)
		}
		if !(s > 0 && s < 1) {
			t.Errorf("C=%d: SSIM = %v, want in (0, 1)", c, s)
		}
		if !(pb <= p) || math.IsInf(pb, 0) || math.IsNaN(pbc) {
			t.Errorf("C=%d: PSNR-B = %v (per channel %v), want finite and <= PSNR %v", c, pb, pbc, p)
		}
	}
}

func TestGaussianKernel(t *testing.T) {
	k := gaussianKernel(11, 1.5)
	sum := 0.0
	for i, v := range k {
		sum += v
		if v != k[len(k)-1-i] {
			t.Errorf("kernel not symmetric at %d: %v vs %v", i, v, k[len(k)-1-i])
		}
	}
	// Reference values: cv2.getGaussianKernel(11, 1.5)[5] and [0].
	got := []float64{sum, k[5], k[0]}
	want := []float64{1, 0.2660117248617943, 0.0010283800844791097}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(1e-12, 1e-15)); diff != "" {
		t.Errorf("kernel (-want +got):\n%s", diff)
	}
}

func TestFBCNNLuma(t *testing.T) {
	// Exact ties (value k+0.5) are rounded half to even; see fbcnnLuma.
	img := Image{W: 7, H: 1, C: 3, Pix: []uint8{
		0, 0, 0, // 16
		255, 255, 255, // 235
		255, 0, 0, // 81.481 -> 81
		35, 47, 39, // 52.5 -> 52
		41, 187, 48, // 125.5 -> 126
		11, 205, 34, // 125.5 -> 126
		253, 211, 114, // 198.5 -> 198
	}}
	want := []uint8{16, 235, 81, 52, 126, 126, 198}
	if diff := cmp.Diff(want, fbcnnLuma(img)); diff != "" {
		t.Errorf("fbcnnLuma (-want +got):\n%s", diff)
	}
}

func TestFBCNNBEFFractionalCounts(t *testing.T) {
	// 12×9 gray, one step of 10 between columns 7 and 8 (a block boundary):
	// D_B = 9·100; N_B = 9·(12/8−1) + 12·(9/8−1) = 4.5 + 1.5 = 6 (FBCNN
	// divides with fractions), D_BC = 0, η = 3/log2(9).
	m := fill(12, 9, 1, 100)
	for y := 0; y < 9; y++ {
		for x := 8; x < 12; x++ {
			m.Pix[y*12+x] = 110
		}
	}
	want := 3 / math.Log2(9) * 900 / 6
	if diff := cmp.Diff(want, fbcnnBEF(m.Pix, 12, 9), approx); diff != "" {
		t.Errorf("fbcnnBEF (-want +got):\n%s", diff)
	}
}
