package quality

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/pix"
)

func TestValidateImage(t *testing.T) {
	tests := []struct {
		name    string
		img     Image
		wantErr bool
	}{
		{"gray", pix.New(2, 3, 1), false},
		{"rgb", pix.New(2, 3, 3), false},
		{"zero value", Image{}, true},
		{"negative size", Image{W: -1, H: 2, C: 1}, true},
		{"two channels", Image{W: 2, H: 2, C: 2, Pix: make([]uint8, 8)}, true},
		{"four channels", Image{W: 2, H: 2, C: 4, Pix: make([]uint8, 16)}, true},
		{"short pix", Image{W: 2, H: 2, C: 3, Pix: make([]uint8, 11)}, true},
		{"long pix", Image{W: 2, H: 2, C: 1, Pix: make([]uint8, 5)}, true},
		{"size overflows", Image{W: 1 << 62, H: 4, C: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(tt.img)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidImage) {
				t.Errorf("validate() = %v, want it to wrap ErrInvalidImage", err)
			}
		})
	}
}

func TestLuma(t *testing.T) {
	img := Image{W: 3, H: 1, C: 3, Pix: []uint8{255, 0, 0, 0, 255, 0, 10, 20, 30}}
	want := []float64{0.299 * 255, 0.587 * 255, 0.299*10 + 0.587*20 + 0.114*30}
	if diff := cmp.Diff(want, luma(img), approx); diff != "" {
		t.Errorf("luma mismatch (-want +got):\n%s", diff)
	}
}
