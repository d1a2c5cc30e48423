package jpeg

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image/png"

	"jpegrestore/pix"
)

// EncodePNG encodes an 8-bit gray or RGB image as PNG and carries the metadata over: the ICC
// profile as an iCCP chunk (PNG 1.2 section 4.2.2.4) and the EXIF TIFF structure as an eXIf chunk
// (PNG extensions 1.5.0 section 3.7), both placed right after IHDR, before the image data.
func EncodePNG(m pix.Image, md Metadata, level png.CompressionLevel) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, errf(KindEncode, -1, "%v", err)
	}
	if m.W == 0 || m.H == 0 {
		return nil, errf(KindEncode, -1, "empty image %dx%d", m.W, m.H)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: level}
	if err := enc.Encode(&buf, m.Std()); err != nil {
		return nil, errf(KindEncode, -1, "png: %v", err)
	}
	data := buf.Bytes()
	if md.ICC == nil && md.EXIF == nil {
		return data, nil
	}
	const ihdrEnd = 8 + 8 + 13 + 4 // signature, IHDR length+type, IHDR data, CRC
	var extra bytes.Buffer
	if md.ICC != nil {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(md.ICC)
		if err := zw.Close(); err != nil {
			return nil, errf(KindEncode, -1, "compressing ICC profile: %v", err)
		}
		// Profile name, NUL, compression method 0 (zlib), compressed profile.
		writeChunk(&extra, "iCCP", append([]byte("ICC Profile\x00\x00"), z.Bytes()...))
	}
	if md.EXIF != nil {
		writeChunk(&extra, "eXIf", md.EXIF)
	}
	out := make([]byte, 0, len(data)+extra.Len())
	out = append(out, data[:ihdrEnd]...)
	out = append(out, extra.Bytes()...)
	return append(out, data[ihdrEnd:]...), nil
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}
