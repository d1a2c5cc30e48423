package jpeg

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ColorSpace is the color space of the coded components, inferred the way libjpeg does
// (jdapimin.c default_decompress_parms): from the component count, the JFIF and Adobe segments and
// the component IDs.
type ColorSpace int

const (
	ColorGray ColorSpace = iota + 1
	ColorYCbCr
	ColorRGB
	ColorCMYK
	ColorYCCK
)

func (c ColorSpace) String() string {
	switch c {
	case ColorGray:
		return "gray"
	case ColorYCbCr:
		return "ycbcr"
	case ColorRGB:
		return "rgb"
	case ColorCMYK:
		return "cmyk"
	case ColorYCCK:
		return "ycck"
	}
	return "unknown"
}

// Component is one frame component (T.81 section B.2.2).
type Component struct {
	ID    uint8 `json:"id"`
	H     int   `json:"h"`     // horizontal sampling factor, 1..4
	V     int   `json:"v"`     // vertical sampling factor, 1..4
	Table int   `json:"table"` // quantization table selector Tq, 0..3
}

// Info is everything Parse learns from a file's markers, without decoding pixels.
type Info struct {
	Width, Height int
	Precision     int // sample precision in bits (8 is the only one Decode takes)
	Process       Process
	Arithmetic    bool // arithmetic entropy coding (SOF9/SOF10)
	Components    []Component
	ColorSpace    ColorSpace
	// Tables holds the quantization tables by selector, as in force when the first scan starts
	// (which is when libjpeg latches them); nil where a selector was never defined.
	Tables          [4]*QuantTable
	RestartInterval int
	Scans           int
	JFIF            bool
	// AdobeTransform is the APP14 "Adobe" transform flag (0 none/CMYK/RGB, 1 YCbCr, 2 YCCK), or -1
	// when the file has no Adobe segment.
	AdobeTransform int
	// EXIF is the TIFF structure of an APP1 "Exif" segment (without the "Exif\0\0" header).
	EXIF []byte
	// Orientation is the EXIF orientation, 1..8, or 0 when the file has none.
	Orientation int
	// XMP is the packet of an APP1 XMP segment.
	XMP []byte
	// ICC is the ICC profile reassembled from APP2 chunks, or nil.
	ICC      []byte
	Comments []string
	// TrailingBytes counts bytes after EOI (often harmless padding or a second image).
	TrailingBytes int
}

// Pixels returns Width×Height.
func (in *Info) Pixels() int64 { return int64(in.Width) * int64(in.Height) }

// Subsampling names the chroma subsampling: "gray", "4:4:4", "4:2:2", "4:2:0", "4:4:0", "4:1:1",
// or "other" for any other factor combination.
func (in *Info) Subsampling() string {
	if len(in.Components) == 1 {
		return "gray"
	}
	if len(in.Components) < 3 {
		return "other"
	}
	y, cb, cr := in.Components[0], in.Components[1], in.Components[2]
	if cb.H != cr.H || cb.V != cr.V {
		return "other"
	}
	for _, c := range in.Components[3:] {
		if c.H != y.H || c.V != y.V {
			return "other"
		}
	}
	if cb.H != 1 || cb.V != 1 {
		if cb.H == y.H && cb.V == y.V {
			return "4:4:4"
		}
		return "other"
	}
	switch [2]int{y.H, y.V} {
	case [2]int{1, 1}:
		return "4:4:4"
	case [2]int{2, 1}:
		return "4:2:2"
	case [2]int{2, 2}:
		return "4:2:0"
	case [2]int{1, 2}:
		return "4:4:0"
	case [2]int{4, 1}:
		return "4:1:1"
	}
	return "other"
}

// LumaTable returns the quantization table of the first component (luma for YCbCr and gray).
func (in *Info) LumaTable() *QuantTable {
	if len(in.Components) == 0 {
		return nil
	}
	return in.Tables[in.Components[0].Table]
}

// ChromaTable returns the quantization table of the second component, or nil for gray images.
func (in *Info) ChromaTable() *QuantTable {
	if len(in.Components) < 2 {
		return nil
	}
	return in.Tables[in.Components[1].Table]
}

// Limits bounds what Parse accepts. The zero value means the defaults.
type Limits struct {
	// MaxPixels rejects frames with more pixels (KindTooLarge); default DefaultMaxPixels.
	MaxPixels int64
	// MaxScans rejects files with more scans (KindUnsupported); default 1000. Hostile
	// progressive files with thousands of tiny scans otherwise cost unbounded decode time.
	MaxScans int
}

// DefaultMaxPixels is the default pixel limit: 200 megapixels.
const DefaultMaxPixels = 200_000_000

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxScans <= 0 {
		l.MaxScans = 1000
	}
	return l
}

