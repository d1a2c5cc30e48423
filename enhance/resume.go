package enhance

import "jpegrestore/report"

// carried are the outcomes a rerun repeats without reading an input whose listed version has not
// changed, because they depend on the input's bytes alone.
var carried = map[report.Reason]bool{
	report.ReasonNotJPEG:     true,
	report.ReasonCorrupt:     true,
	report.ReasonTruncated:   true,
	report.ReasonUnsupported: true,
}

// Resume tells, from listings alone, whether a rerun is done with an input: prev is the previous
// run's record of it, and in.OutputBytes the size of its output as the output root was listed (0
// when it was not there). It returns the input's record and true when the input's listed version
// is the one prev saw and either
//   - its output is there with the size prev wrote, and prev's tag is the one the current
//     settings give (the route of prev's QF, that route's model, ensemble and tile, the output
//     format): skipped as done;
//   - or prev's outcome depended on the input's bytes alone (not a JPEG; corrupt, truncated or
//     unsupported): the same again.
//
// Otherwise the input goes through Restore, which reads it and decides exactly (a local file that
// was only touched is found done there, by its content hash). Resume reads no object; it reads
// a model's manifest (Models.Setting).
func (j *Journey) Resume(in Input, prev report.Record) (report.Record, bool) {
	if in.Version == "" || prev.InputVersion != in.Version || prev.URI != in.URI {
		return report.Record{}, false
	}
	rec := NewRecord(in)
	if j.name(&rec, in) != nil { // an unsafe or taken name: the journey says so
		return report.Record{}, false
	}
	rec.Bytes, rec.Width, rec.Height = prev.Bytes, prev.Width, prev.Height
	rec.QF, rec.QFChroma, rec.Confidence = prev.QF, prev.QFChroma, prev.Confidence
	if prev.Status != report.StatusRestored && carried[prev.Reason] {
		rec.Status, rec.Stage, rec.Reason, rec.Error, rec.Route = prev.Status, prev.Stage, prev.Reason, prev.Error, prev.Route
		return rec, true
	}
	if !prev.HasOutput() || prev.Tag == "" || prev.OutputBytes <= 0 || in.OutputBytes != prev.OutputBytes || prev.Output != rec.Output {
		return report.Record{}, false
	}
	r := j.Settings.Routes.Pick(prev.QF)
	var set *Setting
	if !r.Passthrough {
		s, err := j.Models.Setting(r)
		if err != nil {
			return report.Record{}, false
		}
		set = &s
		s.Name(&rec)
	}
	if TagFor(prev.InputSHA256, set, j.Settings) != prev.Tag {
		return report.Record{}, false
	}
	rec.Status, rec.Reason, rec.Route = report.StatusSkipped, report.ReasonDone, r.Name
	rec.InputSHA256, rec.Tag, rec.OutputBytes = prev.InputSHA256, prev.Tag, prev.OutputBytes
	keepNumbers(&rec, prev)
	return rec, true
}

// Kept is the part of a previous record that an input found done keeps (see keepNumbers): the
// run and tag, and the numbers. It is what Input.Previous carries through the pipeline.
func Kept(prev report.Record) report.Record {
	var k report.Record
	keepNumbers(&k, prev)
	k.Tag = prev.Tag
	return k
}

// keepNumbers gives the record of an input found done the numbers of the run that made its
// output (prev, that run's record), which describe the output still.
func keepNumbers(rec *report.Record, prev report.Record) {
	rec.Run = prev.Run
	rec.NRBefore, rec.NRAfter, rec.BlockinessBefore, rec.BlockinessAfter = prev.NRBefore, prev.NRAfter, prev.BlockinessBefore, prev.BlockinessAfter
	rec.PSNRBefore, rec.PSNRAfter, rec.SSIMBefore, rec.SSIMAfter = prev.PSNRBefore, prev.PSNRAfter, prev.SSIMBefore, prev.SSIMAfter
	rec.PSNRBBefore, rec.PSNRBAfter = prev.PSNRBBefore, prev.PSNRBAfter
}
