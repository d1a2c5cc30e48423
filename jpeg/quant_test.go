package jpeg

import (
	"bytes"
	"fmt"
	stdjpeg "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// checkExact asserts that both tables of a file written at quality q are recognised exactly.
func checkExact(t *testing.T, data []byte, q int, baseline bool) {
	t.Helper()
	info, err := Parse(data, Limits{})
	if err != nil {
		t.Fatalf("Q%d: %v", q, err)
	}
	got := EstimateFileQuality(info)
	if got.Luma.Quality != q || got.Luma.Confidence != Exact {
		t.Errorf("Q%d: luma estimate %v", q, got.Luma)
	}
	if got.Chroma == nil || got.Chroma.Confidence != Exact {
		t.Fatalf("Q%d: chroma estimate %v", q, got.Chroma)
	}
	// Chroma tables of Q1 and Q2 coincide once clamped; the estimate must name an equal table.
	if IJGTable(Chroma, got.Chroma.Quality, got.Chroma.Baseline) != IJGTable(Chroma, q, baseline) {
		t.Errorf("Q%d: chroma estimate Q%d names a different table", q, got.Chroma.Quality)
	}
}

func TestEstimateQualityGoWriter(t *testing.T) {
	src := crop(stdlibPNG(t, "video-001.png"), 32, 32)
	for q := 1; q <= 100; q++ {
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, src.Std(), &stdjpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		checkExact(t, buf.Bytes(), q, true)
	}
}

func TestEstimateQualityCjpeg(t *testing.T) {
	in := encodePNM(crop(stdlibPNG(t, "video-001.png"), 16, 16))
	for _, baseline := range []bool{true, false} {
		for q := 1; q <= 100; q++ {
			args := []string{"-quality", fmt.Sprint(q)}
			if baseline {
				args = append(args, "-baseline")
			}
			checkExact(t, runTool(t, in, "cjpeg", args...), q, baseline)
		}
	}
}

// TestEstimateQualityPillow runs Debian's python3-pil (libjpeg, force_baseline), the encoder of the
// NTIRE 2024 challenge data.
func TestEstimateQualityPillow(t *testing.T) {
	py := needTool(t, "/usr/bin/python3")
	dir := t.TempDir()
	script := `
import sys
from PIL import Image
im = Image.linear_gradient("L").resize((24, 24)).convert("RGB")
for q in range(1, 101):
    im.save(f"{sys.argv[1]}/q{q}.jpg", quality=q)
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("Pillow (install python3-pil with `make setup`): %v\n%s", err, out)
	}
	for q := 1; q <= 100; q++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("q%d.jpg", q)))
		if err != nil {
			t.Fatal(err)
		}
		checkExact(t, data, q, true)
	}
}

func TestIJGTable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     TableKind
		q        int
		baseline bool
		want0    uint16 // DC entry
		wantMax  uint16
		prec     int
	}{
		{"luma-q50-is-annex-k", Luma, 50, true, 16, 121, 8},
		{"luma-q100-all-ones", Luma, 100, true, 1, 1, 8},
		{"luma-q1-baseline-clamped", Luma, 1, true, 255, 255, 8},
		{"luma-q1-unclamped", Luma, 1, false, 800, 6050, 16},
		{"luma-q10", Luma, 10, true, 80, 255, 8},
		{"chroma-q75", Chroma, 75, true, 9, 50, 8},
		{"out-of-range-clamps-to-100", Luma, 250, true, 1, 1, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := IJGTable(tc.kind, tc.q, tc.baseline)
			var mx uint16
			for _, v := range got.Values {
				mx = max(mx, v)
			}
			if got.Values[0] != tc.want0 || mx != tc.wantMax || got.Precision != tc.prec {
				t.Errorf("DC %d, max %d, precision %d; want %d, %d, %d", got.Values[0], mx, got.Precision, tc.want0, tc.wantMax, tc.prec)
			}
		})
	}
}

// TestEstimateQualityForeignTables: tables of other families get an equivalent quality and a
// confidence that says it is not exact.
func TestEstimateQualityForeignTables(t *testing.T) {
	flat := func(v uint16) *QuantTable {
		t := &QuantTable{Precision: 8}
		for i := range t.Values {
			t.Values[i] = v
		}
		return t
	}
	scaled := func(q int, f float64) *QuantTable {
		t := IJGTable(Luma, q, true)
		for i, v := range t.Values {
			t.Values[i] = uint16(max(1, float64(v)*f+0.5))
		}
		return &t
	}
	shuffled := func(q int) *QuantTable {
		t := IJGTable(Luma, q, true)
		for i := 0; i < 32; i++ {
			t.Values[i], t.Values[63-i] = t.Values[63-i], t.Values[i]
		}
		return &t
	}
	for _, tc := range []struct {
		name     string
		table    *QuantTable
		wantConf Confidence
		lo, hi   int
	}{
		{"flat-2-like-mozjpeg-high", flat(2), Equivalent, 90, 100},
		{"flat-40", flat(40), Equivalent, 60, 85}, // least squares weighs the large high-frequency steps
		{"ijg-q30-off-by-3pct", scaled(30, 1.03), Close, 28, 32},
		{"ijg-q80-times-1.3-is-about-q74", scaled(80, 1.3), Close, 73, 75},
		{"ijg-q50-shuffled", shuffled(50), Equivalent, 1, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EstimateQuality(tc.table, Luma)
			if got.Confidence != tc.wantConf || got.Quality < tc.lo || got.Quality > tc.hi {
				t.Errorf("EstimateQuality = %+v, want %s in Q%d..%d", got, tc.wantConf, tc.lo, tc.hi)
			}
		})
	}
}

func TestModelQTable(t *testing.T) {
	info, err := Parse(stdlibTestdata(t, "video-001.q50.420.jpeg"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v := ModelQTable(info)
	luma, chroma := info.LumaTable(), info.ChromaTable()
	for i := 0; i < 64; i++ {
		if v[i] != float32(luma.Values[i])/255 || v[64+i] != float32(chroma.Values[i])/255 {
			t.Fatalf("entry %d: got %v/%v", i, v[i], v[64+i])
		}
	}
	// Natural order: entry 1 is the first horizontal AC coefficient (zigzag index 1), entry 8 the
	// first vertical one (zigzag index 2); IJG Q50 luma has 11 and 12 there.
	if v[1]*255 != 11 || v[8]*255 != 12 {
		t.Errorf("natural order broken: v[1]=%v v[8]=%v", v[1]*255, v[8]*255)
	}
}
