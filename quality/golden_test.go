package quality

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"jpegrestore/pix"
)

// goldenTol is the relative tolerance against testdata/golden.json. The
// reference values come from numpy/OpenCV (testdata/gen_golden.py); they
// differ from this package only by float64 rounding: summation order
// (numpy's pairwise sums, OpenCV's DFT-based filter2D for the 11×11 SSIM
// window versus a direct separable filter here) and libm's log/pow. Those
// differences are around 1e-12 relative; 1e-6 leaves ample room while still
// catching any change in a formula, window, count or constant.
const goldenTol = 1e-6

// goldenFloat is a float64 that also accepts the JSON strings "inf" and
// "-inf", which gen_golden.py writes for infinite values.
type goldenFloat float64

func (f *goldenFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"inf"`:
		*f = goldenFloat(math.Inf(1))
		return nil
	case `"-inf"`:
		*f = goldenFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = goldenFloat(v)
	return nil
}

type goldenFile struct {
	Pairs []struct {
		Ref, Dist       string
		PSNR            goldenFloat `json:"psnr"`
		SSIM            goldenFloat `json:"ssim"`
		PSNRB           goldenFloat `json:"psnrb"`
		PSNRBPerChannel goldenFloat `json:"psnrb_per_channel"`
	}
	Single []struct {
		Img        string
		S, B, A, Z goldenFloat
		Blockiness goldenFloat `json:"blockiness"`
	}
}

func loadGolden(t testing.TB) goldenFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("golden.json: %v", err)
	}
	if len(g.Pairs) == 0 || len(g.Single) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return g
}

// loadPNG reads testdata/name into an Image.
func loadPNG(t testing.TB, name string) Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return pix.FromStd(m)
}

func TestGoldenFullReference(t *testing.T) {
	g := loadGolden(t)
	type metrics struct{ PSNR, SSIM, PSNRB, PSNRBPerChannel float64 }
	for _, p := range g.Pairs {
		t.Run(fmt.Sprintf("%s_vs_%s", p.Ref, p.Dist), func(t *testing.T) {
			ref, dist := loadPNG(t, p.Ref), loadPNG(t, p.Dist)
			want := metrics{float64(p.PSNR), float64(p.SSIM), float64(p.PSNRB), float64(p.PSNRBPerChannel)}
			var got metrics
			var err error
			if got.PSNR, err = PSNR(ref, dist); err != nil {
				t.Fatal(err)
			}
			if got.SSIM, err = SSIM(ref, dist); err != nil {
				t.Fatal(err)
			}
			if got.PSNRB, err = PSNRB(ref, dist); err != nil {
				t.Fatal(err)
			}
			if got.PSNRBPerChannel, err = PSNRBPerChannel(ref, dist); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateApprox(goldenTol, 0)); diff != "" {
				t.Errorf("metrics mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoldenNoReference(t *testing.T) {
	g := loadGolden(t)
	type result struct {
		Score      Score
		Blockiness float64
	}
	for _, s := range g.Single {
		t.Run(s.Img, func(t *testing.T) {
			img := loadPNG(t, s.Img)
			want := result{
				Score:      Score{S: float64(s.S), B: float64(s.B), A: float64(s.A), Z: float64(s.Z)},
				Blockiness: float64(s.Blockiness),
			}
			var got result
			var err error
			if got.Score, err = NRScore(img); err != nil {
				t.Fatal(err)
			}
			if got.Blockiness, err = Blockiness(img); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateApprox(goldenTol, 0)); diff != "" {
				t.Errorf("NR mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
