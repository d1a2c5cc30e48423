package report

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQFBand(t *testing.T) {
	tests := []struct {
		qf   int
		want string
	}{
		{-3, ""}, {0, ""}, {1, "1-9"}, {9, "1-9"}, {10, "10-19"}, {19, "10-19"}, {55, "50-59"},
		{89, "80-89"}, {90, "90-100"}, {100, "90-100"}, {101, ""},
	}
	for _, tc := range tests {
		if got := QFBand(tc.qf); got != tc.want {
			t.Errorf("QFBand(%d) = %q, want %q", tc.qf, got, tc.want)
		}
	}
}

func TestAdd(t *testing.T) {
	restored := Record{
		URI: "gs://arch/2019/a.jpg", Rel: "2019/a.jpg", Bucket: "arch", Prefix: "2019", Status: StatusRestored,
		Route: "strong", QF: 15, Width: 2000, Height: 1000, NRBefore: 2.5, NRAfter: 6.25,
		BlockinessBefore: 4, BlockinessAfter: 1.5,
		Timings: map[Stage]float64{StageRead: 0.5, StageEnhance: 1.5},
	}
	tests := []struct {
		name    string
		records []Record
		want    *Summary
	}{
		{
			name:    "no records",
			records: nil,
			want:    &Summary{Version: SummaryVersion},
		},
		{
			name:    "one restored",
			records: []Record{restored},
			want: func() *Summary {
				st := Stats{
					Matched: 1, Restored: 1, QFHist: [QFBins]int64{1: 1}, NRHist: [NRBins]int64{2: 1}, Pixels: 2e6, RestoredPixels: 2e6,
					NRBefore: Stat{1, 2500000}, NRAfter: Stat{1, 6250000},
					BlockinessBefore: Stat{1, 4000000}, BlockinessAfter: Stat{1, 1500000},
					Seconds:         map[Stage]Stat{StageRead: {1, 500000}, StageEnhance: {1, 1500000}},
					RestoredSeconds: Stat{1, 2000000},
				}
				return &Summary{
					Version:  SummaryVersion,
					Totals:   st,
					Prefixes: []Group{{GroupKey{Bucket: "arch", Prefix: "2019"}, st}},
					Groups:   []Group{{GroupKey{"arch", "2019", "strong", "10-19"}, st}},
				}
			}(),
		},
		{
			name: "skipped, failed and invalid status",
			records: []Record{
				{Bucket: "local", Status: StatusSkipped, Reason: ReasonNotJPEG, Bytes: 10},
				{Bucket: "local", Prefix: "x", Status: StatusSkipped, Reason: ReasonDone, Route: "light", QF: 75, Width: 10, Height: 10},
				{Bucket: "local", Prefix: "x", Status: StatusFailed, Reason: ReasonCorrupt, Stage: StageProbe},
				{Bucket: "local", Prefix: "x", Status: StatusFailed, Stage: StageRead},
				{Bucket: "local", Prefix: "x", Status: "bogus"},
			},
			want: &Summary{
				Version: SummaryVersion,
				Totals: Stats{
					Matched: 5, Skipped: map[Reason]int64{ReasonNotJPEG: 1, ReasonDone: 1},
					Failed: map[Reason]int64{ReasonCorrupt: 1, ReasonUnknown: 2}, QFHist: [QFBins]int64{7: 1}, Pixels: 100,
				},
				Failures: 3,
				Prefixes: []Group{
					{GroupKey{Bucket: "local"}, Stats{Matched: 1, Skipped: map[Reason]int64{ReasonNotJPEG: 1}}},
					{GroupKey{Bucket: "local", Prefix: "x"}, Stats{
						Matched: 4, Skipped: map[Reason]int64{ReasonDone: 1}, Failed: map[Reason]int64{ReasonCorrupt: 1, ReasonUnknown: 2},
						QFHist: [QFBins]int64{7: 1}, Pixels: 100,
					}},
				},
				Groups: []Group{
					{GroupKey{Bucket: "local"}, Stats{Matched: 1, Skipped: map[Reason]int64{ReasonNotJPEG: 1}}},
					{GroupKey{Bucket: "local", Prefix: "x"}, Stats{Matched: 3, Failed: map[Reason]int64{ReasonCorrupt: 1, ReasonUnknown: 2}}},
					{GroupKey{"local", "x", "light", "70-79"}, Stats{Matched: 1, Skipped: map[Reason]int64{ReasonDone: 1}, QFHist: [QFBins]int64{7: 1}, Pixels: 100}},
				},
			},
		},
		{
			name: "reference metrics per QF",
			records: []Record{
				{Bucket: "local", Status: StatusRestored, Route: "eval", QF: 10, PSNRBefore: Float(25), PSNRAfter: Float(27.5), SSIMBefore: Float(0.7), SSIMAfter: Float(0.8)},
				{Bucket: "local", Status: StatusRestored, Route: "eval", QF: 10, PSNRBefore: Float(26), PSNRAfter: Float(math.Inf(1))},
				{Bucket: "local", Status: StatusRestored, Route: "eval", QF: 0, PSNRBefore: Float(30)},
			},
			want: func() *Summary {
				ref := RefStats{PSNRBefore: Stat{3, 81000000}, PSNRAfter: Stat{1, 27500000}, SSIMBefore: Stat{1, 700000}, SSIMAfter: Stat{1, 800000}}
				st := Stats{Matched: 3, Restored: 3, QFHist: [QFBins]int64{1: 2}, Ref: ref}
				g10 := Stats{Matched: 2, Restored: 2, QFHist: [QFBins]int64{1: 2},
					Ref: RefStats{PSNRBefore: Stat{2, 51000000}, PSNRAfter: Stat{1, 27500000}, SSIMBefore: Stat{1, 700000}, SSIMAfter: Stat{1, 800000}}}
				return &Summary{
					Version:  SummaryVersion,
					Totals:   st,
					Prefixes: []Group{{GroupKey{Bucket: "local"}, st}},
					Groups: []Group{
						{GroupKey{Bucket: "local", Route: "eval"}, Stats{Matched: 1, Restored: 1, Ref: RefStats{PSNRBefore: Stat{1, 30000000}}}},
						{GroupKey{Bucket: "local", Route: "eval", Band: "10-19"}, g10},
					},
					Eval: []EvalRow{{QF: 10, Ref: g10.Ref}},
				}
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := NewAccumulator()
			for _, r := range tc.records {
				acc = Add(acc, r)
			}
			if diff := cmp.Diff(tc.want, acc); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddNil(t *testing.T) {
	got := Add(nil, Record{Status: StatusRestored})
	if got == nil || got.Totals.Restored != 1 || got.Version != SummaryVersion {
		t.Errorf("Add(nil, …) = %+v, want a new accumulator with one restored record", got)
	}
}

func TestStatsDerived(t *testing.T) {
	s := Stats{Skipped: map[Reason]int64{"a": 2, "b": 3}, Failed: map[Reason]int64{"c": 4},
		Pixels: 3_500_000, RestoredPixels: 3_000_000, RestoredSeconds: Stat{N: 2, SumMicro: 1_500_000}}
	if got := s.SkippedTotal(); got != 5 {
		t.Errorf("SkippedTotal() = %d, want 5", got)
	}
	if got := s.FailedTotal(); got != 4 {
		t.Errorf("FailedTotal() = %d, want 4", got)
	}
	if got := s.Megapixels(); got != 3.5 {
		t.Errorf("Megapixels() = %v, want 3.5", got)
	}
	if got := Throughput(&s, 1.5); got != 2 {
		t.Errorf("Throughput(3 MP restored in 1.5 s) = %v, want 2", got)
	}
	if got := Throughput(&Stats{}, 0); got != 0 {
		t.Errorf("Throughput() of nothing = %v, want 0", got)
	}
}

// randomRecords returns n records covering every field the summary reads, with values whose
// float sums depend on the order they are added in.
func randomRecords(rng *rand.Rand, n int) []Record {
	buckets := []string{"local", "arch", "scans"}
	prefixes := []string{"", "2019", "2020", "misc"}
	routes := []string{"strong", "medium", "light", "passthrough", ""}
	failReasons := []Reason{ReasonCorrupt, ReasonTruncated, ReasonTooLarge, ReasonInferFailed, ""}
	skipReasons := []Reason{ReasonDone, ReasonPassthrough, ReasonNotJPEG}
	stages := Stages()
	rs := make([]Record, n)
	for i := range rs {
		r := Record{
			Bucket: buckets[rng.IntN(len(buckets))], Prefix: prefixes[rng.IntN(len(prefixes))],
			Route: routes[rng.IntN(len(routes))], QF: rng.IntN(102),
			Width: rng.IntN(5000), Height: rng.IntN(4000), Bytes: rng.Int64N(1 << 24),
		}
		r.Rel = fmt.Sprintf("%s/img%05d.jpg", r.Prefix, i)
		r.URI = "gs://" + r.Bucket + "/" + r.Rel
		switch rng.IntN(5) {
		case 0:
			r.Status, r.Reason = StatusSkipped, skipReasons[rng.IntN(len(skipReasons))]
		case 1:
			r.Status, r.Reason = StatusFailed, failReasons[rng.IntN(len(failReasons))]
		default:
			r.Status = StatusRestored
		}
		if rng.IntN(4) > 0 {
			r.NRBefore, r.NRAfter = rng.Float64()*10, rng.Float64()*12-1
			r.BlockinessBefore, r.BlockinessAfter = rng.Float64()*20, rng.Float64()*5
		}
		if rng.IntN(3) == 0 {
			r.PSNRBefore, r.PSNRAfter = Float(20+rng.Float64()*20), Float(22+rng.Float64()*20)
			r.SSIMBefore, r.SSIMAfter = Float(rng.Float64()), Float(rng.Float64())
			r.PSNRBBefore, r.PSNRBAfter = Float(20+rng.Float64()*20), Float(22+rng.Float64()*20)
			if rng.IntN(10) == 0 {
				r.PSNRAfter = Float(math.Inf(1))
			}
		}
		r.Timings = map[Stage]float64{}
		for _, s := range stages {
			if rng.IntN(3) > 0 {
				r.Timings[s] = rng.ExpFloat64() * 0.3
			}
		}
		if rng.IntN(5) == 0 {
			r.Retries = map[string]int64{[]string{"http_503", "reset"}[rng.IntN(2)]: 1 + rng.Int64N(3)}
		}
		rs[i] = r
	}
	return rs
}

func addAll(rs []Record) *Summary {
	acc := NewAccumulator()
	for _, r := range rs {
		acc = Add(acc, r)
	}
	return acc
}

// TestMergeAnyOrder checks that splitting the records at random, adding each part in a random
// order and merging the parts in a random tree always gives the summary of one sequential pass.
func TestMergeAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	records := randomRecords(rng, 600)
	want := addAll(records)
	wantJSON, err := EncodeSummary(want)
	if err != nil {
		t.Fatal(err)
	}
	for trial := range 40 {
		rs := append([]Record(nil), records...)
		rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		var parts []*Summary
		for len(rs) > 0 {
			n := min(len(rs), 1+rng.IntN(150))
			if rng.IntN(8) == 0 {
				n = 0 // empty accumulators merge too
			}
			parts = append(parts, addAll(rs[:n]))
			rs = rs[n:]
		}
		for len(parts) > 1 {
			i, j := rng.IntN(len(parts)), rng.IntN(len(parts)-1)
			if j >= i {
				j++
			}
			parts[i] = Merge(parts[i], parts[j])
			parts = append(parts[:j], parts[j+1:]...)
		}
		// The JSON encoding is exact (TestSummaryJSONRoundTrip) and much cheaper to compare.
		if got, _ := EncodeSummary(parts[0]); !bytes.Equal(wantJSON, got) {
			t.Fatalf("trial %d: merged summary (-want +got):\n%s", trial, cmp.Diff(want, parts[0]))
		}
	}
}

func TestMergeAssociativeCommutative(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b, c := addAll(randomRecords(rng, 150)), addAll(randomRecords(rng, 80)), addAll(randomRecords(rng, 5))
	a.Meta = map[string]any{"job": "a", "only_a": 1.0}
	b.Meta = map[string]any{"job": "b", "only_b": true}
	c.Meta = map[string]any{"job": "0"}
	ab := Merge(a.Clone(), b)
	ba := Merge(b.Clone(), a)
	if diff := cmp.Diff(ab, ba); diff != "" {
		t.Errorf("Merge(a, b) != Merge(b, a) (-ab +ba):\n%s", diff)
	}
	left := Merge(Merge(a.Clone(), b), c)
	right := Merge(a.Clone(), Merge(b.Clone(), c))
	if diff := cmp.Diff(left, right); diff != "" {
		t.Errorf("(a+b)+c != a+(b+c) (-left +right):\n%s", diff)
	}
	if got, want := left.Meta["job"], "0"; got != want {
		t.Errorf(`Meta["job"] = %v, want %q (the value whose JSON sorts first)`, got, want)
	}
	if Merge(nil, nil) == nil {
		t.Error("Merge(nil, nil) = nil, want an empty accumulator")
	}
	if diff := cmp.Diff(a, Merge(a.Clone(), nil)); diff != "" {
		t.Errorf("Merge(a, nil) (-want +got):\n%s", diff)
	}
}

// TestMergeLeavesArgumentAlone checks that Merge neither modifies b nor shares memory with it.
func TestMergeLeavesArgumentAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	b := addAll(randomRecords(rng, 100))
	before := b.Clone()
	got := Merge(nil, b)
	if diff := cmp.Diff(before, b); diff != "" {
		t.Fatalf("Merge modified b (-before +after):\n%s", diff)
	}
	for _, r := range randomRecords(rng, 100) {
		got = Add(got, r)
	}
	got = Merge(got, got.Clone())
	if diff := cmp.Diff(before, b); diff != "" {
		t.Errorf("b changed with the merged summary (-before +after):\n%s", diff)
	}
}

func TestSummaryJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s := addAll(randomRecords(rng, 300))
	s.Meta = map[string]any{
		"job": "restore", "model": "fbcnn-color", "start": "2025-01-02T03:04:05Z", "workers": 8.0,
		"metrics": map[string]any{"restore_pixels_total": 1.5e9}, "flags": []any{"a", "b"},
	}
	b, err := EncodeSummary(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	again, err := EncodeSummary(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Error("re-encoding a decoded summary changed its JSON")
	}
	// Equal summaries built in another order encode to the same bytes.
	rs := randomRecords(rand.New(rand.NewPCG(7, 8)), 300)
	other := Merge(addAll(rs[150:]), addAll(rs[:150]))
	other.Meta = s.Meta
	ob, err := EncodeSummary(other)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, ob) {
		t.Error("summaries merged in another order encode differently")
	}
	for _, key := range []string{`"megapixels":`, `"mean":`, `"qf_hist":[`, `"eval":[`, `"prefixes":[`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("summary JSON lacks %s", key)
		}
	}
	if _, err := DecodeSummary([]byte(`{"totals":{"nr_before":{"n":1,"sum":"x"}}}`)); err == nil {
		t.Error("DecodeSummary of a bad sum: no error")
	}
}

