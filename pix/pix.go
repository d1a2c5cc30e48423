// Package pix holds the 8-bit interleaved image buffer that the codec (jpeg/), the metrics
// (quality/) and the model runner (inference/) pass between them, and conversions to and from
// the standard library's image types. It has no dependencies beyond the standard library.
package pix

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Image is an 8-bit image stored row-major with interleaved channels: the sample of channel c at
// (x, y) is Pix[(y*W+x)*C+c]. C is 1 (gray) or 3 (RGB); other values are rejected by Validate.
type Image struct {
	W, H, C int
	Pix     []uint8
}

// New returns a zeroed image of w×h pixels with c channels. It panics on negative sizes or a
// channel count other than 1 or 3, which are programming errors.
func New(w, h, c int) Image {
	if w < 0 || h < 0 || (c != 1 && c != 3) {
		panic(fmt.Sprintf("pix.New: bad shape %dx%dx%d", w, h, c))
	}
	return Image{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}
}

// Validate reports whether the image's shape and buffer agree.
func (m Image) Validate() error {
	switch {
	case m.W < 0 || m.H < 0:
		return fmt.Errorf("pix: negative size %dx%d", m.W, m.H)
	case m.C != 1 && m.C != 3:
		return fmt.Errorf("pix: %d channels, want 1 or 3", m.C)
	case m.W > 0 && m.H > math.MaxInt/m.W/3:
		return fmt.Errorf("pix: size %dx%d overflows", m.W, m.H)
	case len(m.Pix) != m.W*m.H*m.C:
		return fmt.Errorf("pix: buffer holds %d bytes, %dx%dx%d needs %d", len(m.Pix), m.W, m.H, m.C, m.W*m.H*m.C)
	}
	return nil
}

// Stride is the number of bytes per row.
func (m Image) Stride() int { return m.W * m.C }

// Gray reports whether the image has one channel.
func (m Image) Gray() bool { return m.C == 1 }

// SameShape reports whether a and b have the same width, height and channel count.
func SameShape(a, b Image) bool { return a.W == b.W && a.H == b.H && a.C == b.C }

// ToRGB returns the image with three channels, replicating a gray channel; an RGB image is
// returned as is (sharing its buffer).
func (m Image) ToRGB() Image {
	if m.C == 3 {
		return m
	}
	out := New(m.W, m.H, 3)
	for i, v := range m.Pix {
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
	}
	return out
}

// Std converts the image to a standard library image: *image.Gray for one channel and
// *image.NRGBA (alpha 255) for three.
func (m Image) Std() image.Image {
	r := image.Rect(0, 0, m.W, m.H)
	if m.C == 1 {
		g := image.NewGray(r)
		copy(g.Pix, m.Pix)
		return g
	}
	n := image.NewNRGBA(r)
	for i := 0; i < m.W*m.H; i++ {
		n.Pix[4*i], n.Pix[4*i+1], n.Pix[4*i+2], n.Pix[4*i+3] = m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2], 0xff
	}
	return n
}

// FromStd converts a Go image to an Image. Gray and Gray16 images (and
// any image whose color model is gray) become 1-channel images, everything
// else (RGBA, NRGBA, YCbCr, paletted, ...) becomes RGB. Alpha is dropped:
// the RGB values are the non-premultiplied colors, as Pillow's
// convert("RGB") and OpenCV's imread give them. 16-bit samples are reduced
// to their high byte. The result always has the bounds' size and starts at
// its minimum point; an empty image gives a 0×0 Image, which is invalid.
func FromStd(src image.Image) Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return Image{C: 3}
	}
	switch s := src.(type) {
	case *image.Gray:
		out := New(w, h, 1)
		for y := 0; y < h; y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			copy(out.Pix[y*w:(y+1)*w], s.Pix[i:i+w])
		}
		return out
	case *image.NRGBA:
		out := New(w, h, 3)
		for y := 0; y < h; y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			row := s.Pix[i : i+4*w]
			o := out.Pix[3*w*y : 3*w*(y+1)]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
		return out
	case *image.RGBA:
		out := New(w, h, 3)
		for y := 0; y < h; y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			row := s.Pix[i : i+4*w]
			o := out.Pix[3*w*y : 3*w*(y+1)]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				if p[3] == 0xff {
					o[3*x], o[3*x+1], o[3*x+2] = p[0], p[1], p[2]
					continue
				}
				c := color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
				o[3*x], o[3*x+1], o[3*x+2] = c.R, c.G, c.B
			}
		}
		return out
	case *image.YCbCr:
		out := New(w, h, 3)
		for y := 0; y < h; y++ {
			o := out.Pix[3*w*y : 3*w*(y+1)]
			for x := 0; x < w; x++ {
				px, py := b.Min.X+x, b.Min.Y+y
				yi, ci := s.YOffset(px, py), s.COffset(px, py)
				o[3*x], o[3*x+1], o[3*x+2] = color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
			}
		}
		return out
	}
	if m := src.ColorModel(); m == color.GrayModel || m == color.Gray16Model {
		out := New(w, h, 1)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g := color.Gray16Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.Gray16)
				out.Pix[y*w+x] = uint8(g.Y >> 8)
			}
		}
		return out
	}
	out := New(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			i := 3 * (y*w + x)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
		}
	}
	return out
}
