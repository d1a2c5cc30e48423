package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// SummaryVersion is the version of the summary.json layout written by this package.
const SummaryVersion = 1

// QFBins is the number of bins of a QF histogram: 1–9, 10–19, …, 80–89 and 90–100.
const QFBins = 10

// QFBand returns the decade band of a quality factor: "1-9", "10-19", …, "80-89", or "90-100"
// (100 shares the last band); "" when qf is outside 1..100 (unknown).
func QFBand(qf int) string {
	b := qfBin(qf)
	if b < 0 {
		return ""
	}
	return qfBandLabels[b]
}

var qfBandLabels = [QFBins]string{"1-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90-100"}

// NRBins is the number of bins of an NR score histogram (Stats.NRHist): below 1, 1–2, …, 8–9,
// and 9 and above.
const NRBins = 10

var nrBinLabels = [NRBins]string{"<1", "1–2", "2–3", "3–4", "4–5", "5–6", "6–7", "7–8", "8–9", "≥9"}

// nrBin returns the histogram bin of an NR score.
func nrBin(score float64) int {
	switch {
	case score < 1:
		return 0
	case score >= NRBins-1:
		return NRBins - 1
	}
	return int(score)
}

// qfBin returns the histogram bin of qf, or -1 when qf is outside 1..100.
func qfBin(qf int) int {
	if qf < 1 || qf > 100 {
		return -1
	}
	return min(qf/10, QFBins-1)
}

// GroupKey names a group of records: bucket × prefix × route × QF band. A prefix roll-up has
// an empty Route and Band.
type GroupKey struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	Route  string `json:"route,omitempty"`
	// Band is QFBand of the records' luma QF; "" when it is unknown.
	Band string `json:"band,omitempty"`
}

// compareKeys orders groups by bucket, prefix, band, route: bands sort in QF order ("" first,
// "1-9" before "10-19", "90-100" last), so tables read from the worst quality up.
func compareKeys(a, b GroupKey) int {
	return cmp.Or(cmp.Compare(a.Bucket, b.Bucket), cmp.Compare(a.Prefix, b.Prefix),
		cmp.Compare(a.Band, b.Band), cmp.Compare(a.Route, b.Route))
}

// Group is the statistics of the records of one key.
type Group struct {
	GroupKey
	Stats Stats `json:"stats"`
}

// Stats are the counts and sums over a set of records. Every mean derives from a Stat, so
// merging two Stats is exact. Maps are keyed by a small closed set (reasons, stages).
type Stats struct {
	// Matched counts every record; Restored, Skipped and Failed split it by status.
	Matched  int64 `json:"matched"`
	Restored int64 `json:"restored"`
	// Surveyed counts the records of a report (survey) job.
	Surveyed int64 `json:"surveyed,omitempty"`
	// Skipped and Failed count records by reason.
	Skipped map[Reason]int64 `json:"skipped,omitempty"`
	Failed  map[Reason]int64 `json:"failed,omitempty"`
	// QFHist counts records by luma QF, in the bins of QFBand.
	QFHist [QFBins]int64 `json:"qf_hist"`
	// NRHist counts the records with a measured NR score by the input's score (NRBins).
	NRHist [NRBins]int64 `json:"nr_hist"`
	// Pixels sums the size of every record whose size is known; RestoredPixels only that of
	// restored records.
	Pixels         int64 `json:"pixels"`
	RestoredPixels int64 `json:"restored_pixels"`

	// NRBefore … BlockinessAfter are over the records whose no-reference scores were measured.
	NRBefore         Stat `json:"nr_before,omitzero"`
	NRAfter          Stat `json:"nr_after,omitzero"`
	BlockinessBefore Stat `json:"blockiness_before,omitzero"`
	BlockinessAfter  Stat `json:"blockiness_after,omitzero"`

	// Ref holds the reference metrics of the records that have them.
	Ref RefStats `json:"ref,omitzero"`

	// Seconds is the time spent per stage (Record.Timings), over the records that timed it.
	Seconds map[Stage]Stat `json:"seconds,omitempty"`
	// RestoredSeconds is the total time of all stages of each restored record (the report's
	// seconds per restored input).
	RestoredSeconds Stat `json:"restored_seconds,omitzero"`
	// Retries counts the storage faults retried for these records, by kind (Record.Retries).
	Retries map[string]int64 `json:"retries,omitempty"`
}

// RetriesTotal returns the number of storage faults retried, all kinds together.
func (s *Stats) RetriesTotal() int64 { return sumValues(s.Retries) }

