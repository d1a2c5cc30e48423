package enhance

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/gpuworker"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
	"jpegrestore/route"
)

func testModels(t *testing.T, model string) *Models {
	t.Helper()
	lib, err := gpuworker.LibraryPath("")
	if err != nil {
		t.Fatalf("run `make setup` first: %v", err)
	}
	if err := gpuworker.Init(lib); err != nil {
		t.Fatal(err)
	}
	m := NewModels(ModelConfig{Default: filepath.Join("..", "inference", "testdata", model+".json")})
	t.Cleanup(func() { m.Close() })
	return m
}

func settings(format string) Settings {
	return Settings{Out: "/out", Format: format, Routes: route.Default()}
}

func gradient(w, h, c int) pix.Image {
	m := pix.New(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8((i/c)%w*5 + i/(w*c)*3 + i%c*60)
	}
	return m
}

func encode(t *testing.T, m pix.Image, q int, md jpeg.Metadata) []byte {
	t.Helper()
	b, err := jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420, Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOutputURIAndGroups(t *testing.T) {
	for _, tc := range []struct{ out, rel, format, want string }{
		{"/o", "a/b.jpg", FormatPNG, "/o/a/b.png"},
		{"/o", "x.JPEG", FormatJPEG, "/o/x.jpg"},
		{"gs://bk/out/", "p/q/r.jpeg", FormatPNG, "gs://bk/out/p/q/r.png"},
		{"gs://bk", "noext", FormatPNG, "gs://bk/noext.png"},
	} {
		if got := OutputURI(tc.out, tc.rel, tc.format); got != tc.want {
			t.Errorf("OutputURI(%q, %q, %s) = %q, want %q", tc.out, tc.rel, tc.format, got, tc.want)
		}
	}
	r := NewRecord(Input{URI: "gs://photos/2019/a/b.jpg", Root: "gs://photos"}, 10)
	if r.Bucket != "photos" || r.Prefix != "2019" || r.Rel != "2019/a/b.jpg" {
		t.Errorf("NewRecord = %+v", r)
	}
	r = NewRecord(Input{URI: "/x/y.jpg", Root: "/x"}, 10)
	if r.Bucket != "local" || r.Prefix != "" || r.Rel != "y.jpg" {
		t.Errorf("NewRecord = %+v", r)
	}
}

func TestPrepare(t *testing.T) {
	models := testModels(t, "identity")
	in := Input{URI: "/in/a/x.jpg", Root: "/in"}
	q20 := encode(t, gradient(64, 48, 3), 20, jpeg.Metadata{})
	for _, tc := range []struct {
		name                  string
		data                  []byte
		wantOK                bool
		status, reason, route string
	}{
		{"strong", q20, true, "", "", "strong"},
		{"passthrough", encode(t, gradient(64, 48, 3), 95, jpeg.Metadata{}), true, "", "", "passthrough"},
		{"not-jpeg", []byte("text"), false, report.StatusSkipped, report.ReasonNotJPEG, ""},
		{"truncated", q20[:len(q20)/2], false, report.StatusFailed, "truncated", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, final, ok := Prepare(in, tc.data, settings(FormatPNG), models)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, final %+v", ok, final)
			}
			if !ok {
				if final.Status != tc.status || final.Reason != tc.reason || final.Rel != "a/x.jpg" {
					t.Errorf("final record %+v", final)
				}
				return
			}
			if p.Route.Name != tc.route || p.Record.Output != "/out/a/x.png" {
				t.Errorf("plan route %s output %s", p.Route.Name, p.Record.Output)
			}
		})
	}
	// The tag names the input, the model and the settings: change any and the output is redone.
	base, _, _ := Prepare(in, q20, settings(FormatPNG), models)
	other, _, _ := Prepare(in, encode(t, gradient(64, 48, 3), 21, jpeg.Metadata{}), settings(FormatPNG), models)
	jpg, _, _ := Prepare(in, q20, settings(FormatJPEG), models)
	m2 := testModels(t, "conv")
	model2, _, _ := Prepare(in, q20, settings(FormatPNG), m2)
	ens := NewModels(ModelConfig{Default: filepath.Join("..", "inference", "testdata", "identity.json"), Ensemble: 2})
	defer ens.Close()
	ens2, _, _ := Prepare(in, q20, settings(FormatPNG), ens)
	again, _, _ := Prepare(in, q20, settings(FormatPNG), models)
	if base.Tag != again.Tag {
		t.Error("the same input and settings gave different tags")
	}
	for name, p := range map[string]Plan{"input": other, "format": jpg, "model": model2, "ensemble": ens2} {
		if p.Tag == base.Tag {
			t.Errorf("changing the %s kept the tag", name)
		}
	}
}

