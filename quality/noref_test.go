package quality

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/pix"
)

func TestNRScoreErrors(t *testing.T) {
	tests := []struct {
		name string
		img  Image
		want error
	}{
		{"invalid", Image{W: 16, H: 16, C: 1}, ErrInvalidImage},
		{"two channels", Image{W: 16, H: 16, C: 2, Pix: make([]uint8, 512)}, ErrInvalidImage},
		{"narrow", fill(15, 64, 1, 9), ErrTooSmall},
		{"short rgb", fill(64, 15, 3, 9), ErrTooSmall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NRScore(tt.img); !errors.Is(err, tt.want) {
				t.Errorf("NRScore error = %v, want %v", err, tt.want)
			}
			if _, err := Blockiness(tt.img); !errors.Is(err, tt.want) {
				t.Errorf("Blockiness error = %v, want %v", err, tt.want)
			}
		})
	}
}

// blockImage returns a gray w×h image of flat 8×8 blocks of different
// values: all of its changes are at the block grid.
func blockImage(w, h int) Image {
	m := pix.New(w, h, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Pix[y*w+x] = uint8(40*(x/8) + 20*(y/8))
		}
	}
	return m
}

// rampImage returns a gray w×h image rising by 3 per column.
func rampImage(w, h int) Image {
	m := pix.New(w, h, 1)
	for i := range m.Pix {
		m.Pix[i] = uint8(3 * (i % w))
	}
	return m
}

func TestNRDegenerate(t *testing.T) {
	// Scores with the features floored at 1e-3 (see NRScore).
	floorS := func(b, a, z float64) float64 {
		return nrAlpha + nrBeta*math.Pow(b, nrGamma1/1e4)*math.Pow(a, nrGamma2/1e4)*math.Pow(z, nrGamma3/1e4)
	}
	type result struct {
		Score      Score
		Blockiness float64
	}
	tests := []struct {
		name string
		img  Image
		want result
	}{
		{"flat gray", fill(32, 32, 1, 128), result{Score{S: floorS(1e-3, 1e-3, 1e-3)}, 1}},
		{"flat rgb", fill(17, 16, 3, 3), result{Score{S: floorS(1e-3, 1e-3, 1e-3)}, 1}},
		// B_h = A_h = 3, vertical features 0, no zero crossings.
		{"ramp", rampImage(32, 32), result{Score{S: floorS(1.5, 1.5, 1e-3), B: 1.5, A: 1.5}, 1}},
		// Horizontal: B_h = 40 over columns 7,15,23 of 32, A_h = (8·40·3/31 − 40)/7;
		// vertical: B_v = 20, A_v = (8·20·3/31 − 20)/7. A < 0, Z = 0.
		{"flat blocks", blockImage(32, 32), result{
			Score{
				S: floorS(30, 1e-3, 1e-3),
				B: 30,
				A: ((8*40*3.0/31-40)/7 + (8*20*3.0/31-20)/7) / 2,
			},
			math.Inf(1),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			var err error
			if got.Score, err = NRScore(tt.img); err != nil {
				t.Fatal(err)
			}
			if got.Blockiness, err = Blockiness(tt.img); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if math.IsNaN(got.Score.S) || math.IsInf(got.Score.S, 0) {
				t.Errorf("S = %v, want finite", got.Score.S)
			}
		})
	}
}

// stdImage converts an Image to a Go image for the JPEG encoder.
func stdImage(m Image) image.Image {
	r := image.Rect(0, 0, m.W, m.H)
	if m.C == 1 {
		g := image.NewGray(r)
		copy(g.Pix, m.Pix)
		return g
	}
	c := image.NewRGBA(r)
	for i := 0; i < m.W*m.H; i++ {
		copy(c.Pix[4*i:4*i+3], m.Pix[3*i:3*i+3])
		c.Pix[4*i+3] = 0xff
	}
	return c
}

// jpegRoundTrip compresses m with Go's image/jpeg at quality q and decodes
// it again.
func jpegRoundTrip(t *testing.T, m Image, q int) Image {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, stdImage(m), &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	d, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return pix.FromStd(d)
}

// TestRankingByQuality checks that every metric orders JPEG versions of a
// natural-looking image by quality factor: NRScore.S, PSNR, SSIM and PSNR-B
// rise and Blockiness falls from quality 10 to 30 to 70.
func TestRankingByQuality(t *testing.T) {
	qualities := []int{10, 30, 70}
	for _, name := range []string{"natural_gray.png", "rgb_ref.png"} {
		t.Run(name, func(t *testing.T) {
			src := loadPNG(t, name)
			type row struct{ S, Blockiness, PSNR, SSIM, PSNRB float64 }
			rows := make([]row, len(qualities))
			for i, q := range qualities {
				d := jpegRoundTrip(t, src, q)
				sc, err := NRScore(d)
				if err != nil {
					t.Fatal(err)
				}
				r := row{S: sc.S}
				r.Blockiness, _ = Blockiness(d)
				r.PSNR, _ = PSNR(src, d)
				r.SSIM, _ = SSIM(src, d)
				r.PSNRB, _ = PSNRB(src, d)
				rows[i] = r
				t.Logf("quality %d: %+v", q, r)
			}
			for i := 1; i < len(rows); i++ {
				lo, hi := rows[i-1], rows[i]
				what := fmt.Sprintf("quality %d -> %d", qualities[i-1], qualities[i])
				if !(hi.S > lo.S) {
					t.Errorf("%s: NRScore.S %v -> %v, want increase", what, lo.S, hi.S)
				}
				if !(hi.Blockiness < lo.Blockiness) {
					t.Errorf("%s: Blockiness %v -> %v, want decrease", what, lo.Blockiness, hi.Blockiness)
				}
				if !(hi.PSNR > lo.PSNR && hi.SSIM > lo.SSIM && hi.PSNRB > lo.PSNRB) {
					t.Errorf("%s: PSNR/SSIM/PSNR-B %+v -> %+v, want increase", what, lo, hi)
				}
			}
		})
	}
}
