package jpeg

import (
	"fmt"
	"math"
)

// QuantTable is one quantization table in natural (row-major) order, as DQT defines it
// (T.81 section B.2.4.1; the file stores it in zigzag order).
type QuantTable struct {
	Precision int // 8 or 16 bits, as stored
	Values    [64]uint16
}

// zigzag[k] is the natural-order index of the k-th coefficient in zigzag order (T.81 figure A.6).
var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// ijgLuma and ijgChroma are the example tables of T.81 Annex K (K.1, K.2) in natural order, which
// libjpeg's jpeg_set_quality scales (jcparam.c std_luminance_quant_tbl / std_chrominance_quant_tbl).
var ijgLuma = [64]uint16{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

var ijgChroma = [64]uint16{
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}

// TableKind selects which IJG reference table a quantization table is compared with.
type TableKind int

const (
	Luma TableKind = iota
	Chroma
)

// IJGTable returns the table libjpeg's jpeg_set_quality writes for quality 1..100 (clamped into
// that range): the Annex K table scaled by 5000/q below 50 and 200-2q from 50, rounded, at least
// 1, and at most 255 when baseline is set (force_baseline, as Pillow, OpenCV and Go write) or
// 32767 when not (cjpeg without -baseline, which then writes 16-bit tables).
func IJGTable(kind TableKind, quality int, baseline bool) QuantTable {
	base := &ijgLuma
	if kind == Chroma {
		base = &ijgChroma
	}
	quality = max(1, min(100, quality))
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	t := QuantTable{Precision: 8}
	for i, b := range base {
		v := (int(b)*scale + 50) / 100
		v = max(v, 1)
		if baseline {
			v = min(v, 255)
		} else {
			v = min(v, 32767)
		}
		if v > 255 {
			t.Precision = 16
		}
		t.Values[i] = uint16(v)
	}
	return t
}

// Confidence grades a quality estimate.
type Confidence string

const (
	// Exact: the table is exactly an IJG table; the quality factor is the one the encoder used.
	Exact Confidence = "exact"
	// Close: within 10% (relative RMS) of an IJG table, e.g. an encoder rounding differently.
	Close Confidence = "close"
	// Equivalent: a table of another family (camera, Photoshop, mozjpeg); the quality is the IJG
	// quality whose table quantizes about as hard, and should be read as such.
	Equivalent Confidence = "equivalent"
)

// QualityEstimate is the least-squares fit of a table to the IJG tables at quality 1..100.
type QualityEstimate struct {
	Quality int `json:"quality"` // best-fitting IJG quality, 1..100
	// Baseline reports whether the best fit was the baseline-clamped table family.
	Baseline bool `json:"baseline"`
	// RMSE is the root mean squared difference from that IJG table, in quantizer steps.
	RMSE float64 `json:"rmse"`
	// RelErr is RMSE divided by the RMS of the IJG table: a scale-free fit score, 0 when exact.
	RelErr     float64    `json:"rel_err"`
	Confidence Confidence `json:"confidence"`
}

func (q QualityEstimate) String() string {
	if q.Confidence == Exact {
		return fmt.Sprintf("Q%d", q.Quality)
	}
	return fmt.Sprintf("~Q%d (%s, rel err %.3f)", q.Quality, q.Confidence, q.RelErr)
}

// EstimateQuality fits t against the IJG tables of the given kind at every quality 1..100, both
// baseline-clamped and not, and returns the best least-squares fit. Among equally good fits
// (chroma tables at quality 1 and 2 are identical once clamped) the lowest quality wins, and the
// baseline family wins over the unclamped one.
func EstimateQuality(t *QuantTable, kind TableKind) QualityEstimate {
	best := QualityEstimate{RMSE: math.Inf(1)}
	var bestRef QuantTable
	for _, baseline := range []bool{true, false} {
		for q := 1; q <= 100; q++ {
			ref := IJGTable(kind, q, baseline)
			var sse float64
			for i, v := range t.Values {
				d := float64(v) - float64(ref.Values[i])
				sse += d * d
			}
			if rmse := math.Sqrt(sse / 64); rmse < best.RMSE {
				best = QualityEstimate{Quality: q, Baseline: baseline, RMSE: rmse}
				bestRef = ref
			}
		}
	}
	var ss float64
	for _, v := range bestRef.Values {
		ss += float64(v) * float64(v)
	}
	best.RelErr = best.RMSE / math.Sqrt(ss/64)
	switch {
	case best.RMSE == 0:
		best.Confidence = Exact
	case best.RelErr <= 0.10:
		best.Confidence = Close
	default:
		best.Confidence = Equivalent
	}
	return best
}

// Quality holds the estimates for a file: luma (the routing key) and chroma (absent for gray).
type Quality struct {
	Luma   QualityEstimate  `json:"luma"`
	Chroma *QualityEstimate `json:"chroma,omitempty"`
}

// EstimateFileQuality estimates the luma and chroma qualities of a parsed file.
func EstimateFileQuality(in *Info) Quality {
	var q Quality
	if t := in.LumaTable(); t != nil {
		q.Luma = EstimateQuality(t, Luma)
	}
	if t := in.ChromaTable(); t != nil {
		c := EstimateQuality(t, Chroma)
		q.Chroma = &c
	}
	return q
}

// ModelQTable returns the conditioning vector of the model contract: the luma table then the
// chroma table (the luma table again for gray images), natural order, divided by 255. Entries of
// 16-bit tables above 255 are clamped to 1.
func ModelQTable(in *Info) [128]float32 {
	var v [128]float32
	luma, chroma := in.LumaTable(), in.ChromaTable()
	if chroma == nil {
		chroma = luma
	}
	for i := 0; i < 64; i++ {
		if luma != nil {
			v[i] = float32(min(luma.Values[i], 255)) / 255
		}
		if chroma != nil {
			v[64+i] = float32(min(chroma.Values[i], 255)) / 255
		}
	}
	return v
}
