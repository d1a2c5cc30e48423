package jpeg

import (
	"errors"
	"slices"
	"testing"

	"jpegrestore/pix"
)

func readCoefficients(t *testing.T, data []byte) *Coefficients {
	t.Helper()
	info, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadCoefficients(data, info)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A flat image has only DC coefficients: (value−128)·8 in quantization steps of the DC entry.
func TestReadCoefficientsFlat(t *testing.T) {
	m := pix.New(40, 24, 1)
	for i := range m.Pix {
		m.Pix[i] = 200
	}
	data, err := EncodeJPEG(m, EncodeOptions{Quality: 50})
	if err != nil {
		t.Fatal(err)
	}
	c := readCoefficients(t, data)
	if c.ColorSpace != ColorGray || len(c.Components) != 1 || c.Width != 40 || c.Height != 24 {
		t.Fatalf("got %v", c)
	}
	cc := c.Components[0]
	if cc.BlocksW != 5 || cc.BlocksH != 3 || cc.Quant[0] != 16 {
		t.Fatalf("%dx%d blocks, DC step %d; want 5x3 blocks, step 16 (IJG's table at quality 50)", cc.BlocksW, cc.BlocksH, cc.Quant[0])
	}
	want := int16((200 - 128) * 8 / 16)
	for by := 0; by < cc.BlocksH; by++ {
		for bx := 0; bx < cc.BlocksW; bx++ {
			b := cc.Block(bx, by)
			if b[0] != want || slices.IndexFunc(b[1:], func(v int16) bool { return v != 0 }) >= 0 {
				t.Fatalf("block (%d,%d) = %v, want DC %d and nothing else", bx, by, b, want)
			}
		}
	}
}

// Go's test images: every sampling, progressive files with the same coefficients as their
// baseline twins, sizes in blocks as libjpeg rounds them.
func TestReadCoefficientsSamplings(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cs                   ColorSpace
		lumaH, lumaV, chroma int // chroma: blocks across per luma block across, as a divisor
	}{
		{"video-001.q50.420", ColorYCbCr, 2, 2, 2},
		{"video-001.q50.422", ColorYCbCr, 2, 1, 2},
		{"video-001.q50.440", ColorYCbCr, 1, 2, 1},
		{"video-001.q50.444", ColorYCbCr, 1, 1, 1},
		{"video-001.q50.411", ColorYCbCr, 4, 1, 4},
		{"video-001.q50.410", ColorYCbCr, 4, 2, 4},
		{"video-005.gray.q50", ColorGray, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := readCoefficients(t, stdlibTestdata(t, tc.name+".jpeg"))
			prog := readCoefficients(t, stdlibTestdata(t, tc.name+".progressive.jpeg"))
			if base.ColorSpace != tc.cs || base.MaxH != tc.lumaH || base.MaxV != tc.lumaV {
				t.Fatalf("%s, max sampling %dx%d", base.ColorSpace, base.MaxH, base.MaxV)
			}
			y := base.Components[0]
			if y.BlocksW != (base.Width+7)/8 || y.BlocksH != (base.Height+7)/8 {
				t.Errorf("luma %dx%d blocks for %dx%d", y.BlocksW, y.BlocksH, base.Width, base.Height)
			}
			if len(base.Components) == 3 {
				if cw := (base.Width + 8*tc.chroma - 1) / (8 * tc.chroma); base.Components[1].BlocksW != cw {
					t.Errorf("chroma %d blocks across, want %d", base.Components[1].BlocksW, cw)
				}
			}
			for i := range base.Components {
				b, p := base.Components[i], prog.Components[i]
				if b.Quant != p.Quant || !slices.Equal(b.Coef, p.Coef) {
					t.Errorf("component %d: progressive coefficients differ from baseline", i)
				}
			}
		})
	}
}

func TestReadCoefficientsErrors(t *testing.T) {
	data := stdlibTestdata(t, "video-001.q50.420.jpeg")
	info, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// The markers of one file, the bytes of another: libjpeg sees other sizes.
	other := stdlibTestdata(t, "video-005.gray.q50.jpeg")
	if _, err := ReadCoefficients(other, info); !errors.Is(err, ErrCorrupt) {
		t.Errorf("mismatched markers: %v, want corrupt", err)
	}
	broken := slices.Clone(data[:200])
	if _, err := ReadCoefficients(broken, info); err == nil {
		t.Error("a file cut inside its tables: no error")
	}
	empty := *info
	empty.Width = 0
	if _, err := ReadCoefficients(data, &empty); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a 0-wide frame: %v, want corrupt", err)
	}
	twelve := *info
	twelve.Precision = 12
	if _, err := ReadCoefficients(data, &twelve); !errors.Is(err, ErrUnsupported) {
		t.Errorf("12-bit: %v, want unsupported", err)
	}
	// A file cut inside its entropy data reads (the rest is zero), as Decode reads it leniently.
	cut := data[:len(data)*2/3]
	if _, err := ReadCoefficients(cut, info); err != nil {
		t.Errorf("truncated entropy data: %v", err)
	}
}
