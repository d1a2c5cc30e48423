package jpeg

import (
	"image/png"
	"testing"
)

// fuzzLimits keeps a fuzzed frame header from asking for a large allocation: the limit check is
// itself under test, and 4 MP bounds memory and time per input.
var fuzzLimits = Limits{MaxPixels: 4 << 20, MaxScans: 200}

func addSeeds(f *testing.F) {
	for _, name := range []string{
		"video-001.jpeg", "video-001.progressive.jpeg", "video-001.q50.420.jpeg", "video-001.restart2.jpeg",
		"video-001.cmyk.jpeg", "video-005.gray.q50.jpeg", "video-001.separate.dc.progression.progressive.jpeg",
	} {
		f.Add(stdlibTestdata(f, name))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xd8, 0xff, 0xd9})
}

// FuzzParse: Parse never panics, and what it accepts is self-consistent.
func FuzzParse(f *testing.F) {
	if testing.Short() {
		f.Skip("fuzzing in -short mode")
	}
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Parse(data, fuzzLimits)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if in.Width < 1 || in.Height < 1 || in.Pixels() > fuzzLimits.MaxPixels || in.Scans < 1 {
			t.Fatalf("accepted %dx%d with %d scans", in.Width, in.Height, in.Scans)
		}
		for _, c := range in.Components {
			if in.Tables[c.Table] == nil {
				t.Fatalf("component %d has no table", c.ID)
			}
		}
		EstimateFileQuality(in)
	})
}

// FuzzDecode: decoding never crashes; a decoded image has the size the header gave, it survives
// a PNG and a JPEG encode, and its coefficients read.
func FuzzDecode(f *testing.F) {
	if testing.Short() {
		f.Skip("fuzzing in -short mode")
	}
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(data, DecodeOptions{Limits: fuzzLimits, Lenient: true, ApplyOrientation: true})
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		w, h := d.Info.Width, d.Info.Height
		if d.Oriented && d.Info.Orientation >= 5 {
			w, h = h, w
		}
		if d.Image.W != w || d.Image.H != h || d.Image.Validate() != nil {
			t.Fatalf("decoded %dx%d for a %dx%d header", d.Image.W, d.Image.H, w, h)
		}
		if _, err := EncodeJPEG(d.Image, EncodeOptions{Quality: 50}); err != nil {
			t.Fatalf("JPEG re-encode: %v", err)
		}
		if _, err := EncodePNG(d.Image, Metadata{ICC: d.Info.ICC}, png.BestSpeed); err != nil {
			t.Fatalf("PNG encode: %v", err)
		}
		// What decodes has coefficients to read (for --qcs), or a typed error.
		c, err := ReadCoefficients(data, d.Info)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("untyped coefficients error %v", err)
			}
			return
		}
		if len(c.Components) != len(d.Info.Components) || c.Width != d.Info.Width || c.Height != d.Info.Height {
			t.Fatalf("coefficients %v for a %dx%d header with %d components", c, d.Info.Width, d.Info.Height, len(d.Info.Components))
		}
		for _, cc := range c.Components {
			if len(cc.Coef) != cc.BlocksW*cc.BlocksH*64 {
				t.Fatalf("%d coefficients for %dx%d blocks", len(cc.Coef), cc.BlocksW, cc.BlocksH)
			}
		}
	})
}
