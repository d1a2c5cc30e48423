package report

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func gainRecord(rel string, before, after float64) Record {
	return Record{URI: "gs://b/" + rel, Rel: rel, Status: StatusRestored, NRBefore: before, NRAfter: after}
}

func rels(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Rel)
	}
	return out
}

func TestTopN(t *testing.T) {
	records := []Record{
		gainRecord("c.jpg", 2, 5),  // +3
		gainRecord("a.jpg", 3, 4),  // +1
		gainRecord("b.jpg", 1, 2),  // +1, ties with a.jpg
		gainRecord("d.jpg", 6, 5),  // -1
		gainRecord("e.jpg", 2, 10), // +8
		{Rel: "skipped.jpg", Status: StatusSkipped, Reason: ReasonPassthrough, NRBefore: 1, NRAfter: 9},
		{Rel: "failed.jpg", Status: StatusFailed, NRBefore: 9, NRAfter: 0.5},
		{Rel: "unmeasured.jpg", Status: StatusRestored},
		gainRecord("nan.jpg", math.NaN(), 3),
	}
	tests := []struct {
		name      string
		n         int
		wantMost  []string
		wantLeast []string
	}{
		{name: "zero", n: 0},
		{name: "negative", n: -2},
		{name: "one", n: 1, wantMost: []string{"e.jpg"}, wantLeast: []string{"d.jpg"}},
		{name: "ties by rel", n: 3, wantMost: []string{"e.jpg", "c.jpg", "a.jpg"}, wantLeast: []string{"d.jpg", "a.jpg", "b.jpg"}},
		{name: "more than eligible", n: 10,
			wantMost:  []string{"e.jpg", "c.jpg", "a.jpg", "b.jpg", "d.jpg"},
			wantLeast: []string{"d.jpg", "a.jpg", "b.jpg", "c.jpg", "e.jpg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			most, least := SelectExamples(records, tc.n)
			if diff := cmp.Diff(tc.wantMost, rels(most)); diff != "" {
				t.Errorf("most (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLeast, rels(least)); diff != "" {
				t.Errorf("least (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTopNMerge checks that TopN is bounded and that any split, order and merge tree gives the
// result of one pass.
func TestTopNMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	records := randomRecords(rng, 400)
	for i := range records {
		if i%7 == 0 { // many exact ties
			records[i].NRBefore, records[i].NRAfter = 2, 3
		}
	}
	const n = 5
	want := NewTopN(n)
	for _, r := range records {
		want.Add(r)
	}
	if len(want.Most) != n || len(want.Least) != n {
		t.Fatalf("TopN kept %d/%d records, want %d each", len(want.Most), len(want.Least), n)
	}
	for trial := range 30 {
		rs := append([]Record(nil), records...)
		rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		var parts []*TopN
		for len(rs) > 0 {
			k := min(len(rs), 1+rng.IntN(60))
			p := &TopN{} // a zero TopN takes its N from what it merges
			if rng.IntN(2) == 0 {
				p = NewTopN(n)
			}
			for _, r := range rs[:k] {
				if p.N == 0 {
					p.Merge(NewTopN(n))
				}
				p.Add(r)
			}
			parts = append(parts, p)
			rs = rs[k:]
		}
		for len(parts) > 1 {
			i := rng.IntN(len(parts) - 1)
			parts[i].Merge(parts[i+1])
			parts = append(parts[:i+1], parts[i+2:]...)
		}
		got := parts[0]
		got.Merge(got) // merging what it already holds changes nothing
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("trial %d: merged TopN (-want +got):\n%s", trial, diff)
		}
	}
}