// Parse reads the markers of a JPEG file (T.81 Annex B) without decoding pixels. It walks the
// whole file, entropy-coded data included, so a file that ends before its EOI is reported as
// truncated. Every error is an *Error.
func Parse(data []byte, lim Limits) (*Info, error) {
	lim = lim.withDefaults()
	p := parser{data: data, lim: lim, info: &Info{AdobeTransform: -1}}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.info, nil
}

type parser struct {
	data   []byte
	lim    Limits
	info   *Info
	tables [4]*QuantTable // the tables currently defined
	sof    bool
	icc    iccChunks
}

func (p *parser) run() error {
	d := p.data
	if len(d) < 2 || d[0] != 0xff || d[1] != mSOI {
		if len(d) == 0 {
			return errf(KindNotJPEG, -1, "empty input")
		}
		return errf(KindNotJPEG, 0, "no SOI marker: starts with % x", d[:min(len(d), 4)])
	}
	pos := 2
	for {
		m, at, err := p.nextMarker(pos)
		if err != nil {
			return err
		}
		pos = at + 2
		switch {
		case m == mEOI:
			return p.finish(pos)
		case m == mSOI:
			return errf(KindCorrupt, at, "second SOI before EOI")
		case m >= mRST0 && m <= mRST7, m == mTEM:
			continue // parameterless; tolerated outside scans as libjpeg does
		}
		if pos+2 > len(d) {
			return errf(KindTruncated, at, "file ends inside the %s segment length", markerName(m))
		}
		n := int(binary.BigEndian.Uint16(d[pos:]))
		if n < 2 {
			return errf(KindCorrupt, pos, "%s segment length %d < 2", markerName(m), n)
		}
		if pos+n > len(d) {
			return errf(KindTruncated, pos, "%s segment of %d bytes runs past the end of the file (%d left)", markerName(m), n, len(d)-pos)
		}
		seg := d[pos+2 : pos+n]
		segOff := pos + 2
		pos += n
		if err := p.segment(m, seg, segOff); err != nil {
			return err
		}
		if m == mSOS {
			end, err := p.skipScan(pos)
			if err != nil {
				return err
			}
			pos = end
		}
	}
}

// nextMarker finds the marker at pos, skipping fill bytes (T.81 B.1.1.2). Anything else between
// segments is corrupt.
func (p *parser) nextMarker(pos int) (m byte, at int, err error) {
	d := p.data
	if pos >= len(d) {
		return 0, pos, errf(KindTruncated, pos, "file ends without EOI")
	}
	if d[pos] != 0xff {
		return 0, pos, errf(KindCorrupt, pos, "expected a marker, found 0x%02x", d[pos])
	}
	for pos+1 < len(d) && d[pos+1] == 0xff {
		pos++
	}
	if pos+1 >= len(d) {
		return 0, pos, errf(KindTruncated, pos, "file ends inside a marker")
	}
	if d[pos+1] == 0 {
		return 0, pos, errf(KindCorrupt, pos, "stuffed byte 0xFF00 outside entropy-coded data")
	}
	return d[pos+1], pos, nil
}

// skipScan skips entropy-coded data (with its RSTn markers and 0xFF00 stuffing) and returns the
// offset of the marker that ends it.
func (p *parser) skipScan(pos int) (int, error) {
	d := p.data
	for {
		i := bytes.IndexByte(d[pos:], 0xff)
		if i < 0 {
			return 0, errf(KindTruncated, len(d), "file ends inside scan %d's entropy-coded data", p.info.Scans)
		}
		pos += i
		j := pos + 1
		for j < len(d) && d[j] == 0xff {
			j++
		}
		if j >= len(d) {
			return 0, errf(KindTruncated, len(d), "file ends inside scan %d's entropy-coded data", p.info.Scans)
		}
		if c := d[j]; c == 0 || (c >= mRST0 && c <= mRST7) {
			pos = j + 1
			continue
		}
		return j - 1, nil
	}
}

func (p *parser) finish(end int) error {
	in := p.info
	if !p.sof {
		return errf(KindCorrupt, end, "EOI before any frame header")
	}
	if in.Scans == 0 {
		return errf(KindCorrupt, end, "no scan before EOI")
	}
	for i, c := range in.Components {
		if in.Tables[c.Table] == nil {
			return errf(KindCorrupt, -1, "component %d uses quantization table %d, which is never defined", i, c.Table)
		}
	}
	in.ColorSpace = p.colorSpace()
	if len(in.EXIF) > 0 {
		in.Orientation = exifOrientation(in.EXIF)
	}
	icc, err := p.icc.assemble()
	if err != nil {
		return err
	}
	in.ICC = icc
	in.TrailingBytes = len(p.data) - end
	return nil
}

