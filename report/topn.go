package report

import (
	"cmp"
	"slices"
)

// TopN keeps, among restored records with measured no-reference scores, the N with the
// largest and the N with the smallest NR gain (NRAfter − NRBefore): the images the report shows
// as before/after crops. Its memory is bounded by 2N records whatever it is fed; two TopN merge
// into the TopN of the union, and ties are broken by Rel then URI, so the result does not
// depend on the order records arrive in. Like Summary, it can serve as a combiner accumulator.
type TopN struct {
	// N is how many records each list keeps.
	N int `json:"n"`
	// Most holds the largest gains, largest first.
	Most []Record `json:"most,omitempty"`
	// Least holds the smallest gains, smallest first.
	Least []Record `json:"least,omitempty"`
}

// NewTopN returns a TopN keeping n records per list; n < 0 counts as 0.
func NewTopN(n int) *TopN {
	return &TopN{N: max(n, 0)}
}

// Eligible reports whether TopN considers r: restored, with a measured, finite NR gain.
func Eligible(r Record) bool {
	return r.Status == StatusRestored && r.NRMeasured() && finite(r.NRGain())
}

// Add offers one record; records that are not Eligible are ignored.
func (t *TopN) Add(r Record) {
	if !Eligible(r) || t.N <= 0 {
		return
	}
	t.Most = keep(t.Most, r, t.N, byGainDesc)
	t.Least = keep(t.Least, r, t.N, byGainAsc)
}

// Merge offers every record kept by o; o is not modified. A zero t takes o's N.
func (t *TopN) Merge(o *TopN) {
	if o == nil {
		return
	}
	if t.N == 0 {
		t.N = o.N
	}
	for _, r := range o.Most {
		t.Most = keep(t.Most, r, t.N, byGainDesc)
	}
	for _, r := range o.Least {
		t.Least = keep(t.Least, r, t.N, byGainAsc)
	}
}

// SelectExamples returns the n records of rs with the largest NR gain (largest first) and the n
// with the smallest (smallest first), as a TopN fed with rs would keep them.
func SelectExamples(rs []Record, n int) (most, least []Record) {
	t := NewTopN(n)
	for _, r := range rs {
		t.Add(r)
	}
	return t.Most, t.Least
}

// keep inserts r into the sorted list rs and trims it to n entries.
func keep(rs []Record, r Record, n int, order func(a, b Record) int) []Record {
	i, found := slices.BinarySearchFunc(rs, r, order)
	if found {
		return rs // the same input (gain, Rel and URI) offered twice
	}
	if i >= n {
		return rs
	}
	rs = slices.Insert(rs, i, r)
	if len(rs) > n {
		clear(rs[n:])
		rs = rs[:n]
	}
	return rs
}

func byRel(a, b Record) int {
	return cmp.Or(cmp.Compare(a.Rel, b.Rel), cmp.Compare(a.URI, b.URI))
}

func byGainDesc(a, b Record) int {
	return cmp.Or(cmp.Compare(b.NRGain(), a.NRGain()), byRel(a, b))
}

func byGainAsc(a, b Record) int {
	return cmp.Or(cmp.Compare(a.NRGain(), b.NRGain()), byRel(a, b))
}
