package quality

import (
	"errors"
	"fmt"

	"jpegrestore/pix"
)

// Errors returned by the metrics. They are wrapped with details; test for
// them with [errors.Is].
var (
	// ErrInvalidImage reports an Image whose fields are inconsistent.
	ErrInvalidImage = errors.New("quality: invalid image")
	// ErrMismatch reports two images that differ in width, height or
	// number of channels.
	ErrMismatch = errors.New("quality: images differ in size or channels")
	// ErrTooSmall reports an image below the minimum size of a metric.
	ErrTooSmall = errors.New("quality: image too small")
)

// Image is the 8-bit gray or RGB image of package pix (interleaved HWC). Convert standard library
// images with pix.FromStd.
type Image = pix.Image

// validate returns an error wrapping [ErrInvalidImage] unless W and H are positive, C is 1 or 3
// and len(Pix) is W*H*C.
func validate(m Image) error {
	if m.W <= 0 || m.H <= 0 {
		return fmt.Errorf("%w: size %dx%d", ErrInvalidImage, m.W, m.H)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidImage, err)
	}
	return nil
}

// checkPair validates a and b and checks that they have the same shape.
func checkPair(a, b Image) error {
	if err := validate(a); err != nil {
		return err
	}
	if err := validate(b); err != nil {
		return err
	}
	if a.W != b.W || a.H != b.H || a.C != b.C {
		return fmt.Errorf("%w: %dx%dx%d vs %dx%dx%d", ErrMismatch, a.W, a.H, a.C, b.W, b.H, b.C)
	}
	return nil
}

// checkMinSize returns an error wrapping [ErrTooSmall] if m is narrower or
// shorter than minSide pixels.
func checkMinSize(m Image, minSide int, metric string) error {
	if m.W < minSide || m.H < minSide {
		return fmt.Errorf("%w: %s needs at least %dx%d pixels, got %dx%d", ErrTooSmall, metric, minSide, minSide, m.W, m.H)
	}
	return nil
}

// luma returns the image as one float64 plane (row-major, W*H values in
// 0..255). Gray images are returned as is; RGB images are converted with the
// ITU-R BT.601 luma weights, Y = 0.299 R + 0.587 G + 0.114 B, without
// rounding.
func luma(m Image) []float64 { return lumaInto(make([]float64, m.W*m.H), m) }

// lumaInto is luma writing into y, which holds W*H values.
func lumaInto(y []float64, m Image) []float64 {
	n := m.W * m.H
	if m.C == 1 {
		for i, v := range m.Pix[:n] {
			y[i] = float64(v)
		}
		return y
	}
	p := m.Pix[:3*n]
	for i := range y {
		r, g, b := float64(p[3*i]), float64(p[3*i+1]), float64(p[3*i+2])
		// The conversions keep each product rounded on its own (no fused
		// multiply-add), matching numpy's elementwise evaluation.
		y[i] = float64(0.299*r) + float64(0.587*g) + float64(0.114*b)
	}
	return y
}

// lumaBufs recycles luma planes: a restore job scores every image twice.
var lumaBufs pix.Buffers[float64]
