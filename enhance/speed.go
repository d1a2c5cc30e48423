package enhance

import (
	"context"
	"time"

	"jpegrestore/inference"
	"jpegrestore/pix"
)

// Speed measures how fast a route's model restores on this machine, in megapixels per second: it
// restores a 768×512 textured image twice, the first run warming the model up, and times the
// second. A survey estimates restore times with it.
func Speed(ctx context.Context, rm *RouteModel) (float64, error) {
	const w, h = 768, 512
	img := pix.New(w, h, 3)
	for i := range img.Pix {
		x, y := i/3%w, i/(3*w)
		img.Pix[i] = uint8((x*7 ^ y*13) + i%3*50)
	}
	var q []float32
	if rm.Manifest.Conditioned() {
		q = make([]float32, inference.QTableLen)
		for i := range q {
			q[i] = 0.1 // about the tables of QF 50
		}
	}
	if _, err := rm.Restore(ctx, img, q); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := rm.Restore(ctx, img, q); err != nil {
		return 0, err
	}
	return w * h / 1e6 / time.Since(start).Seconds(), nil
}
