package jpeg

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/pix"
)

// rotCW and flipH are the two primitive transforms; every EXIF orientation is a composition of them
// (CIPA DC-008 table 4.6.4.1), which gives Orient an independent reference.
func rotCW(m pix.Image) pix.Image {
	out := pix.New(m.H, m.W, m.C)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			// stored (x, y) lands at displayed (H-1-y, x)
			copy(out.Pix[(x*out.W+(m.H-1-y))*m.C:], m.Pix[(y*m.W+x)*m.C:(y*m.W+x+1)*m.C])
		}
	}
	return out
}

func flipH(m pix.Image) pix.Image {
	out := pix.New(m.W, m.H, m.C)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			copy(out.Pix[(y*m.W+m.W-1-x)*m.C:], m.Pix[(y*m.W+x)*m.C:(y*m.W+x+1)*m.C])
		}
	}
	return out
}

func TestOrient(t *testing.T) {
	m := pix.New(3, 2, 1)
	for i := range m.Pix {
		m.Pix[i] = uint8(i + 1)
	}
	r2 := func(m pix.Image) pix.Image { return rotCW(rotCW(m)) }
	ref := map[int]pix.Image{
		1: m,
		2: flipH(m),
		3: r2(m),
		4: flipH(r2(m)),
		5: flipH(rotCW(m)),
		6: rotCW(m),
		7: flipH(rotCW(r2(m))),
		8: rotCW(r2(m)),
	}
	for o := 1; o <= 8; o++ {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			if diff := cmp.Diff(ref[o], Orient(m, o)); diff != "" {
				t.Errorf("Orient(m, %d) (-want +got):\n%s", o, diff)
			}
		})
	}
	// Orientation 6 spelled out: the stored left column, bottom to top, is the displayed top row.
	if got := Orient(m, 6).Pix; !cmp.Equal(got, []uint8{4, 1, 5, 2, 6, 3}) {
		t.Errorf("Orient(m, 6) = %v", got)
	}
}

// tiffWithOrientation builds a minimal little-endian TIFF with one IFD0 entry: Orientation = o.
func tiffWithOrientation(o int) []byte {
	b := make([]byte, 8+2+12+4)
	copy(b, "II*\x00")
	binary.LittleEndian.PutUint32(b[4:], 8)
	binary.LittleEndian.PutUint16(b[8:], 1)
	e := b[10:]
	binary.LittleEndian.PutUint16(e[0:], tiffOrientation)
	binary.LittleEndian.PutUint16(e[2:], 3) // SHORT
	binary.LittleEndian.PutUint32(e[4:], 1)
	binary.LittleEndian.PutUint16(e[8:], uint16(o))
	return b
}

func TestEXIFWithOrientation(t *testing.T) {
	for _, bigEndian := range []bool{false, true} {
		tiff := tiffWithOrientation(6)
		if bigEndian {
			tiff = []byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
		}
		if got := exifOrientation(tiff); got != 6 {
			t.Fatalf("bigEndian=%v: orientation %d, want 6", bigEndian, got)
		}
		up := EXIFWithOrientation(tiff, 1)
		if got := exifOrientation(up); got != 1 {
			t.Errorf("bigEndian=%v: rewritten orientation %d, want 1", bigEndian, got)
		}
		if exifOrientation(tiff) != 6 {
			t.Error("EXIFWithOrientation modified its input")
		}
	}
	for _, bad := range [][]byte{nil, []byte("II*\x00"), []byte("II*\x00\xff\xff\xff\xff"), []byte("XX*\x00\x08\x00\x00\x00")} {
		if got := exifOrientation(bad); got != 0 {
			t.Errorf("exifOrientation(%q) = %d, want 0", bad, got)
		}
	}
}
