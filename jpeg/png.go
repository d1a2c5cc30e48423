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
	if md.ICC == nil && md.EXIF == nil && md.Tag == "" {
		return data, nil
	}
	const ihdrEnd = 8 + 8 + 13 + 4 // signature, IHDR length+type, IHDR data, CRC
	var extra bytes.Buffer
	if md.Tag != "" {
		// tEXt: keyword, NUL, Latin-1 text (PNG 1.2 section 4.2.3.1). The tag is ASCII.
		writeChunk(&extra, "tEXt", append([]byte(TagKeyword+"\x00"), md.Tag...))
	}
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

// ReadTag returns the tag that EncodePNG or EncodeJPEG wrote, reading only the head of the file
// (the tag sits right after the PNG IHDR chunk or the JPEG JFIF segment, so a few kilobytes are
// enough). ok is false when the head holds no tag.
func ReadTag(head []byte) (tag string, ok bool) {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		for p := 8; p+8 <= len(head); {
			n := int(binary.BigEndian.Uint32(head[p:]))
			typ := string(head[p+4 : p+8])
			if typ == "IDAT" || n < 0 || p+12+n > len(head) {
				return "", false
			}
			if typ == "tEXt" {
				if k, v, found := bytes.Cut(head[p+8:p+8+n], []byte{0}); found && string(k) == TagKeyword {
					return string(v), true
				}
			}
			p += 12 + n
		}
	case len(head) >= 4 && head[0] == 0xff && head[1] == mSOI:
		for p := 2; p+4 <= len(head) && head[p] == 0xff; {
			m, n := head[p+1], int(binary.BigEndian.Uint16(head[p+2:]))
			if m == mSOS || m == mEOI || n < 2 || p+2+n > len(head) {
				return "", false
			}
			if m == mCOM {
				if v, found := bytes.CutPrefix(head[p+4:p+2+n], []byte(TagKeyword+":")); found {
					return string(v), true
				}
			}
			p += 2 + n
		}
	}
	return "", false
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
