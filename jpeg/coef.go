package jpeg

/*
#cgo LDFLAGS: -ljpeg
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

// A libjpeg decompressor whose errors longjmp back to the call that met them, with the message kept.
typedef struct {
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr err;
	struct jpeg_progress_mgr progress;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
} jr_coefs;

static void jr_error_exit(j_common_ptr c) {
	jr_coefs *r = (jr_coefs *)c;
	(*c->err->format_message)(c, r->msg);
	longjmp(r->jump, 1);
}

// Warnings (corrupt-data messages) are not errors here: Decode has already judged the file.
static void jr_emit_message(j_common_ptr c, int level) { (void)c; (void)level; }

// The same bound on progressive scans as Decode's TJFLAG_LIMITSCANS.
static void jr_progress(j_common_ptr c) {
	j_decompress_ptr d = (j_decompress_ptr)c;
	if (d->is_decompressor && d->input_scan_number > 500) {
		jr_coefs *r = (jr_coefs *)c;
		snprintf(r->msg, sizeof r->msg, "Scan number %d exceeds maximum scans (500)", d->input_scan_number);
		longjmp(r->jump, 1);
	}
}

// jr_read_coefs reads the coefficients of buf into dst, component after component, each block
// row after block row (64 shorts per block, natural order), with the sampling factors, the
// quantization tables and the color space. The caller's expected component count and block
// counts must match libjpeg's. On failure it returns -1 and the message.
static int jr_read_coefs(const unsigned char *buf, unsigned long size, short *dst, size_t dstlen,
                         int ncomp, const int *bw, const int *bh, int *h, int *v, unsigned short *q,
                         int *color, char *msg, int msglen) {
	jr_coefs *r = calloc(1, sizeof *r);
	if (r == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	r->d.err = jpeg_std_error(&r->err);
	r->err.error_exit = jr_error_exit;
	r->err.emit_message = jr_emit_message;
	if (setjmp(r->jump)) {
		snprintf(msg, msglen, "%s", r->msg);
		jpeg_destroy_decompress(&r->d);
		free(r);
		return -1;
	}
	jpeg_create_decompress(&r->d);
	r->progress.progress_monitor = jr_progress;
	r->d.progress = &r->progress;
	jpeg_mem_src(&r->d, buf, size);
	jpeg_read_header(&r->d, TRUE);
	jvirt_barray_ptr *coefs = jpeg_read_coefficients(&r->d);
	int rc = 0;
	if (r->d.num_components != ncomp) {
		snprintf(msg, msglen, "libjpeg reads %d components, the markers say %d", r->d.num_components, ncomp);
		rc = -1;
	}
	size_t at = 0;
	for (int c = 0; rc == 0 && c < ncomp; c++) {
		jpeg_component_info *ci = &r->d.comp_info[c];
		if ((int)ci->width_in_blocks != bw[c] || (int)ci->height_in_blocks != bh[c] || ci->quant_table == NULL) {
			snprintf(msg, msglen, "component %d: %ux%u blocks, the markers say %dx%d", c,
			         ci->width_in_blocks, ci->height_in_blocks, bw[c], bh[c]);
			rc = -1;
			break;
		}
		size_t n = (size_t)bw[c] * bh[c] * DCTSIZE2;
		if (at + n > dstlen) {
			snprintf(msg, msglen, "coefficient buffer too small");
			rc = -1;
			break;
		}
		h[c] = ci->h_samp_factor;
		v[c] = ci->v_samp_factor;
		for (int i = 0; i < DCTSIZE2; i++) q[c * DCTSIZE2 + i] = ci->quant_table->quantval[i];
		for (int y = 0; y < bh[c]; y++) {
			JBLOCKARRAY row = (*r->d.mem->access_virt_barray)((j_common_ptr)&r->d, coefs[c], y, 1, FALSE);
			memcpy(dst + at + (size_t)y * bw[c] * DCTSIZE2, row[0], (size_t)bw[c] * sizeof(JBLOCK));
		}
		at += n;
	}
	*color = r->d.jpeg_color_space;
	jpeg_destroy_decompress(&r->d);
	free(r);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Coefficients are the quantized DCT coefficients of a file, as libjpeg reads them before its
// inverse DCT: what the file says about each 8×8 block of each component.
type Coefficients struct {
	Width, Height int
	// ColorSpace is libjpeg's reading of the components (the same rules as Info.ColorSpace).
	ColorSpace ColorSpace
	// MaxH and MaxV are the largest sampling factors; component c covers MaxH/H × MaxV/V pixels
	// per sample.
	MaxH, MaxV int
	Components []ComponentCoefficients
}

// ComponentCoefficients are one component's blocks.
type ComponentCoefficients struct {
	H, V int // sampling factors
	// BlocksW and BlocksH count the blocks that cover the component (libjpeg's width_in_blocks
	// and height_in_blocks); the last ones may reach past the image's edge.
	BlocksW, BlocksH int
	// Quant is the quantization table the component was coded with, natural (row-major) order.
	Quant [64]uint16
	// Coef holds the blocks row by row, 64 coefficients each in natural order: the coefficient
	// (u, v) of block (bx, by) is Coef[(by*BlocksW+bx)*64 + v*8 + u], in units of Quant[v*8+u].
	Coef []int16
}

// Block returns the 64 coefficients of block (bx, by).
func (c *ComponentCoefficients) Block(bx, by int) []int16 {
	i := (by*c.BlocksW + bx) * 64
	return c.Coef[i : i+64 : i+64]
}

// ReadCoefficients reads the quantized DCT coefficients of data, whose Info the caller has from
// Parse (with the limits Decode applies). It reads what Decode decodes (baseline, extended and
// progressive 8-bit files, Huffman or arithmetic); libjpeg's warnings about damaged data are not
// errors here, as Decode has judged the file.
func ReadCoefficients(data []byte, info *Info) (*Coefficients, error) {
	if info.Precision != 8 {
		return nil, errf(KindUnsupported, -1, "%d-bit samples", info.Precision)
	}
	n := len(info.Components)
	if len(data) == 0 || n == 0 || n > 4 {
		return nil, errf(KindCorrupt, -1, "%d components", n)
	}
	out := &Coefficients{Width: info.Width, Height: info.Height}
	for _, c := range info.Components {
		if c.H < 1 || c.V < 1 {
			return nil, errf(KindCorrupt, -1, "sampling factors %dx%d", c.H, c.V)
		}
		out.MaxH, out.MaxV = max(out.MaxH, c.H), max(out.MaxV, c.V)
	}
	var bw, bh, h, v [4]C.int
	var q [4 * 64]C.ushort
	total := 0
	for i, c := range info.Components {
		// libjpeg's jdinput.c: a component's size in blocks, rounded up.
		bw[i] = C.int(ceilDiv(info.Width*c.H, out.MaxH*8))
		bh[i] = C.int(ceilDiv(info.Height*c.V, out.MaxV*8))
		total += int(bw[i]) * int(bh[i]) * 64
	}
	if total == 0 {
		return nil, errf(KindCorrupt, -1, "%dx%d frame", info.Width, info.Height)
	}
	coef := make([]int16, total)
	var color C.int
	var msg [C.JMSG_LENGTH_MAX]C.char
	rc := C.jr_read_coefs((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.short)(unsafe.Pointer(&coef[0])), C.size_t(len(coef)), C.int(n), &bw[0], &bh[0], &h[0], &v[0], &q[0],
		&color, &msg[0], C.int(len(msg)))
	if rc != 0 {
		return nil, libjpegError(C.GoString(&msg[0]), false)
	}
	out.ColorSpace = colorSpaceOf(int(color))
	at := 0
	for i := 0; i < n; i++ {
		cc := ComponentCoefficients{H: int(h[i]), V: int(v[i]), BlocksW: int(bw[i]), BlocksH: int(bh[i])}
		for k := range cc.Quant {
			cc.Quant[k] = uint16(q[i*64+k])
		}
		size := cc.BlocksW * cc.BlocksH * 64
		cc.Coef = coef[at : at+size : at+size]
		at += size
		out.Components = append(out.Components, cc)
	}
	return out, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// colorSpaceOf maps libjpeg's J_COLOR_SPACE of the coded components to ColorSpace.
func colorSpaceOf(cs int) ColorSpace {
	switch cs {
	case C.JCS_GRAYSCALE:
		return ColorGray
	case C.JCS_YCbCr:
		return ColorYCbCr
	case C.JCS_RGB:
		return ColorRGB
	case C.JCS_CMYK:
		return ColorCMYK
	case C.JCS_YCCK:
		return ColorYCCK
	}
	return ColorSpace(0)
}

// String describes the coefficients briefly.
func (c *Coefficients) String() string {
	return fmt.Sprintf("%dx%d %s, %d components", c.Width, c.Height, c.ColorSpace, len(c.Components))
}