// RefStats are the reference metrics of a set of records: PSNR and PSNR-B in dB, SSIM.
type RefStats struct {
	PSNRBefore  Stat `json:"psnr_before,omitzero"`
	PSNRAfter   Stat `json:"psnr_after,omitzero"`
	SSIMBefore  Stat `json:"ssim_before,omitzero"`
	SSIMAfter   Stat `json:"ssim_after,omitzero"`
	PSNRBBefore Stat `json:"psnrb_before,omitzero"`
	PSNRBAfter  Stat `json:"psnrb_after,omitzero"`
}

// IsZero reports whether no reference metric was counted.
func (r RefStats) IsZero() bool { return r == RefStats{} }

// N returns the largest count of the reference metrics: how many records had a reference.
func (r RefStats) N() int64 {
	return max(r.PSNRBefore.N, r.PSNRAfter.N, r.SSIMBefore.N, r.SSIMAfter.N, r.PSNRBBefore.N, r.PSNRBAfter.N)
}

func (r *RefStats) add(rec Record) {
	addPtr(&r.PSNRBefore, rec.PSNRBefore)
	addPtr(&r.PSNRAfter, rec.PSNRAfter)
	addPtr(&r.SSIMBefore, rec.SSIMBefore)
	addPtr(&r.SSIMAfter, rec.SSIMAfter)
	addPtr(&r.PSNRBBefore, rec.PSNRBBefore)
	addPtr(&r.PSNRBAfter, rec.PSNRBAfter)
}

func (r *RefStats) merge(o RefStats) {
	r.PSNRBefore.Merge(o.PSNRBefore)
	r.PSNRAfter.Merge(o.PSNRAfter)
	r.SSIMBefore.Merge(o.SSIMBefore)
	r.SSIMAfter.Merge(o.SSIMAfter)
	r.PSNRBBefore.Merge(o.PSNRBBefore)
	r.PSNRBAfter.Merge(o.PSNRBAfter)
}

func addPtr(s *Stat, v *float64) {
	if v != nil {
		s.Add(*v)
	}
}

// SkippedTotal returns the number of skipped records, all reasons together.
func (s *Stats) SkippedTotal() int64 { return sumValues(s.Skipped) }

// Plural returns "1 input", "2 inputs": n and the noun, in the plural unless n is 1.
func Plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Line says what became of the records in one line, main first (the job's own outcome:
// restored, or surveyed), then what is there of the rest: "8 inputs: 2 restored, 5 already done,
// 1 passed through, 0 failed".
func (s *Stats) Line(main Status) string {
	n := s.Restored
	if main == StatusSurveyed {
		n = s.Surveyed
	}
	parts := []string{fmt.Sprintf("%d %s", n, main)}
	for _, c := range s.NotRestoredCounts() {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, c.What))
	}
	parts = append(parts, fmt.Sprintf("%d failed", s.FailedTotal()))
	return Plural(s.Matched, "input") + ": " + strings.Join(parts, ", ")
}

// Count is a number of inputs and what they are.
type Count struct {
	N    int64
	What string
}

// NotRestoredCounts splits the skipped inputs into the outcomes a user tells apart, leaving out
// those with none: already done (a run before made the output), passed through (copied or
// converted, not restored) and skipped (no output: not a JPEG, ...).
func (s *Stats) NotRestoredCounts() []Count {
	done, through := s.Skipped[ReasonDone], s.Skipped[ReasonPassthrough]
	var out []Count
	for _, c := range []Count{{done, "already done"}, {through, "passed through"}, {s.SkippedTotal() - done - through, "skipped"}} {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// FailedTotal returns the number of failed records, all reasons together.
func (s *Stats) FailedTotal() int64 { return sumValues(s.Failed) }

// Megapixels returns Pixels / 1e6.
func (s *Stats) Megapixels() float64 { return float64(s.Pixels) / 1e6 }

// MarshalJSON writes the Stats with the derived "megapixels" added; it is ignored when decoding.
// The throughput (Throughput: restored megapixels per second of job wall time) is the summary's,
// not a group's.
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		plain
		Megapixels float64 `json:"megapixels"`
	}{plain(s), s.Megapixels()})
}