func (p *parser) segment(m byte, seg []byte, off int) error {
	in := p.info
	switch {
	case m == mSOF0 || m == mSOF1 || m == mSOF2 || m == mSOF9 || m == mSOF10:
		return p.sofSegment(m, seg, off)
	case m == mSOF3 || m == mSOF11:
		return errf(KindUnsupported, off-4, "lossless JPEG (%s)", markerName(m))
	case (m >= mSOF5 && m <= mSOF7) || (m >= mSOF13 && m <= mSOF15) || m == mDHP || m == mEXP:
		return errf(KindUnsupported, off-4, "hierarchical JPEG (%s)", markerName(m))
	case m == mJPG || (m >= 0xf0 && m <= 0xfd):
		return errf(KindUnsupported, off-4, "JPEG extension marker 0x%02X", m)
	case m == mDQT:
		return p.dqtSegment(seg, off)
	case m == mDHT:
		return dhtSegment(seg, off)
	case m == mDRI:
		if len(seg) != 2 {
			return errf(KindCorrupt, off, "DRI segment of %d bytes, want 2", len(seg))
		}
		in.RestartInterval = int(binary.BigEndian.Uint16(seg))
	case m == mSOS:
		return p.sosSegment(seg, off)
	case m == mDNL:
		return errf(KindUnsupported, off-4, "DNL marker (frame height given after the first scan)")
	case m == mAPP0:
		if bytes.HasPrefix(seg, []byte("JFIF\x00")) {
			in.JFIF = true
		}
	case m == mAPP1:
		switch {
		case bytes.HasPrefix(seg, []byte("Exif\x00\x00")):
			if in.EXIF == nil {
				in.EXIF = seg[6:]
			}
		case bytes.HasPrefix(seg, []byte(xmpHeader)):
			if in.XMP == nil {
				in.XMP = seg[len(xmpHeader):]
			}
		}
	case m == mAPP2:
		if bytes.HasPrefix(seg, []byte(iccHeader)) {
			return p.icc.add(seg, off)
		}
	case m == mAPP14:
		if len(seg) >= 12 && bytes.HasPrefix(seg, []byte("Adobe")) {
			in.AdobeTransform = int(seg[11])
		}
	case m == mCOM:
		in.Comments = append(in.Comments, string(seg))
	}
	// DAC and other APPn segments: nothing Parse needs.
	return nil
}

func (p *parser) sofSegment(m byte, seg []byte, off int) error {
	in := p.info
	if p.sof {
		return errf(KindCorrupt, off-4, "second frame header %s", markerName(m))
	}
	p.sof = true
	if len(seg) < 6 {
		return errf(KindCorrupt, off, "frame header of %d bytes is too short", len(seg))
	}
	in.Precision = int(seg[0])
	in.Height = int(binary.BigEndian.Uint16(seg[1:]))
	in.Width = int(binary.BigEndian.Uint16(seg[3:]))
	nc := int(seg[5])
	switch m {
	case mSOF0:
		in.Process = Baseline
	case mSOF1, mSOF9:
		in.Process = ExtendedSequential
	case mSOF2, mSOF10:
		in.Process = Progressive
	}
	in.Arithmetic = m == mSOF9 || m == mSOF10
	if in.Precision != 8 {
		if in.Precision == 12 || in.Precision == 16 {
			return errf(KindUnsupported, off, "%d-bit samples (only 8-bit JPEG is decoded)", in.Precision)
		}
		return errf(KindCorrupt, off, "sample precision %d", in.Precision)
	}
	if in.Width == 0 {
		return errf(KindCorrupt, off+3, "frame width 0")
	}
	if in.Height == 0 {
		return errf(KindUnsupported, off+1, "frame height 0 (height defined by a DNL marker)")
	}
	if px := in.Pixels(); px > p.lim.MaxPixels {
		return errf(KindTooLarge, off+1, "%dx%d is %d pixels, over the limit of %d", in.Width, in.Height, px, p.lim.MaxPixels)
	}
	if nc != 1 && nc != 3 && nc != 4 {
		return errf(KindUnsupported, off+5, "%d components (want 1, 3 or 4)", nc)
	}
	if len(seg) != 6+3*nc {
		return errf(KindCorrupt, off, "frame header of %d bytes for %d components, want %d", len(seg), nc, 6+3*nc)
	}
	for i := 0; i < nc; i++ {
		b := seg[6+3*i:]
		c := Component{ID: b[0], H: int(b[1] >> 4), V: int(b[1] & 15), Table: int(b[2])}
		if c.H < 1 || c.H > 4 || c.V < 1 || c.V > 4 {
			return errf(KindCorrupt, off+6+3*i, "component %d sampling factors %dx%d out of 1..4", i, c.H, c.V)
		}
		if c.Table > 3 {
			return errf(KindCorrupt, off+6+3*i, "component %d uses quantization table %d > 3", i, c.Table)
		}
		for _, o := range in.Components {
			if o.ID == c.ID {
				return errf(KindCorrupt, off+6+3*i, "duplicate component ID %d", c.ID)
			}
		}
		in.Components = append(in.Components, c)
	}
	return nil
}

