package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	stdjpeg "image/jpeg"
	"testing"

	"jpegrestore/pix"
)

// parityCase is one file of the djpeg parity corpus.
type parityCase struct {
	name string
	data []byte
	want string // Info summary: size, color space, subsampling, process
}

// parityCorpus covers what the decoder must match djpeg on: Go's own corpus (every subsampling,
// progressive, restart markers, separate DC progression, gray) plus files cjpeg writes here from
// a test photo at odd sizes: arithmetic coding, 16-bit quantization tables, restart markers,
// RGB colour space, 4:1:1 and 4:4:0.
func parityCorpus(t *testing.T) []parityCase {
	var cases []parityCase
	for _, name := range []string{
		"video-001.jpeg", "video-001.progressive.jpeg", "video-001.221212.jpeg", "video-001.rgb.jpeg",
		"video-001.restart2.jpeg", "video-001.separate.dc.progression.jpeg",
		"video-001.separate.dc.progression.progressive.jpeg",
		"video-001.q50.410.jpeg", "video-001.q50.410.progressive.jpeg",
		"video-001.q50.411.jpeg", "video-001.q50.411.progressive.jpeg",
		"video-001.q50.420.jpeg", "video-001.q50.420.progressive.jpeg",
		"video-001.q50.422.jpeg", "video-001.q50.422.progressive.jpeg",
		"video-001.q50.440.jpeg", "video-001.q50.440.progressive.jpeg",
		"video-001.q50.444.jpeg", "video-001.q50.444.progressive.jpeg",
		"video-005.gray.jpeg", "video-005.gray.q50.jpeg", "video-005.gray.q50.2x2.jpeg",
		"video-005.gray.q50.progressive.jpeg",
		// Progressive with its later scans cut but a proper EOI: valid, decodes to a coarser image.
		"video-001.progressive.truncated.jpeg",
	} {
		cases = append(cases, parityCase{name: "go/" + name, data: stdlibTestdata(t, name)})
	}
	src := stdlibPNG(t, "video-001.png") // 150×103
	for _, c := range []struct {
		name string
		w, h int
		args []string
		want string
	}{
		{"baseline-420-odd", 151, 97, []string{"-baseline", "-quality", "30"}, "151x97 ycbcr 4:2:0 baseline"},
		{"baseline-444", 77, 45, []string{"-baseline", "-quality", "50", "-sample", "1x1"}, "77x45 ycbcr 4:4:4 baseline"},
		{"baseline-422", 99, 41, []string{"-baseline", "-quality", "70", "-sample", "2x1"}, "99x41 ycbcr 4:2:2 baseline"},
		{"baseline-440", 63, 61, []string{"-baseline", "-quality", "40", "-sample", "1x2"}, "63x61 ycbcr 4:4:0 baseline"},
		{"baseline-411", 67, 33, []string{"-baseline", "-quality", "60", "-sample", "4x1"}, "67x33 ycbcr 4:1:1 baseline"},
		{"progressive-420", 150, 103, []string{"-progressive", "-quality", "20"}, "150x103 ycbcr 4:2:0 progressive"},
		{"arithmetic-420", 129, 65, []string{"-arithmetic", "-quality", "40"}, "129x65 ycbcr 4:2:0 extended arithmetic"},
		{"arithmetic-progressive", 101, 99, []string{"-arithmetic", "-progressive", "-quality", "50"}, "101x99 ycbcr 4:2:0 progressive arithmetic"},
		{"16bit-tables-q5", 93, 71, []string{"-quality", "5"}, "93x71 ycbcr 4:2:0 extended"},
		{"16bit-tables-q12-progressive", 93, 71, []string{"-quality", "12", "-progressive"}, "93x71 ycbcr 4:2:0 progressive"},
		{"restart-every-row", 150, 103, []string{"-baseline", "-quality", "30", "-restart", "1"}, "150x103 ycbcr 4:2:0 baseline"},
		{"restart-every-3-blocks", 150, 103, []string{"-baseline", "-quality", "80", "-restart", "3B"}, "150x103 ycbcr 4:2:0 baseline"},
		{"rgb-colorspace", 45, 37, []string{"-baseline", "-rgb", "-quality", "75"}, "45x37 rgb 4:4:4 baseline"},
		{"gray", 71, 53, []string{"-baseline", "-grayscale", "-quality", "25"}, "71x53 gray gray baseline"},
		{"gray-progressive", 71, 53, []string{"-grayscale", "-progressive", "-quality", "10"}, "71x53 gray gray progressive"},
		{"tiny-1x1", 1, 1, []string{"-baseline", "-quality", "10"}, "1x1 ycbcr 4:2:0 baseline"},
		{"thin-3x200", 3, 200, []string{"-baseline", "-quality", "10"}, "3x200 ycbcr 4:2:0 baseline"},
		{"q100", 40, 24, []string{"-baseline", "-quality", "100"}, "40x24 ycbcr 4:2:0 baseline"},
	} {
		in := encodePNM(crop(src, c.w, c.h))
		data := runTool(t, in, "cjpeg", c.args...)
		cases = append(cases, parityCase{name: "cjpeg/" + c.name, data: data, want: c.want})
	}
	return cases
}