func sumValues[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func (s *Stats) add(r Record) {
	s.Matched++
	switch r.Status {
	case StatusRestored:
		s.Restored++
	case StatusSurveyed:
		s.Surveyed++
	case StatusSkipped:
		s.Skipped = inc(s.Skipped, reasonOf(r), 1)
	default:
		s.Failed = inc(s.Failed, reasonOf(r), 1)
	}
	if b := qfBin(r.QF); b >= 0 {
		s.QFHist[b]++
	}
	px := r.pixels()
	s.Pixels += px
	if r.NRMeasured() {
		if finite(r.NRBefore) {
			s.NRHist[nrBin(r.NRBefore)]++
		}
		s.NRBefore.Add(r.NRBefore)
		s.BlockinessBefore.Add(r.BlockinessBefore)
		if r.Status != StatusSurveyed { // a survey has no "after"
			s.NRAfter.Add(r.NRAfter)
			s.BlockinessAfter.Add(r.BlockinessAfter)
		}
	}
	s.Ref.add(r)
	var total int64
	for stage, sec := range r.Timings {
		if !finite(sec) {
			continue
		}
		if s.Seconds == nil {
			s.Seconds = map[Stage]Stat{}
		}
		st := s.Seconds[stage]
		m := toMicro(sec)
		st.addMicro(m)
		s.Seconds[stage] = st
		total = addSat(total, m)
	}
	for k, n := range r.Retries {
		s.Retries = inc(s.Retries, k, n)
	}
	if r.Status == StatusRestored {
		s.RestoredPixels += px
		if len(r.Timings) > 0 {
			s.RestoredSeconds.addMicro(total)
		}
	}
}

func (s *Stats) merge(o *Stats) {
	s.Matched += o.Matched
	s.Restored += o.Restored
	s.Surveyed += o.Surveyed
	for k, v := range o.Skipped {
		s.Skipped = inc(s.Skipped, k, v)
	}
	for k, v := range o.Failed {
		s.Failed = inc(s.Failed, k, v)
	}
	for k, v := range o.Retries {
		s.Retries = inc(s.Retries, k, v)
	}
	for i, n := range o.QFHist {
		s.QFHist[i] += n
	}
	for i, n := range o.NRHist {
		s.NRHist[i] += n
	}
	s.Pixels += o.Pixels
	s.RestoredPixels += o.RestoredPixels
	s.NRBefore.Merge(o.NRBefore)
	s.NRAfter.Merge(o.NRAfter)
	s.BlockinessBefore.Merge(o.BlockinessBefore)
	s.BlockinessAfter.Merge(o.BlockinessAfter)
	s.Ref.merge(o.Ref)
	for k, v := range o.Seconds {
		if s.Seconds == nil {
			s.Seconds = map[Stage]Stat{}
		}
		st := s.Seconds[k]
		st.Merge(v)
		s.Seconds[k] = st
	}
	s.RestoredSeconds.Merge(o.RestoredSeconds)
}

func (s Stats) clone() Stats {
	s.Skipped = maps.Clone(s.Skipped)
	s.Failed = maps.Clone(s.Failed)
	s.Seconds = maps.Clone(s.Seconds)
	s.Retries = maps.Clone(s.Retries)
	return s
}

func inc[K comparable](m map[K]int64, k K, n int64) map[K]int64 {
	if m == nil {
		m = map[K]int64{}
	}
	m[k] += n
	return m
}

func reasonOf(r Record) Reason {
	if r.Status != StatusRestored && r.Status != StatusSkipped && r.Status != StatusFailed && r.Status != StatusSurveyed {
		return ReasonUnknown
	}
	if r.Reason == "" {
		return ReasonUnknown
	}
	return r.Reason
}

// EvalRow is the reference metrics of the records of one exact luma QF: the table an
// evaluation job compares with published results.
type EvalRow struct {
	QF  int      `json:"qf"`
	Ref RefStats `json:"ref"`
}

// Summary aggregates the records of a job. It is the accumulator of the job's combiner:
// [NewAccumulator], [Add] and [Merge]. Its size is bounded by the number of groups, prefixes,
// reasons and QF values, never by the number of records. Groups, Prefixes and Eval are kept
// sorted, and maps marshal with sorted keys, so equal summaries encode to equal JSON.
type Summary struct {
	Version int `json:"version"`
	// Meta is free-form job information filled by the caller: job name, model, settings,
	// start and end time, Beam metrics. It should hold JSON values (strings, float64, bool,
	// nil, []any, map[string]any): decoded summaries hold those types.
	Meta map[string]any `json:"meta,omitempty"`
	// Totals is over every record of the job.
	Totals Stats `json:"totals"`
	// Failures is the number of failed records (Totals.FailedTotal()).
	Failures int64 `json:"failures"`
	// Prefixes rolls the groups up per bucket × prefix (Route and Band empty).
	Prefixes []Group `json:"prefixes,omitempty"`
	// Groups is per bucket × prefix × route × QF band, sorted by bucket, prefix, band, route.
	Groups []Group `json:"groups,omitempty"`
	// Eval is per exact luma QF, over the records with reference metrics, sorted by QF.
	Eval []EvalRow `json:"eval,omitempty"`
}

// Keys of Summary.Meta that the jobs write and the page reads.
const (
	MetaJob     = "job"     // the job: restore, report (a survey) or eval
	MetaRun     = "run"     // the run's name (Folder.Run)
	MetaSeconds = "seconds" // the job's wall time
	MetaRoutes  = "routes"  // the --routes spec (route.Routes.String)
	// MetaModels names the models the routes ran, each with its weights (float32, float16 or
	// int8-qdq) and the start of its sha256: "best (int8-qdq, sha256 0123456789ab), ...".
	MetaModels = "models"
	// MetaDeviceUsed and MetaDeviceNote say where the models ran (the devices of their pools)
	// and why that differs from the device asked for.
	MetaDeviceUsed = "device_used"
	MetaDeviceNote = "device_note"
	// MetaStorageRetries is the storage faults the job's process retried while its pipeline ran,
	// by kind: the listing's and the record shards' too (Stats.Retries holds those of the inputs'
	// journeys, counted wherever they ran). The page lists it.
	MetaStorageRetries = "storage_retries"
	// MetaPresetSpeeds holds, for a survey, each preset's measured restoring speed on the
	// machine that ran it, in megapixels per second (map[string]float64, or decoded JSON).
	MetaPresetSpeeds = "preset_speeds"
	// MetaBeamMetrics and MetaPools are Beam's metrics and the model pools' counters; the page
	// shows them as where the time went and the device used, not as they are.
	MetaBeamMetrics = "beam_metrics"
	MetaPools       = "pools"
	// MetaWorkerStats is, for a job run with --workers, what the launcher's process sent to each
	// server during the run, by model (oip.WorkerStats: tiles, failures, bytes). It is absent when
	// Beam's workers ran in processes of their own (Dataflow, PROCESS or DOCKER environments),
	// which count their own. The page lists it as one line per server.
	MetaWorkerStats = "worker_stats"
)

// NewAccumulator returns an empty summary.
func NewAccumulator() *Summary {
	return &Summary{Version: SummaryVersion}
}

// Add counts one record into acc and returns acc (a new accumulator when acc is nil).
func Add(acc *Summary, r Record) *Summary {
	if acc == nil {
		acc = NewAccumulator()
	}
	acc.Version = max(acc.Version, SummaryVersion)
	acc.Totals.add(r)
	if r.Status != StatusRestored && r.Status != StatusSkipped && r.Status != StatusSurveyed {
		acc.Failures++ // failed, or no valid status: counted as failed, as in Stats
	}
	k := GroupKey{Bucket: r.Bucket, Prefix: r.Prefix, Route: r.Route, Band: QFBand(r.QF)}
	acc.Groups = groupAt(acc.Groups, k, func(g *Group) { g.Stats.add(r) })
	k.Route, k.Band = "", ""
	acc.Prefixes = groupAt(acc.Prefixes, k, func(g *Group) { g.Stats.add(r) })
	if r.HasRef() && qfBin(r.QF) >= 0 {
		i, ok := slices.BinarySearchFunc(acc.Eval, r.QF, func(e EvalRow, qf int) int { return cmp.Compare(e.QF, qf) })
		if !ok {
			acc.Eval = slices.Insert(acc.Eval, i, EvalRow{QF: r.QF})
		}
		acc.Eval[i].Ref.add(r)
	}
	return acc
}

// groupAt applies f to the group of key k in the sorted gs, inserting it first if missing.
func groupAt(gs []Group, k GroupKey, f func(*Group)) []Group {
	i, ok := slices.BinarySearchFunc(gs, k, func(g Group, k GroupKey) int { return compareKeys(g.GroupKey, k) })
	if !ok {
		gs = slices.Insert(gs, i, Group{GroupKey: k})
	}
	f(&gs[i])
	return gs
}

// Merge adds b into a and returns a (a copy of b when a is nil); b is not modified and shares
// nothing with the result. Merging is exact, associative and commutative. Meta keys are
// united; when both hold a key with different values, the value whose JSON encoding sorts
// first wins, so the result does not depend on the merge order.
func Merge(a, b *Summary) *Summary {
	if a == nil {
		a = NewAccumulator()
	}
	if b == nil {
		return a
	}
	a.Version = max(a.Version, b.Version)
	for k, v := range b.Meta {
		if a.Meta == nil {
			a.Meta = map[string]any{}
		}
		if old, ok := a.Meta[k]; !ok || jsonLess(v, old) {
			a.Meta[k] = v
		}
	}
	a.Totals.merge(&b.Totals)
	a.Failures += b.Failures
	a.Groups = mergeGroups(a.Groups, b.Groups)
	a.Prefixes = mergeGroups(a.Prefixes, b.Prefixes)
	a.Eval = mergeEval(a.Eval, b.Eval)
	return a
}

func jsonLess(x, y any) bool {
	bx, errx := json.Marshal(x)
	by, erry := json.Marshal(y)
	if errx != nil || erry != nil {
		return errx == nil // a value that encodes beats one that does not
	}
	return bytes.Compare(bx, by) < 0
}

// mergeGroups merges two sorted group lists into a new sorted list.
func mergeGroups(a, b []Group) []Group {
	if len(b) == 0 {
		return a
	}
	out := make([]Group, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch c := compareNext(a, b, i, j); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, Group{GroupKey: b[j].GroupKey, Stats: b[j].Stats.clone()})
			j++
		default:
			g := a[i]
			g.Stats.merge(&b[j].Stats)
			out = append(out, g)
			i++
			j++
		}
	}
	return out
}

