package jpeg

import (
	"encoding/binary"
	"sort"
)

const (
	xmpHeader = "http://ns.adobe.com/xap/1.0/\x00"
	// iccHeader starts each APP2 chunk of an embedded ICC profile (ICC.1 Annex B.4), followed by
	// the chunk's sequence number and the chunk count, both one-based.
	iccHeader = "ICC_PROFILE\x00"
	// maxICCChunk is the profile bytes one APP2 segment carries: 65535 - 2 (length) - 14 (header).
	maxICCChunk = 65519
)

type iccChunk struct {
	seq  int
	data []byte
}

type iccChunks struct {
	count  int
	chunks []iccChunk
	off    int
}

func (c *iccChunks) add(seg []byte, off int) error {
	if len(seg) < len(iccHeader)+2 {
		return errf(KindCorrupt, off, "ICC APP2 segment of %d bytes is too short", len(seg))
	}
	seq, n := int(seg[len(iccHeader)]), int(seg[len(iccHeader)+1])
	if seq < 1 || seq > n || (c.count != 0 && n != c.count) {
		return errf(KindCorrupt, off, "ICC chunk %d of %d (earlier chunks said %d)", seq, n, c.count)
	}
	c.count = n
	c.off = off
	c.chunks = append(c.chunks, iccChunk{seq: seq, data: seg[len(iccHeader)+2:]})
	return nil
}

// assemble joins the chunks in sequence order. A profile with missing or repeated chunks is
// corrupt: carrying half a profile into an output would mislabel its colours.
func (c *iccChunks) assemble() ([]byte, error) {
	if c.count == 0 {
		return nil, nil
	}
	if len(c.chunks) != c.count {
		return nil, errf(KindCorrupt, c.off, "ICC profile has %d of %d chunks", len(c.chunks), c.count)
	}
	sort.Slice(c.chunks, func(i, j int) bool { return c.chunks[i].seq < c.chunks[j].seq })
	var out []byte
	for i, ch := range c.chunks {
		if ch.seq != i+1 {
			return nil, errf(KindCorrupt, c.off, "ICC chunk %d repeated or missing", ch.seq)
		}
		out = append(out, ch.data...)
	}
	return out, nil
}

// tiffOrientation is the EXIF/TIFF Orientation tag (TIFF 6.0 section 8; CIPA DC-008 4.6.4).
const tiffOrientation = 0x0112

// exifOrientationOffset returns the byte offset of the Orientation value in a TIFF structure and
// its byte order, or -1 when the tag is absent or the structure is damaged. Only IFD0 is read.
func exifOrientationOffset(tiff []byte) (int, binary.ByteOrder) {
	if len(tiff) < 8 {
		return -1, nil
	}
	var bo binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return -1, nil
	}
	ifd := int(bo.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > len(tiff) {
		return -1, nil
	}
	n := int(bo.Uint16(tiff[ifd:]))
	for i := 0; i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > len(tiff) {
			return -1, nil
		}
		// Orientation is a SHORT (type 3) with count 1, stored in the entry's value field.
		if bo.Uint16(tiff[e:]) == tiffOrientation && bo.Uint16(tiff[e+2:]) == 3 {
			return e + 8, bo
		}
	}
	return -1, nil
}

// exifOrientation returns the Orientation value 1..8, or 0 when absent or out of range.
func exifOrientation(tiff []byte) int {
	off, bo := exifOrientationOffset(tiff)
	if off < 0 {
		return 0
	}
	v := int(bo.Uint16(tiff[off:]))
	if v < 1 || v > 8 {
		return 0
	}
	return v
}

// EXIFWithOrientation returns a copy of an EXIF TIFF structure whose Orientation tag is set to o,
// for writing pixels that have already been rotated upright (o = 1). Without a tag the copy is
// returned unchanged.
func EXIFWithOrientation(tiff []byte, o int) []byte {
	out := append([]byte(nil), tiff...)
	if off, bo := exifOrientationOffset(out); off >= 0 {
		bo.PutUint16(out[off:], uint16(o))
	}
	return out
}
