package report_test

import (
	"fmt"

	"jpegrestore/report"
)

func ExampleQFBand() {
	fmt.Println(report.QFBand(7), report.QFBand(35), report.QFBand(100), report.QFBand(0) == "")
	// Output: 1-9 30-39 90-100 true
}

// A combiner adds records to accumulators on each worker and merges the accumulators.
func ExampleMerge() {
	a := report.NewAccumulator()
	a = report.Add(a, report.Record{Bucket: "arch", Prefix: "2019", Status: report.StatusRestored,
		Route: "strong", QF: 20, NRBefore: 2, NRAfter: 6})
	b := report.NewAccumulator()
	b = report.Add(b, report.Record{Bucket: "arch", Prefix: "2019", Status: report.StatusFailed,
		Reason: report.ReasonTruncated, Stage: report.StageProbe})
	s := report.Merge(a, b)
	g := s.Prefix("arch", "2019")
	fmt.Println(s.Totals.Matched, s.Failures, g.Stats.NRBefore.Mean(), g.Stats.NRAfter.Mean(), len(s.Groups))
	// Output: 2 1 2 6 2
}

func ExampleSelectExamples() {
	rs := []report.Record{
		{Rel: "a.jpg", Status: report.StatusRestored, NRBefore: 2, NRAfter: 7},
		{Rel: "b.jpg", Status: report.StatusRestored, NRBefore: 5, NRAfter: 5.5},
		{Rel: "c.jpg", Status: report.StatusRestored, NRBefore: 3, NRAfter: 6},
		{Rel: "d.jpg", Status: report.StatusSkipped, Reason: report.ReasonPassthrough, NRBefore: 9, NRAfter: 9},
	}
	most, least := report.SelectExamples(rs, 1)
	fmt.Println(most[0].Rel, least[0].Rel)
	// Output: a.jpg b.jpg
}