// TestDecodeMatchesDjpeg checks the decode path the model is trained on: every file of the corpus
// decodes to exactly djpeg's pixels (ISLOW IDCT, fancy upsampling), zero tolerance.
func TestDecodeMatchesDjpeg(t *testing.T) {
	for _, tc := range parityCorpus(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.data, DecodeOptions{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tc.want != "" && got.Info.String() != tc.want {
				t.Errorf("Info = %q, want %q", got.Info.String(), tc.want)
			}
			want, err := decodePNM(runTool(t, tc.data, "djpeg", "-pnm"))
			if err != nil {
				t.Fatalf("reading djpeg output: %v", err)
			}
			if !pix.SameShape(want, got.Image) {
				t.Fatalf("shape %dx%dx%d, djpeg gives %dx%dx%d", got.Image.W, got.Image.H, got.Image.C, want.W, want.H, want.C)
			}
			if n, maxd := diffStats(want, got.Image); n != 0 {
				t.Errorf("%d samples differ from djpeg (max |diff| %d)", n, maxd)
			}
		})
	}
}

// TestDecodeBeatsGoImage documents why image/jpeg is not on the restore path: it differs from
// libjpeg on chroma-subsampled files.
func TestDecodeDiffersFromGoImage(t *testing.T) {
	data := stdlibTestdata(t, "video-001.q50.420.jpeg")
	got, err := Decode(data, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := diffStats(pix.FromStd(g), got.Image); n == 0 {
		t.Errorf("image/jpeg and libjpeg agree on every sample of a 4:2:0 file; expected fancy upsampling to differ")
	}
}

// TestDecodeCMYK checks the documented naive conversion against Go's image/jpeg, which applies the
// same formula to its own (slightly different) IDCT output.
func TestDecodeCMYK(t *testing.T) {
	data := stdlibTestdata(t, "video-001.cmyk.jpeg")
	got, err := Decode(data, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Image.C != 3 || got.Info.ColorSpace != ColorCMYK && got.Info.ColorSpace != ColorYCCK {
		t.Fatalf("got %d channels, colour space %s", got.Image.C, got.Info.ColorSpace)
	}
	g, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ref := pix.FromStd(g)
	var sum float64
	_, maxd := diffStats(ref, got.Image)
	for i := range ref.Pix {
		d := float64(ref.Pix[i]) - float64(got.Image.Pix[i])
		sum += d * d
	}
	// IDCT and upsampling differences only: a wrong inversion would be off by ~128 on average.
	if rms := sum / float64(len(ref.Pix)); rms > 4 || maxd > 40 {
		t.Errorf("CMYK→RGB differs from image/jpeg: mean squared %.2f, max %d", rms, maxd)
	}
	inv, err := Decode(data, DecodeOptions{CMYK: CMYKPlain})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := diffStats(inv.Image, got.Image); n == 0 {
		t.Error("CMYKPlain gave the same pixels as the Adobe-inverted default")
	}
}

func TestDecodeOrientation(t *testing.T) {
	src := crop(stdlibPNG(t, "video-001.png"), 48, 32)
	for o := 1; o <= 8; o++ {
		t.Run(fmt.Sprint("orientation-", o), func(t *testing.T) {
			data, err := EncodeJPEG(src, EncodeOptions{Quality: 90, Metadata: Metadata{EXIF: tiffWithOrientation(o)}})
			if err != nil {
				t.Fatal(err)
			}
			plain, err := Decode(data, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if plain.Info.Orientation != o {
				t.Fatalf("Orientation = %d, want %d", plain.Info.Orientation, o)
			}
			got, err := Decode(data, DecodeOptions{ApplyOrientation: true})
			if err != nil {
				t.Fatal(err)
			}
			want := Orient(plain.Image, o)
			if n, _ := diffStats(want, got.Image); n != 0 || !pix.SameShape(want, got.Image) {
				t.Errorf("ApplyOrientation differs from Orient(stored, %d)", o)
			}
			if wantSwap := o >= 5; (got.Image.W == 32) != wantSwap {
				t.Errorf("upright size %dx%d for orientation %d", got.Image.W, got.Image.H, o)
			}
		})
	}
}

// TestDecodeErrors feeds damaged and unsupported files; each must fail with its typed kind.
func TestDecodeErrors(t *testing.T) {
	good := stdlibTestdata(t, "video-001.jpeg")
	sof := bytes.Index(good, []byte{0xff, mSOF0})
	patch := func(off int, b ...byte) []byte {
		d := append([]byte(nil), good...)
		copy(d[off:], b)
		return d
	}
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrNotJPEG},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), Limits{}, ErrNotJPEG},
		{"soi-only", []byte{0xff, 0xd8}, Limits{}, ErrTruncated},
		{"truncated-in-header", good[:sof+5], Limits{}, ErrTruncated},
		{"truncated-in-scan", good[:len(good)/2], Limits{}, ErrTruncated},
		{"lossless", patch(sof+1, mSOF3), Limits{}, ErrUnsupported},
		{"hierarchical", patch(sof+1, mSOF5), Limits{}, ErrUnsupported},
		{"12-bit", patch(sof+4, 12), Limits{}, ErrUnsupported},
		{"zero-width", patch(sof+7, 0, 0), Limits{}, ErrCorrupt},
		{"zero-height", patch(sof+5, 0, 0), Limits{}, ErrUnsupported},
		{"over-default-limit", patch(sof+5, 0xff, 0xff, 0xff, 0xff), Limits{}, ErrTooLarge},
		{"over-set-limit", good, Limits{MaxPixels: 150*103 - 1}, ErrTooLarge},
		{"bad-sampling", patch(sof+11, 0x51), Limits{}, ErrCorrupt},
		{"no-eoi-marker", append(append([]byte(nil), good[:len(good)-2]...), 0xff, 0xff), Limits{}, ErrTruncated},
		{"garbage-between-segments", patch(sof, 0x00), Limits{}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data, DecodeOptions{Limits: tc.lim})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want kind %v", err, tc.want)
			}
			if Reason(err) == "" {
				t.Errorf("Reason(%v) is empty", err)
			}
		})
	}
}