// TestBoundedMemory checks that the summary grows with the number of groups, not of records.
func TestBoundedMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	records := randomRecords(rng, 2000)
	small := addAll(records)
	big := small.Clone()
	for range 10 {
		// More records with the same keys (bucket, prefix, route, QF) and new values.
		for i, r := range randomRecords(rng, len(records)) {
			k := records[i]
			r.Bucket, r.Prefix, r.Route, r.QF = k.Bucket, k.Prefix, k.Route, k.QF
			big = Add(big, r)
		}
	}
	if len(big.Groups) != len(small.Groups) || len(big.Prefixes) != len(small.Prefixes) || len(big.Eval) > 100 {
		t.Errorf("groups grew with records: %d/%d/%d → %d/%d/%d", len(small.Groups), len(small.Prefixes), len(small.Eval),
			len(big.Groups), len(big.Prefixes), len(big.Eval))
	}
	sb, _ := EncodeSummary(small)
	bb, _ := EncodeSummary(big)
	// Only the digits of the counts and sums grow.
	if float64(len(bb)) > 1.5*float64(len(sb)) {
		t.Errorf("encoded summary grew from %d to %d bytes with 11× the records", len(sb), len(bb))
	}
}

func TestGroupsOfAndPrefix(t *testing.T) {
	s := addAll([]Record{
		{Bucket: "a", Prefix: "p", Route: "strong", QF: 5, Status: StatusRestored},
		{Bucket: "a", Prefix: "p", Route: "light", QF: 70, Status: StatusRestored},
		{Bucket: "a", Prefix: "q", Route: "light", QF: 70, Status: StatusRestored},
		{Bucket: "b", Prefix: "p", Route: "light", QF: 70, Status: StatusRestored},
	})
	var got []GroupKey
	for _, g := range s.GroupsOf("a", "p") {
		got = append(got, g.GroupKey)
	}
	want := []GroupKey{{"a", "p", "strong", "1-9"}, {"a", "p", "light", "70-79"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GroupsOf (-want +got):\n%s", diff)
	}
	if g := s.Prefix("a", "q"); g == nil || g.Stats.Matched != 1 {
		t.Errorf("Prefix(a, q) = %+v, want one record", g)
	}
	if g := s.Prefix("z", ""); g != nil {
		t.Errorf("Prefix(z) = %+v, want nil", g)
	}
	if n := len(s.GroupsOf("z", "")); n != 0 {
		t.Errorf("GroupsOf(z) has %d groups, want 0", n)
	}
}

func TestRetriesAreSummed(t *testing.T) {
	s := addAll([]Record{
		{Status: StatusRestored, Retries: map[string]int64{"http_503": 2}},
		{Status: StatusFailed, Reason: ReasonWriteFailed, Retries: map[string]int64{"http_503": 1, "reset": 4}},
		{Status: StatusRestored},
	})
	if diff := cmp.Diff(map[string]int64{"http_503": 3, "reset": 4}, s.Totals.Retries); diff != "" || s.Totals.RetriesTotal() != 7 {
		t.Errorf("retries (-want +got):\n%s", diff)
	}
}

func TestLine(t *testing.T) {
	s := addAll([]Record{
		{Status: StatusRestored}, {Status: StatusRestored},
		{Status: StatusSkipped, Reason: ReasonDone}, {Status: StatusSkipped, Reason: ReasonPassthrough},
		{Status: StatusSkipped, Reason: ReasonNotJPEG}, {Status: StatusFailed, Reason: ReasonCorrupt},
	})
	if got, want := s.Totals.Line(StatusRestored), "6 inputs: 2 restored, 1 already done, 1 passed through, 1 skipped, 1 failed"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	one := addAll([]Record{{Status: StatusSkipped, Reason: ReasonDone}})
	if got, want := one.Totals.Line(StatusRestored), "1 input: 0 restored, 1 already done, 0 failed"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}
