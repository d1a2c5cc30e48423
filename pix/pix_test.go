package pix

import (
	"image"
	"image/color"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromStd(t *testing.T) {
	r := image.Rect(1, 2, 3, 3) // 2×1, not at the origin
	gray := image.NewGray(r)
	gray.SetGray(1, 2, color.Gray{10})
	gray.SetGray(2, 2, color.Gray{200})
	gray16 := image.NewGray16(r)
	gray16.SetGray16(1, 2, color.Gray16{0x0aff})
	gray16.SetGray16(2, 2, color.Gray16{0xc800})
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(1, 2, color.RGBA{1, 2, 3, 255})
	rgba.SetRGBA(2, 2, color.RGBA{50, 25, 0, 128}) // premultiplied: NRGBA ≈ {100, 50, 0, 128}
	nrgba := image.NewNRGBA(r)
	nrgba.SetNRGBA(1, 2, color.NRGBA{1, 2, 3, 0})
	nrgba.SetNRGBA(2, 2, color.NRGBA{250, 128, 7, 255})
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = 128, 128, 128
	}
	ycc.Y[1] = 235
	pal := image.NewPaletted(r, color.Palette{color.RGBA{9, 8, 7, 255}, color.RGBA{200, 100, 50, 255}})
	pal.SetColorIndex(2, 2, 1)

	tests := []struct {
		name string
		src  image.Image
		want Image
	}{
		{"gray", gray, Image{W: 2, H: 1, C: 1, Pix: []uint8{10, 200}}},
		{"gray16", gray16, Image{W: 2, H: 1, C: 1, Pix: []uint8{10, 200}}},
		{"rgba", rgba, Image{W: 2, H: 1, C: 3, Pix: []uint8{1, 2, 3, 99, 49, 0}}},
		{"nrgba", nrgba, Image{W: 2, H: 1, C: 3, Pix: []uint8{1, 2, 3, 250, 128, 7}}},
		{"ycbcr", ycc, Image{W: 2, H: 1, C: 3, Pix: []uint8{128, 128, 128, 235, 235, 235}}},
		{"paletted", pal, Image{W: 2, H: 1, C: 3, Pix: []uint8{9, 8, 7, 200, 100, 50}}},
		{"empty", image.NewRGBA(image.Rectangle{}), Image{C: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromStd(tt.src)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromStd mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		img     Image
		wantErr bool
	}{
		{"rgb", New(2, 3, 3), false},
		{"gray", New(2, 3, 1), false},
		{"empty", Image{C: 3}, false},
		{"negative", Image{W: -1, H: 2, C: 1}, true},
		{"two-channels", Image{W: 1, H: 1, C: 2, Pix: make([]uint8, 2)}, true},
		{"short", Image{W: 2, H: 2, C: 3, Pix: make([]uint8, 11)}, true},
		{"overflow", Image{W: 1 << 62, H: 4, C: 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.img.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestToRGBAndStd(t *testing.T) {
	g := Image{W: 2, H: 1, C: 1, Pix: []uint8{7, 9}}
	if diff := cmp.Diff([]uint8{7, 7, 7, 9, 9, 9}, g.ToRGB().Pix); diff != "" {
		t.Errorf("ToRGB (-want +got):\n%s", diff)
	}
	for _, m := range []Image{g, g.ToRGB()} {
		if diff := cmp.Diff(m, FromStd(m.Std())); diff != "" {
			t.Errorf("FromStd(Std()) round trip (-want +got):\n%s", diff)
		}
	}
}

func TestBuffersReuse(t *testing.T) {
	var b Buffers[float32]
	s := b.Get(10)
	if len(s) != 10 {
		t.Fatalf("len %d", len(s))
	}
	b.Put(s)
	if got := b.Get(5); len(got) != 5 || cap(got) < 5 {
		t.Errorf("len %d cap %d", len(got), cap(got))
	}
	if got := b.Get(1000); len(got) != 1000 {
		t.Errorf("a buffer too small was handed out: len %d", len(got))
	}
}