// TestDecodeDamagedEntropyData flips bytes inside the scan: libjpeg decodes around the damage with
// a warning, which is an error by default and a warning in Lenient mode.
func TestDecodeDamagedEntropyData(t *testing.T) {
	good := stdlibTestdata(t, "video-001.jpeg")
	sos := bytes.Index(good, []byte{0xff, mSOS})
	d := append([]byte(nil), good...)
	for i := sos + 200; i < sos+260; i++ {
		if d[i] != 0xff && d[i]^0x5a != 0xff {
			d[i] ^= 0x5a
		}
	}
	_, err := Decode(d, DecodeOptions{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("strict Decode error = %v, want corrupt", err)
	}
	got, err := Decode(d, DecodeOptions{Lenient: true})
	if err != nil {
		t.Fatalf("lenient Decode: %v", err)
	}
	if len(got.Warnings) == 0 || got.Image.W != 150 {
		t.Errorf("lenient Decode: %d warnings, width %d", len(got.Warnings), got.Image.W)
	}
}

func BenchmarkDecode12MP(b *testing.B) {
	src := crop(stdlibPNG(b, "video-001.png"), 4000, 3000)
	data, err := EncodeJPEG(src, EncodeOptions{Quality: 85, Subsampling: Sub420})
	if err != nil {
		b.Fatal(err)
	}
	mp := float64(4000*3000) / 1e6
	report := func(b *testing.B) {
		b.ReportMetric(mp*float64(b.N)/b.Elapsed().Seconds(), "MP/s")
	}
	b.Run("libjpeg-turbo", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Decode(data, DecodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("go-image-jpeg", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := stdjpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}