func compareNext(a, b []Group, i, j int) int {
	switch {
	case j >= len(b):
		return -1
	case i >= len(a):
		return 1
	}
	return compareKeys(a[i].GroupKey, b[j].GroupKey)
}

func mergeEval(a, b []EvalRow) []EvalRow {
	for _, e := range b {
		i, ok := slices.BinarySearchFunc(a, e.QF, func(x EvalRow, qf int) int { return cmp.Compare(x.QF, qf) })
		if !ok {
			a = slices.Insert(a, i, EvalRow{QF: e.QF})
		}
		a[i].Ref.merge(e.Ref)
	}
	return a
}

// Clone returns a deep copy of s (Meta values are copied shallowly).
func (s *Summary) Clone() *Summary {
	if s == nil {
		return nil
	}
	c := *s
	c.Meta = maps.Clone(s.Meta)
	c.Totals = s.Totals.clone()
	c.Groups = cloneGroups(s.Groups)
	c.Prefixes = cloneGroups(s.Prefixes)
	c.Eval = slices.Clone(s.Eval)
	return &c
}

func cloneGroups(gs []Group) []Group {
	if gs == nil {
		return nil
	}
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = Group{GroupKey: g.GroupKey, Stats: g.Stats.clone()}
	}
	return out
}

// Prefix returns the roll-up of one bucket × prefix, or nil.
func (s *Summary) Prefix(bucket, prefix string) *Group {
	k := GroupKey{Bucket: bucket, Prefix: prefix}
	i, ok := slices.BinarySearchFunc(s.Prefixes, k, func(g Group, k GroupKey) int { return compareKeys(g.GroupKey, k) })
	if !ok {
		return nil
	}
	return &s.Prefixes[i]
}

// GroupsOf returns the groups of one bucket × prefix, in order (a sub-slice of s.Groups).
func (s *Summary) GroupsOf(bucket, prefix string) []Group {
	lo, _ := slices.BinarySearchFunc(s.Groups, GroupKey{Bucket: bucket, Prefix: prefix},
		func(g Group, k GroupKey) int { return compareKeys(g.GroupKey, k) })
	hi := lo
	for hi < len(s.Groups) && s.Groups[hi].Bucket == bucket && s.Groups[hi].Prefix == prefix {
		hi++
	}
	return s.Groups[lo:hi]
}

// EncodeSummary returns the JSON encoding of s: deterministic (sorted keys, exact sums) and
// decoded back to an equal summary by DecodeSummary. Its signature fits beam.RegisterCoder.
func EncodeSummary(s *Summary) ([]byte, error) {
	return json.Marshal(s)
}

// DecodeSummary decodes what EncodeSummary encodes. Its signature fits beam.RegisterCoder.
func DecodeSummary(b []byte) (*Summary, error) {
	s := new(Summary)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, err
	}
	return s, nil
}
