package jpeg

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdio.h>
#include <turbojpeg.h>
#include <jconfig.h>

#define JR_STR2(x) #x
#define JR_STR(x) JR_STR2(x)
static const char *jr_version(void) { return JR_STR(LIBJPEG_TURBO_VERSION); }

// jr_decompress decodes buf into dst (w*h*tjPixelSize[pf] bytes) with TurboJPEG's defaults: the
// ISLOW IDCT and fancy upsampling, exactly as djpeg. On failure it returns -1, stores the TurboJPEG
// error code (TJERR_WARNING: the image was decoded but libjpeg complained) and the message. All
// longjmp-based error handling stays inside TurboJPEG.
static int jr_decompress(const unsigned char *buf, unsigned long size, unsigned char *dst,
                         int w, int h, int pf, int flags, int *code, char *msg, int msglen) {
	tjhandle t = tjInitDecompress();
	if (t == NULL) {
		*code = TJERR_FATAL;
		snprintf(msg, msglen, "%s", tjGetErrorStr2(NULL));
		return -1;
	}
	int rc = tjDecompress2(t, buf, size, dst, w, 0, h, pf, flags);
	if (rc != 0) {
		*code = tjGetErrorCode(t);
		snprintf(msg, msglen, "%s", tjGetErrorStr2(t));
	}
	tjDestroy(t);
	return rc;
}
*/
import "C"

import (
	"strings"
	"unsafe"

	"jpegrestore/pix"
)

// CMYKMode says how 4-component (CMYK or YCCK) files are turned into RGB. libjpeg returns the
// stored CMYK samples; the conversion is the naive one without a colour profile:
// R = (255-C)(255-K)/255 for ink values C, K (and likewise G from M, B from Y).
type CMYKMode int

const (
	// CMYKAuto treats the samples as inverted (Adobe/Photoshop convention, where a stored value
	// is 255-ink) when the file has an Adobe APP14 segment, and as plain ink values otherwise.
	// This matches Go's image/jpeg and most viewers.
	CMYKAuto CMYKMode = iota
	// CMYKInverted always treats the samples as Adobe-inverted.
	CMYKInverted
	// CMYKPlain always treats the samples as ink values.
	CMYKPlain
)

// DecodeOptions configures Decode. The zero value decodes strictly with the default limits.
type DecodeOptions struct {
	Limits
	// ApplyOrientation rotates and flips the pixels upright according to the EXIF orientation.
	ApplyOrientation bool
	CMYK             CMYKMode
	// Lenient accepts files that libjpeg decodes with a warning (for example extraneous bytes
	// before a marker) and returns the warnings; by default a warning is an error.
	Lenient bool
}

// Decoded is a decoded image with what Parse found in its file.
type Decoded struct {
	Image pix.Image // 1 channel for gray files, 3 (RGB) for everything else
	Info  *Info
	// Oriented reports whether ApplyOrientation rotated or flipped the pixels.
	Oriented bool
	Warnings []string
}

// Decode parses data and decodes it to 8-bit pixels exactly as libjpeg's defaults (djpeg, Pillow,
// OpenCV) do. The frame size is checked against the limits before any pixel memory is allocated.
func Decode(data []byte, opt DecodeOptions) (*Decoded, error) {
	info, err := Parse(data, opt.Limits)
	if err != nil {
		return nil, err
	}
	return DecodeParsed(data, info, opt)
}

// DecodeParsed decodes data whose Info the caller already has from Parse with the same limits.
func DecodeParsed(data []byte, info *Info, opt DecodeOptions) (*Decoded, error) {
	if lim := opt.Limits.withDefaults(); info.Pixels() > lim.MaxPixels {
		return nil, errf(KindTooLarge, -1, "%dx%d is over the limit of %d pixels", info.Width, info.Height, lim.MaxPixels)
	}
	w, h := info.Width, info.Height
	var pf, size C.int
	switch info.ColorSpace {
	case ColorGray:
		pf, size = C.TJPF_GRAY, 1
	case ColorYCbCr, ColorRGB:
		pf, size = C.TJPF_RGB, 3
	case ColorCMYK, ColorYCCK:
		pf, size = C.TJPF_CMYK, 4
	default:
		return nil, errf(KindUnsupported, -1, "color space %s", info.ColorSpace)
	}
	buf := make([]byte, w*h*int(size))
	var code C.int
	var msg [256]C.char
	rc := C.jr_decompress((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&buf[0])), C.int(w), C.int(h), pf, C.TJFLAG_LIMITSCANS|C.TJFLAG_ACCURATEDCT,
		&code, &msg[0], C.int(len(msg)))
	out := &Decoded{Info: info}
	if rc != 0 {
		text := C.GoString(&msg[0])
		if code != C.TJERR_WARNING {
			return nil, libjpegError(text, false)
		}
		if !opt.Lenient {
			return nil, libjpegError(text, true)
		}
		out.Warnings = append(out.Warnings, text)
	}
	switch size {
	case 1:
		out.Image = pix.Image{W: w, H: h, C: 1, Pix: buf}
	case 3:
		out.Image = pix.Image{W: w, H: h, C: 3, Pix: buf}
	case 4:
		inverted := opt.CMYK == CMYKInverted || (opt.CMYK == CMYKAuto && info.AdobeTransform >= 0)
		out.Image = cmykToRGB(buf, w, h, inverted)
	}
	if opt.ApplyOrientation && info.Orientation > 1 {
		out.Image = Orient(out.Image, info.Orientation)
		out.Oriented = true
	}
	return out, nil
}

// LibraryVersion is the version of libjpeg-turbo this package was compiled against.
func LibraryVersion() string { return C.GoString(C.jr_version()) }

// libjpegError classifies a libjpeg message (jerror.h) into a Kind.
func libjpegError(msg string, warning bool) error {
	switch {
	case strings.Contains(msg, "Premature end"):
		return errf(KindTruncated, -1, "libjpeg: %s", msg)
	case strings.Contains(msg, "Unsupported"), strings.Contains(msg, "not supported"),
		strings.Contains(msg, "Requested feature"):
		return errf(KindUnsupported, -1, "libjpeg: %s", msg)
	case strings.Contains(msg, "Scan number") && strings.Contains(msg, "exceeds"):
		return errf(KindUnsupported, -1, "libjpeg: %s", msg)
	}
	if warning {
		return errf(KindCorrupt, -1, "libjpeg warning (decode with Lenient to accept): %s", msg)
	}
	return errf(KindCorrupt, -1, "libjpeg: %s", msg)
}

// cmykToRGB converts 4-byte CMYK samples with the naive formula of CMYKMode.
func cmykToRGB(src []byte, w, h int, inverted bool) pix.Image {
	out := pix.New(w, h, 3)
	for i := 0; i < w*h; i++ {
		c, m, y, k := int(src[4*i]), int(src[4*i+1]), int(src[4*i+2]), int(src[4*i+3])
		if !inverted {
			c, m, y, k = 255-c, 255-m, 255-y, 255-k
		}
		// c, m, y, k now hold 255-ink, so each product over 255 is the remaining light.
		out.Pix[3*i] = uint8((c*k + 127) / 255)
		out.Pix[3*i+1] = uint8((m*k + 127) / 255)
		out.Pix[3*i+2] = uint8((y*k + 127) / 255)
	}
	return out
}
