package jpeg

import "fmt"

// Marker codes, from table B.1 of T.81.
const (
	mSOF0  = 0xc0 // baseline DCT, Huffman
	mSOF1  = 0xc1 // extended sequential DCT, Huffman
	mSOF2  = 0xc2 // progressive DCT, Huffman
	mSOF3  = 0xc3 // lossless, Huffman
	mDHT   = 0xc4
	mSOF5  = 0xc5 // differential (hierarchical) sequential
	mSOF6  = 0xc6
	mSOF7  = 0xc7
	mJPG   = 0xc8 // reserved for JPEG extensions
	mSOF9  = 0xc9 // extended sequential DCT, arithmetic
	mSOF10 = 0xca // progressive DCT, arithmetic
	mSOF11 = 0xcb // lossless, arithmetic
	mDAC   = 0xcc
	mSOF13 = 0xcd
	mSOF14 = 0xce
	mSOF15 = 0xcf
	mRST0  = 0xd0
	mRST7  = 0xd7
	mSOI   = 0xd8
	mEOI   = 0xd9
	mSOS   = 0xda
	mDQT   = 0xdb
	mDNL   = 0xdc
	mDRI   = 0xdd
	mDHP   = 0xde
	mEXP   = 0xdf
	mAPP0  = 0xe0
	mAPP1  = 0xe1
	mAPP2  = 0xe2
	mAPP14 = 0xee
	mAPP15 = 0xef
	mCOM   = 0xfe
	mTEM   = 0x01
)

// Process is the coding process a frame header declares (T.81 section 4.11).
type Process int

const (
	// Baseline is SOF0: 8-bit, Huffman, at most two tables of each kind.
	Baseline Process = iota + 1
	// ExtendedSequential is SOF1 (Huffman) or SOF9 (arithmetic).
	ExtendedSequential
	// Progressive is SOF2 (Huffman) or SOF10 (arithmetic).
	Progressive
)

func (p Process) String() string {
	switch p {
	case Baseline:
		return "baseline"
	case ExtendedSequential:
		return "extended"
	case Progressive:
		return "progressive"
	}
	return "unknown"
}

func markerName(m byte) string {
	switch {
	case m == mSOF3 || m == mSOF11:
		return "lossless SOF"
	case m >= mSOF5 && m <= mSOF7, m >= mSOF13 && m <= mSOF15:
		return "hierarchical SOF"
	case m >= mRST0 && m <= mRST7:
		return fmt.Sprintf("RST%d", m-mRST0)
	case m >= mAPP0 && m <= mAPP15:
		return fmt.Sprintf("APP%d", m-mAPP0)
	}
	switch m {
	case mSOF0, mSOF1, mSOF2, mSOF9, mSOF10:
		return fmt.Sprintf("SOF%d", m-mSOF0)
	case mDHT:
		return "DHT"
	case mDAC:
		return "DAC"
	case mSOI:
		return "SOI"
	case mEOI:
		return "EOI"
	case mSOS:
		return "SOS"
	case mDQT:
		return "DQT"
	case mDNL:
		return "DNL"
	case mDRI:
		return "DRI"
	case mDHP:
		return "DHP"
	case mEXP:
		return "EXP"
	case mCOM:
		return "COM"
	}
	return fmt.Sprintf("marker 0x%02X", m)
}
