package jpeg

import "jpegrestore/pix"

// Orient returns the image turned upright for EXIF orientation o (CIPA DC-008 table 4.6.4.1:
// 1 normal, 2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed, 6 stored rotated 90° CCW so
// displayed after 90° CW, 7 transversed, 8 displayed after 90° CCW). Orientations outside 2..8
// return the image unchanged.
func Orient(m pix.Image, o int) pix.Image {
	if o < 2 || o > 8 {
		return m
	}
	w, h, c := m.W, m.H, m.C
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := pix.New(ow, oh, c)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			// (sx, sy) is the stored pixel shown at displayed position (x, y).
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			copy(out.Pix[(y*ow+x)*c:(y*ow+x+1)*c], m.Pix[(sy*w+sx)*c:(sy*w+sx+1)*c])
		}
	}
	return out
}
