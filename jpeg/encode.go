package jpeg

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

// jr_compress encodes src with TurboJPEG: libjpeg's IJG tables at the given quality, forced
// baseline, and the ISLOW forward DCT (TJFLAG_ACCURATEDCT: TurboJPEG's own default when
// compressing is the fast DCT, which cjpeg, Pillow and OpenCV do not use). On success *out holds a
// buffer the caller frees with tjFree.
static int jr_compress(const unsigned char *src, int w, int h, int pf, int subsamp, int quality,
                       unsigned char **out, unsigned long *outSize, char *msg, int msglen) {
	tjhandle t = tjInitCompress();
	if (t == NULL) {
		snprintf(msg, msglen, "%s", tjGetErrorStr2(NULL));
		return -1;
	}
	*out = NULL;
	*outSize = 0;
	int rc = tjCompress2(t, src, w, 0, h, pf, out, outSize, subsamp, quality, TJFLAG_ACCURATEDCT);
	if (rc != 0) {
		snprintf(msg, msglen, "%s", tjGetErrorStr2(t));
		if (*out != NULL) {
			tjFree(*out);
			*out = NULL;
		}
	}
	tjDestroy(t);
	return rc;
}
*/
import "C"

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"jpegrestore/pix"
)

// Subsampling choices for EncodeJPEG.
type Subsampling int

const (
	Sub444 Subsampling = iota
	Sub422
	Sub420
)

func (s Subsampling) String() string {
	return [...]string{"4:4:4", "4:2:2", "4:2:0"}[s]
}

// Metadata is what an output carries over from its input, plus jpegrestore's own tag.
type Metadata struct {
	EXIF []byte // TIFF structure, without the "Exif\0\0" header
	ICC  []byte // ICC profile
	// Tag is a short text that identifies how the output was made (written as a COM segment in
	// JPEG and a tEXt chunk with keyword TagKeyword in PNG); ReadTag reads it back.
	Tag string
}

// TagKeyword names the tag: the PNG tEXt keyword, and the prefix of the JPEG COM segment.
const TagKeyword = "jpegrestore"

// EncodeOptions configures EncodeJPEG.
type EncodeOptions struct {
	Quality     int         // 1..100; 0 means 95
	Subsampling Subsampling // ignored for gray images
	Metadata    Metadata
}

// EncodeJPEG encodes an 8-bit gray or RGB image as a baseline JFIF JPEG with libjpeg's IJG tables,
// then inserts the EXIF (APP1) and ICC (APP2 chunks) segments after the JFIF header.
func EncodeJPEG(m pix.Image, opt EncodeOptions) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, errf(KindEncode, -1, "%v", err)
	}
	if m.W == 0 || m.H == 0 {
		return nil, errf(KindEncode, -1, "empty image %dx%d", m.W, m.H)
	}
	if m.W > 65535 || m.H > 65535 {
		return nil, errf(KindEncode, -1, "%dx%d exceeds JPEG's 65535 limit", m.W, m.H)
	}
	q := opt.Quality
	if q == 0 {
		q = 95
	}
	if q < 1 || q > 100 {
		return nil, errf(KindEncode, -1, "quality %d outside 1..100", q)
	}
	pf, sub := C.int(C.TJPF_RGB), C.int(C.TJSAMP_444)
	switch {
	case m.C == 1:
		pf, sub = C.TJPF_GRAY, C.TJSAMP_GRAY
	case opt.Subsampling == Sub422:
		sub = C.TJSAMP_422
	case opt.Subsampling == Sub420:
		sub = C.TJSAMP_420
	}
	var out *C.uchar
	var size C.ulong
	var msg [256]C.char
	rc := C.jr_compress((*C.uchar)(unsafe.Pointer(&m.Pix[0])), C.int(m.W), C.int(m.H), pf, sub, C.int(q),
		&out, &size, &msg[0], C.int(len(msg)))
	if rc != 0 {
		return nil, errf(KindEncode, -1, "libjpeg: %s", C.GoString(&msg[0]))
	}
	enc := C.GoBytes(unsafe.Pointer(out), C.int(size))
	C.tjFree(out)
	return insertMetadata(enc, opt.Metadata)
}

// InsertTag returns a JPEG file with a tag COM segment inserted after its JFIF header; the coded
// image is untouched, so the pixels stay bit-exact.
func InsertTag(data []byte, tag string) ([]byte, error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != mSOI {
		return nil, errf(KindNotJPEG, 0, "no SOI marker")
	}
	return insertMetadata(data, Metadata{Tag: tag})
}

// insertMetadata puts APP1 Exif and APP2 ICC segments right after SOI and the APP0 JFIF segment
// that TurboJPEG writes, where readers look for them.
func insertMetadata(enc []byte, md Metadata) ([]byte, error) {
	if md.EXIF == nil && md.ICC == nil && md.Tag == "" {
		return enc, nil
	}
	at := 2
	if len(enc) > 6 && enc[2] == 0xff && enc[3] == mAPP0 {
		at = 4 + int(binary.BigEndian.Uint16(enc[4:]))
	}
	var seg bytes.Buffer
	if md.Tag != "" {
		if len(md.Tag) > 60000 {
			return nil, errf(KindEncode, -1, "tag of %d bytes is too long", len(md.Tag))
		}
		writeSegment(&seg, mCOM, []byte(TagKeyword+":"), []byte(md.Tag))
	}
	if md.EXIF != nil {
		if len(md.EXIF)+6 > 65533 {
			return nil, errf(KindEncode, -1, "EXIF of %d bytes does not fit one APP1 segment", len(md.EXIF))
		}
		writeSegment(&seg, mAPP1, []byte("Exif\x00\x00"), md.EXIF)
	}
	if n := (len(md.ICC) + maxICCChunk - 1) / maxICCChunk; n > 255 {
		return nil, errf(KindEncode, -1, "ICC profile of %d bytes needs %d chunks, over 255", len(md.ICC), n)
	} else {
		for i := 0; i < n; i++ {
			chunk := md.ICC[i*maxICCChunk : min(len(md.ICC), (i+1)*maxICCChunk)]
			writeSegment(&seg, mAPP2, append([]byte(iccHeader), byte(i+1), byte(n)), chunk)
		}
	}
	out := make([]byte, 0, len(enc)+seg.Len())
	out = append(out, enc[:at]...)
	out = append(out, seg.Bytes()...)
	return append(out, enc[at:]...), nil
}

func writeSegment(w *bytes.Buffer, marker byte, header, payload []byte) {
	n := 2 + len(header) + len(payload)
	w.Write([]byte{0xff, marker, byte(n >> 8), byte(n)})
	w.Write(header)
	w.Write(payload)
}
