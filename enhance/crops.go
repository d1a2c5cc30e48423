package enhance

import (
	"context"
	"fmt"
	"image/png"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/report"
)

// CropSide is the side of the report's before/after crops, in pixels.
const CropSide = 192

// Crops decodes a restored record's input and output (both upright) and cuts the same centre
// square of each, as PNG, for the report's examples.
func Crops(ctx context.Context, store Store, r report.Record) (report.Example, error) {
	in, err := store.ReadFile(ctx, r.URI)
	if err != nil {
		return report.Example{}, err
	}
	d, err := jpeg.Decode(in, jpeg.DecodeOptions{ApplyOrientation: true})
	if err != nil {
		return report.Example{}, err
	}
	ob, err := store.ReadFile(ctx, r.Output)
	if err != nil {
		return report.Example{}, err
	}
	after, err := decodeImage(ob)
	if err != nil {
		return report.Example{}, err
	}
	if !pix.SameShape(d.Image, after) {
		return report.Example{}, fmt.Errorf("input %dx%d and output %dx%d differ", d.Image.W, d.Image.H, after.W, after.H)
	}
	before, err := cropPNG(d.Image)
	if err != nil {
		return report.Example{}, err
	}
	afterPNG, err := cropPNG(after)
	if err != nil {
		return report.Example{}, err
	}
	return report.Example{Rel: r.Rel, Before: before, After: afterPNG, NRBefore: r.NRBefore, NRAfter: r.NRAfter}, nil
}

func cropPNG(m pix.Image) ([]byte, error) {
	w, h := min(CropSide, m.W), min(CropSide, m.H)
	x0, y0 := (m.W-w)/2, (m.H-h)/2
	c := pix.New(w, h, m.C)
	for y := 0; y < h; y++ {
		copy(c.Pix[y*w*m.C:(y+1)*w*m.C], m.Pix[((y0+y)*m.W+x0)*m.C:])
	}
	return jpeg.EncodePNG(c, jpeg.Metadata{}, png.DefaultCompression)
}