func TestRunRestoresAndCarriesMetadata(t *testing.T) {
	models := testModels(t, "identity")
	icc := bytes.Repeat([]byte("icc"), 100)
	src := gradient(70, 40, 3)
	data := encode(t, src, 25, jpeg.Metadata{ICC: icc, EXIF: tiff(6)})
	in := Input{URI: "/in/r.jpg", Root: "/in"}
	for _, format := range []string{FormatPNG, FormatJPEG} {
		t.Run(format, func(t *testing.T) {
			p, _, ok := Prepare(in, data, settings(format), models)
			if !ok {
				t.Fatal("not planned")
			}
			out, rec := Run(context.Background(), data, p, settings(format), models)
			if rec.Status != report.StatusRestored || rec.NRBefore == 0 {
				t.Fatalf("record %+v", rec)
			}
			if !Done(out[:min(len(out), TagHeadBytes)], p.Tag) {
				t.Error("output does not carry its tag")
			}
			// Orientation 6: the output is upright (40 wide, 70 high) and says orientation 1.
			var got pix.Image
			var info *jpeg.Info
			if format == FormatJPEG {
				d, err := jpeg.Decode(out, jpeg.DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got, info = d.Image, d.Info
			} else {
				m, err := png.Decode(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				got = pix.FromStd(m)
			}
			if got.W != 40 || got.H != 70 {
				t.Errorf("output %dx%d, want upright 40x70", got.W, got.H)
			}
			if info != nil && (info.Orientation != 1 || !bytes.Equal(info.ICC, icc)) {
				t.Errorf("JPEG output orientation %d, ICC %d bytes", info.Orientation, len(info.ICC))
			}
			if format == FormatPNG {
				// identity model + PNG: the pixels are the upright decode, exactly.
				d, _ := jpeg.Decode(data, jpeg.DecodeOptions{ApplyOrientation: true})
				if diff := cmp.Diff(d.Image.Pix, got.Pix); diff != "" {
					t.Error("identity restore to PNG changed pixels")
				}
			}
		})
	}
}

func TestRunGrayAndPassthrough(t *testing.T) {
	models := testModels(t, "identity")
	in := Input{URI: "/in/g.jpg", Root: "/in"}
	gray := encode(t, gradient(33, 17, 1), 30, jpeg.Metadata{})
	p, _, _ := Prepare(in, gray, settings(FormatPNG), models)
	out, rec := Run(context.Background(), gray, p, settings(FormatPNG), models)
	m, err := png.Decode(bytes.NewReader(out))
	if err != nil || pix.FromStd(m).C != 1 || rec.Status != report.StatusRestored {
		t.Errorf("gray: err %v, record %+v", err, rec)
	}
	good := encode(t, gradient(40, 40, 3), 95, jpeg.Metadata{})
	p, _, _ = Prepare(in, good, settings(FormatJPEG), models)
	out, rec = Run(context.Background(), good, p, settings(FormatJPEG), models)
	if rec.Status != report.StatusSkipped || rec.Reason != report.ReasonPassthrough {
		t.Errorf("passthrough record %+v", rec)
	}
	a, _ := jpeg.Decode(good, jpeg.DecodeOptions{})
	b, err := jpeg.Decode(out, jpeg.DecodeOptions{})
	if err != nil || !bytes.Equal(a.Image.Pix, b.Image.Pix) || !Done(out, p.Tag) {
		t.Error("passthrough to JPEG is not the original image with a tag")
	}
}

func TestResolveModel(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fast.json"), []byte("{}"), 0o644)
	if got, err := ResolveModel("fast", dir); err != nil || got != filepath.Join(dir, "fast.json") {
		t.Errorf("ResolveModel(fast) = %q, %v", got, err)
	}
	if got, _ := ResolveModel("some/path.json", dir); got != "some/path.json" {
		t.Errorf("paths pass through, got %q", got)
	}
	t.Setenv(ModelsDirEnv, "")
	if _, err := ResolveModel("nonesuch", dir); err == nil || !strings.Contains(err.Error(), "--model PATH") {
		t.Errorf("missing preset error %v", err)
	}
}

// tiff builds a minimal EXIF TIFF with Orientation = o.
func tiff(o int) []byte {
	b := make([]byte, 26)
	copy(b, "II*\x00")
	binary.LittleEndian.PutUint32(b[4:], 8)
	binary.LittleEndian.PutUint16(b[8:], 1)
	binary.LittleEndian.PutUint16(b[10:], 0x0112)
	binary.LittleEndian.PutUint16(b[12:], 3)
	binary.LittleEndian.PutUint32(b[14:], 1)
	binary.LittleEndian.PutUint16(b[18:], uint16(o))
	return b
}
