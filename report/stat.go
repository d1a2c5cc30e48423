package report

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// microScale is the fixed-point scale of Stat sums: one unit is 1e-6 of the measured quantity
// (a microsecond, a micro-dB), far below anything a report shows.
const microScale = 1e6

// maxStatValue bounds the magnitude of one added value, so that an absurd value cannot overflow
// a sum: at this bound an int64 sum holds 9.2 million values.
const maxStatValue = 1e6

// Stat is the count and the sum of one quantity over many records, from which its mean is
// derived. The sum is kept in integer fixed point (SumMicro, units of 1e-6), so adding and
// merging are exact: the same values give the same Stat in any order and any split, which a
// float64 sum does not. Each value is rounded to 1e-6 and clamped to ±1e6 when added; NaN and
// infinite values (the PSNR of identical images) are not counted. A sum beyond ±9.2e12
// saturates.
//
// In JSON a Stat reads {"n":3,"sum":12.5,"mean":4.166666666666667}; the sum is the exact
// decimal of SumMicro and "mean" is informative (ignored when decoding).
type Stat struct {
	N        int64
	SumMicro int64
}

// Add counts v (rounded to 1e-6, clamped to ±1e6); NaN and ±Inf are ignored.
func (s *Stat) Add(v float64) {
	if !finite(v) {
		return
	}
	s.addMicro(toMicro(v))
}

func (s *Stat) addMicro(m int64) {
	s.N++
	s.SumMicro = addSat(s.SumMicro, m)
}

// Merge adds the counts and sums of o to s.
func (s *Stat) Merge(o Stat) {
	s.N += o.N
	s.SumMicro = addSat(s.SumMicro, o.SumMicro)
}

// Sum returns the sum of the counted values.
func (s Stat) Sum() float64 { return float64(s.SumMicro) / microScale }

// Mean returns the mean of the counted values, or 0 when none were counted.
func (s Stat) Mean() float64 {
	if s.N == 0 {
		return 0
	}
	return float64(s.SumMicro) / microScale / float64(s.N)
}

// IsZero reports whether nothing was counted; fields tagged omitzero use it.
func (s Stat) IsZero() bool { return s.N == 0 && s.SumMicro == 0 }

// MarshalJSON writes {"n":N,"sum":SUM,"mean":MEAN} with SUM the exact decimal of the sum.
func (s Stat) MarshalJSON() ([]byte, error) {
	mean, err := json.Marshal(s.Mean())
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, `{"n":%d,"sum":%s,"mean":%s}`, s.N, formatMicro(s.SumMicro), mean), nil
}

// UnmarshalJSON reads what MarshalJSON writes; the sum is parsed exactly.
func (s *Stat) UnmarshalJSON(b []byte) error {
	var v struct {
		N   int64       `json:"n"`
		Sum json.Number `json:"sum"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m, err := parseMicro(string(v.Sum))
	if err != nil {
		return fmt.Errorf("report: stat sum %q: %w", v.Sum, err)
	}
	*s = Stat{N: v.N, SumMicro: m}
	return nil
}

// toMicro converts v to fixed point, rounding half away from zero and clamping to ±maxStatValue.
func toMicro(v float64) int64 {
	v = max(-maxStatValue, min(maxStatValue, v))
	return int64(math.Round(v * microScale))
}

// addSat returns a + b, saturated at the int64 range instead of wrapping around.
func addSat(a, b int64) int64 {
	c := a + b
	if (c > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

// formatMicro writes m/1e6 as an exact decimal without trailing zeros: 12500000 → "12.5".
func formatMicro(m int64) string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u/microScale, 10)
	if f := u % microScale; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", f), "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// parseMicro parses a decimal into units of 1e-6: exactly for plain decimals (digits beyond the
// sixth are rounded half away from zero), through float64 for other JSON numbers.
func parseMicro(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t, neg := strings.CutPrefix(s, "-")
	ip, fp, _ := strings.Cut(t, ".")
	if ip == "" || !digits(ip) || !digits(fp) || len(ip) > 12 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, err
		}
		return int64(math.Round(f * microScale)), nil
	}
	up := false
	if len(fp) > 6 {
		up = fp[6] >= '5'
		fp = fp[:6]
	}
	fp += strings.Repeat("0", 6-len(fp))
	i, err := strconv.ParseInt(ip, 10, 64)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseInt(fp, 10, 64)
	if err != nil {
		return 0, err
	}
	m := i*microScale + f
	if up {
		m++
	}
	if neg {
		m = -m
	}
	return m, nil
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