func (p *parser) sosSegment(seg []byte, off int) error {
	in := p.info
	if !p.sof {
		return errf(KindCorrupt, off-4, "SOS before the frame header")
	}
	if len(seg) < 1 {
		return errf(KindCorrupt, off, "empty SOS segment")
	}
	ns := int(seg[0])
	if ns < 1 || ns > 4 || len(seg) != 4+2*ns {
		return errf(KindCorrupt, off, "SOS of %d bytes with %d components", len(seg), ns)
	}
	for i := 0; i < ns; i++ {
		id := seg[1+2*i]
		found := false
		for _, c := range in.Components {
			found = found || c.ID == id
		}
		if !found {
			return errf(KindCorrupt, off+1+2*i, "scan names component ID %d, which the frame lacks", id)
		}
	}
	if in.Scans == 0 {
		in.Tables = p.tables // libjpeg latches the tables at the first scan of each component
	}
	in.Scans++
	if in.Scans > p.lim.MaxScans {
		return errf(KindUnsupported, off, "more than %d scans", p.lim.MaxScans)
	}
	return nil
}

// dqtSegment reads one or more tables (T.81 section B.2.4.1).
func (p *parser) dqtSegment(seg []byte, off int) error {
	for i := 0; i < len(seg); {
		pq, tq := int(seg[i]>>4), int(seg[i]&15)
		if pq > 1 {
			return errf(KindCorrupt, off+i, "quantization table precision %d", pq)
		}
		if tq > 3 {
			return errf(KindCorrupt, off+i, "quantization table id %d > 3", tq)
		}
		size := 64 * (1 + pq)
		if i+1+size > len(seg) {
			return errf(KindCorrupt, off+i, "DQT segment too short for table %d", tq)
		}
		t := &QuantTable{Precision: 8 * (1 + pq)}
		for k := 0; k < 64; k++ {
			var v int
			if pq == 0 {
				v = int(seg[i+1+k])
			} else {
				v = int(binary.BigEndian.Uint16(seg[i+1+2*k:]))
			}
			if v == 0 {
				return errf(KindCorrupt, off+i, "quantization table %d has a zero entry", tq)
			}
			t.Values[zigzag[k]] = uint16(v)
		}
		p.tables[tq] = t
		i += 1 + size
	}
	return nil
}

// dhtSegment checks the structure of one or more Huffman tables (T.81 section B.2.4.2): class and
// id in range, and the 16 code-length counts adding up to at most 256 values that fit the segment.
// Whether the codes form a valid prefix code is left to libjpeg.
func dhtSegment(seg []byte, off int) error {
	for i := 0; i < len(seg); {
		if i+17 > len(seg) {
			return errf(KindCorrupt, off+i, "DHT segment too short for its code-length counts")
		}
		tc, th := seg[i]>>4, seg[i]&15
		if tc > 1 || th > 3 {
			return errf(KindCorrupt, off+i, "Huffman table class %d id %d", tc, th)
		}
		n := 0
		for _, c := range seg[i+1 : i+17] {
			n += int(c)
		}
		if n > 256 || i+17+n > len(seg) {
			return errf(KindCorrupt, off+i, "Huffman table with %d values in a %d-byte segment", n, len(seg))
		}
		i += 17 + n
	}
	return nil
}

func (p *parser) colorSpace() ColorSpace {
	in := p.info
	switch len(in.Components) {
	case 1:
		return ColorGray
	case 3:
		if in.JFIF {
			return ColorYCbCr
		}
		if in.AdobeTransform >= 0 {
			if in.AdobeTransform == 0 {
				return ColorRGB
			}
			return ColorYCbCr
		}
		c := in.Components
		if c[0].ID == 'R' && c[1].ID == 'G' && c[2].ID == 'B' {
			return ColorRGB
		}
		return ColorYCbCr
	case 4:
		if in.AdobeTransform == 2 {
			return ColorYCCK
		}
		return ColorCMYK
	}
	return 0
}

// String summarises the frame in one line, e.g. "640x480 ycbcr 4:2:0 baseline".
func (in *Info) String() string {
	s := fmt.Sprintf("%dx%d %s %s %s", in.Width, in.Height, in.ColorSpace, in.Subsampling(), in.Process)
	if in.Arithmetic {
		s += " arithmetic"
	}
	return s
}
