package jpeg

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image/png"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/pix"
)

func TestEncodeJPEG(t *testing.T) {
	src := crop(stdlibPNG(t, "video-001.png"), 97, 61)
	gray := pix.New(33, 17, 1)
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	for _, tc := range []struct {
		name    string
		img     pix.Image
		opt     EncodeOptions
		wantSub string
		wantQ   int
	}{
		{"default-q95-444", src, EncodeOptions{}, "4:4:4", 95},
		{"q30-420", src, EncodeOptions{Quality: 30, Subsampling: Sub420}, "4:2:0", 30},
		{"q70-422", src, EncodeOptions{Quality: 70, Subsampling: Sub422}, "4:2:2", 70},
		{"gray-q50", gray, EncodeOptions{Quality: 50, Subsampling: Sub420}, "gray", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := EncodeJPEG(tc.img, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Info.Subsampling() != tc.wantSub || !pix.SameShape(got.Image, tc.img) {
				t.Errorf("got %s %dx%dx%d", got.Info.Subsampling(), got.Image.W, got.Image.H, got.Image.C)
			}
			if q := EstimateFileQuality(got.Info).Luma; q.Quality != tc.wantQ || q.Confidence != Exact {
				t.Errorf("quality %v, want exact Q%d", q, tc.wantQ)
			}
		})
	}
	for _, tc := range []struct {
		name string
		img  pix.Image
		opt  EncodeOptions
	}{
		{"empty", pix.New(0, 0, 3), EncodeOptions{}},
		{"bad-buffer", pix.Image{W: 4, H: 4, C: 3, Pix: make([]byte, 5)}, EncodeOptions{}},
		{"quality-101", src, EncodeOptions{Quality: 101}},
		{"exif-too-big", src, EncodeOptions{Metadata: Metadata{EXIF: make([]byte, 70000)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EncodeJPEG(tc.img, tc.opt); !errors.Is(err, ErrEncode) {
				t.Errorf("error %v, want encode_failed", err)
			}
		})
	}
}

// pngChunks returns the chunk types in order and the data of each, checking every CRC through
// image/png's own decode.
func pngChunks(t *testing.T, data []byte) ([]string, map[string][]byte) {
	t.Helper()
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("image/png rejects the output: %v", err)
	}
	var types []string
	chunks := map[string][]byte{}
	for p := 8; p+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		types = append(types, typ)
		chunks[typ] = data[p+8 : p+8+n]
		p += 12 + n
	}
	return types, chunks
}

func TestEncodePNG(t *testing.T) {
	src := crop(stdlibPNG(t, "video-001.png"), 31, 17)
	icc := bytes.Repeat([]byte("profile"), 300)
	exif := tiffWithOrientation(1)
	data, err := EncodePNG(src, Metadata{EXIF: exif, ICC: icc}, png.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	types, chunks := pngChunks(t, data)
	if diff := cmp.Diff([]string{"IHDR", "iCCP", "eXIf", "IDAT", "IEND"}, types); diff != "" {
		t.Errorf("chunk order (-want +got):\n%s", diff)
	}
	if !bytes.Equal(chunks["eXIf"], exif) {
		t.Error("eXIf chunk differs from the EXIF given")
	}
	name, rest, _ := bytes.Cut(chunks["iCCP"], []byte{0})
	zr, err := zlib.NewReader(bytes.NewReader(rest[1:]))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(name) != "ICC Profile" || rest[0] != 0 || !bytes.Equal(got, icc) {
		t.Errorf("iCCP: name %q, method %d, %d profile bytes", name, rest[0], len(got))
	}
	// Pixels are lossless.
	m, _ := png.Decode(bytes.NewReader(data))
	if n, _ := diffStats(src, pix.FromStd(m)); n != 0 {
		t.Errorf("%d samples changed", n)
	}
	// Gray stays gray.
	g := pix.New(5, 3, 1)
	gd, err := EncodePNG(g, Metadata{}, png.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	if gm, _ := png.Decode(bytes.NewReader(gd)); pix.FromStd(gm).C != 1 {
		t.Error("gray PNG decodes with 3 channels")
	}
}

func BenchmarkEncode(b *testing.B) {
	src := crop(stdlibPNG(b, "video-001.png"), 768, 512)
	b.Run("png-bestspeed", func(b *testing.B) {
		b.SetBytes(int64(len(src.Pix)))
		b.ReportAllocs()
		var out []byte
		for i := 0; i < b.N; i++ {
			var err error
			if out, err = EncodePNG(src, Metadata{}, png.BestSpeed); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(out))/float64(len(src.Pix)), "out/in")
	})
	b.Run("jpeg-q95", func(b *testing.B) {
		b.SetBytes(int64(len(src.Pix)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := EncodeJPEG(src, EncodeOptions{Quality: 95}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestTagRoundTrip(t *testing.T) {
	src := crop(stdlibPNG(t, "video-001.png"), 20, 10)
	icc := bytes.Repeat([]byte{7}, 3000)
	const tag = "v1 input=abc model=def"
	p, err := EncodePNG(src, Metadata{Tag: tag, ICC: icc}, png.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	j, err := EncodeJPEG(src, EncodeOptions{Metadata: Metadata{Tag: tag, ICC: icc}})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"png": p, "jpeg": j} {
		if got, ok := ReadTag(data[:200]); !ok || got != tag {
			t.Errorf("%s: ReadTag = %q, %v", name, got, ok)
		}
		if _, ok := ReadTag(data[:30]); ok {
			t.Errorf("%s: a tag read from a head too short to hold it", name)
		}
	}
	if _, err := Decode(j, DecodeOptions{}); err != nil {
		t.Errorf("tagged JPEG does not decode: %v", err)
	}
	if _, types := pngChunks(t, p); types == nil {
		t.Error("tagged PNG unreadable")
	}
	orig := stdlibTestdata(t, "video-001.jpeg")
	tagged, err := InsertTag(orig, tag)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ReadTag(tagged); !ok || got != tag {
		t.Errorf("InsertTag: ReadTag = %q, %v", got, ok)
	}
	a, _ := Decode(orig, DecodeOptions{})
	b, err := Decode(tagged, DecodeOptions{})
	if err != nil || !bytes.Equal(a.Image.Pix, b.Image.Pix) {
		t.Errorf("InsertTag changed the pixels (err %v)", err)
	}
	plain, _ := EncodePNG(src, Metadata{}, png.BestSpeed)
	for _, data := range [][]byte{plain, nil, []byte("garbage"), stdlibTestdata(t, "video-001.jpeg")} {
		if tag, ok := ReadTag(data); ok {
			t.Errorf("ReadTag found %q in an untagged file", tag)
		}
	}
}
