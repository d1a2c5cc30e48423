package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"

	"jpegrestore/route"
	"jpegrestore/storage"
)

// Example is one before/after pair shown in the report: crops of an input and of its output,
// as PNG (or JPEG) bytes embedded in the page as data: URIs. Keep crops small (a few hundred
// pixels a side): the page carries them.
type Example struct {
	Rel     string
	Caption string
	Before  []byte
	After   []byte
	// NRBefore and NRAfter are the no-reference scores of the whole input and output.
	NRBefore float64
	NRAfter  float64
}

// ListLimit is how many inputs the page lists per reason they were not restored; the rest are
// counted, and listed in records.jsonl and failures.jsonl.
const ListLimit = 100

// ReasonList is the inputs not restored for one reason: the first ListLimit of them, and how
// many there are.
type ReasonList struct {
	Reason  Reason
	Total   int64
	Records []Record
}

// Page is what a report page shows: the summary (with the job's meta), the examples' crops, the
// inputs not restored by reason, and the earlier runs whose own pages are kept under runs/.
type Page struct {
	Summary     *Summary
	Examples    []Example
	NotRestored []ReasonList
	Runs        []Run
}

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"half": func(v int) int { return v / 2 },
}).Parse(reportHTML))

// WriteHTML writes a self-contained report page: the totals and what they mean, where the time
// went, the inputs that were not restored (by reason, a bounded list), the reference metrics per QF
// when there are any, per bucket/prefix a QF histogram and an NR chart (inline SVG) with a table per
// route × QF band, the examples with their crops as data: URIs, and the job's settings. A survey
// (job "report") shows what a restore would take instead of before/after. The page loads nothing
// (no external CSS, script, font or image), fits narrow screens, and every name from user data is
// escaped by html/template.
func WriteHTML(w io.Writer, p Page) error {
	if p.Summary == nil {
		p.Summary = NewAccumulator()
	}
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, buildView(p)); err != nil {
		return fmt.Errorf("report: render html: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}

type view struct {
	Title, Subtitle string
	Survey          bool
	Cards           []card
	Notes           []string
	Routes          []routeRow
	Estimates       []estimateRow
	Stages          []stageRow
	StagesNote      string
	NotRestored     []reasonView
	Retries         string
	Eval            []evalRowView
	Prefixes        []prefixView
	Examples        []exampleView
	// ExamplesElsewhere says that the crops of the inputs found done are in earlier runs' pages.
	ExamplesElsewhere bool
	Runs              []Run
	Meta              []keyValue
}

type card struct{ Value, Label string }

type reasonView struct {
	Reason         Reason
	Status         Status
	Meaning, Count string
	Records        []listedRecord
	More           string
	Open           bool
	// ListFile holds every one of them; ListWhere says where that file is.
	ListFile, ListWhere string
}

type listedRecord struct{ Rel, Error string }

type routeRow struct {
	Route, Inputs, MP, Share string
}

type estimateRow struct {
	Preset, Speed, Time string
}

type stageRow struct {
	Stage                 Stage
	Seconds, Share, PerIn string
}

type evalRowView struct {
	QF    int
	N     int64
	Cells []deltaCell
}

type deltaCell struct{ Before, After, Delta, Class string }

type prefixView struct {
	Index  int
	Name   string
	Cards  []card
	Charts []chart
	HasRef bool
	Survey bool
	Rows   []groupRow
}

type groupRow struct {
	Route, Band                         string
	Matched, Restored, Done, Other      int64
	NRBefore, NRAfter, NRDelta, NRClass string
	BlockBefore, BlockAfter             string
	Ref                                 []string
	MP, PerInput                        string
}

type exampleView struct {
	Rel, Caption            string
	Before, After           template.URL
	NRBefore, NRAfter, Gain string
}

type keyValue struct{ Key, Value string }

// hiddenMeta are meta keys the page does not list: summary.json holds them, and the page says
// what they mean elsewhere (beam_metrics as where the time went, pools as the device used,
// preset_speeds as the restore time estimates).
var hiddenMeta = map[string]bool{MetaBeamMetrics: true, MetaPools: true, MetaPresetSpeeds: true}

var jobTitles = map[string]string{"restore": "restore report", "report": "survey", "eval": "evaluation"}

func buildView(p Page) view {
	s := p.Summary
	t := &s.Totals
	job, _ := s.Meta[MetaJob].(string)
	v := view{Title: "jpegrestore " + cmp.Or(jobTitles[job], "report"), Survey: job == "report", Runs: p.Runs}
	v.Subtitle = subtitle(s, job)
	v.Cards = statCards(t, wallSeconds(s), v.Survey)
	v.Notes = notes(t, v.Survey)
	if v.Survey {
		v.Routes, v.Estimates = routeRows(s), estimateRows(s)
	} else {
		v.Stages, v.StagesNote = stageRows(t, wallSeconds(s))
	}
	for _, l := range p.NotRestored {
		v.NotRestored = append(v.NotRestored, reasonListView(l, t.Matched))
	}
	if n := t.RetriesTotal(); n > 0 {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(t.Retries)) {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, t.Retries[k]))
		}
		v.Retries = fmt.Sprintf("%d storage faults were retried for these inputs (%s); a storage call is tried up to %d times before its input fails",
			n, strings.Join(kinds, ", "), storage.MaxTries)
	}
	for _, e := range s.Eval {
		v.Eval = append(v.Eval, evalRowView{QF: e.QF, N: e.Ref.N(), Cells: []deltaCell{
			delta(e.Ref.PSNRBefore, e.Ref.PSNRAfter, "%.2f"),
			delta(e.Ref.SSIMBefore, e.Ref.SSIMAfter, "%.4f"),
			delta(e.Ref.PSNRBBefore, e.Ref.PSNRBAfter, "%.2f"),
		}})
	}
	for i := range s.Prefixes {
		v.Prefixes = append(v.Prefixes, buildPrefix(i, &s.Prefixes[i], s.GroupsOf(s.Prefixes[i].Bucket, s.Prefixes[i].Prefix), v.Survey))
	}
	for _, e := range p.Examples {
		v.Examples = append(v.Examples, exampleView{
			Rel: e.Rel, Caption: e.Caption,
			Before: dataURI(e.Before), After: dataURI(e.After),
			NRBefore: fmt.Sprintf("%.2f", e.NRBefore), NRAfter: fmt.Sprintf("%.2f", e.NRAfter),
			Gain: fmt.Sprintf("%+.2f", e.NRAfter-e.NRBefore),
		})
	}
	v.ExamplesElsewhere = t.Restored == 0 && slices.ContainsFunc(p.Runs, func(r Run) bool { return r.Made > 0 })
	for _, k := range slices.Sorted(maps.Keys(s.Meta)) {
		switch {
		case hiddenMeta[k]:
		case k == MetaSeconds:
			v.Meta = append(v.Meta, keyValue{"wall time", seconds(wallSeconds(s))})
		case k == MetaWorkerStats:
			v.Meta = append(v.Meta, keyValue{"tiles per worker", workerLine(s.Meta[k])})
		default:
			v.Meta = append(v.Meta, keyValue{k, metaString(s.Meta[k])})
		}
	}
	return v
}

// workerLine says, from the meta MetaWorkerStats, how many tiles each --workers server answered
// and how often it went down.
func workerLine(stats any) string {
	b, err := json.Marshal(stats) // a map of oip.WorkerStats, or the same decoded from summary.json
	var byModel map[string][]struct {
		Addr   string `json:"addr"`
		Tiles  int64  `json:"tiles"`
		Failed int64  `json:"failed"`
		Downs  int64  `json:"downs"`
		Sent   int64  `json:"bytes_sent"`
		Recv   int64  `json:"bytes_received"`
	}
	if err != nil || json.Unmarshal(b, &byModel) != nil {
		return metaString(stats)
	}
	var parts []string
	for _, model := range slices.Sorted(maps.Keys(byModel)) {
		for _, w := range byModel[model] {
			p := fmt.Sprintf("%s %s: %d tiles (%.0f MB sent, %.0f MB back)", model, w.Addr, w.Tiles, float64(w.Sent)/1e6, float64(w.Recv)/1e6)
			if w.Downs > 0 {
				p += fmt.Sprintf(", down %s, %d requests failed and were sent elsewhere", Plural(w.Downs, "time"), w.Failed)
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}

func subtitle(s *Summary, job string) string {
	parts := []string{fmt.Sprintf("%s in %s", Plural(s.Totals.Matched, "input"), Plural(int64(len(s.Prefixes)), "bucket/prefix group"))}
	if run, _ := s.Meta[MetaRun].(string); run != "" {
		parts = append(parts, "run "+run)
	}
	if used, _ := s.Meta[MetaDeviceUsed].(string); used != "" {
		d := "the models ran on " + used
		if note, _ := s.Meta[MetaDeviceNote].(string); note != "" {
			d += " (" + note + ")"
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

// wallSeconds is the job's wall time, from its meta (0 when unknown).
func wallSeconds(s *Summary) float64 {
	secs, _ := s.Meta[MetaSeconds].(float64)
	return secs
}

// Throughput is the tool's one throughput figure: the megapixels restored per second of the
// job's wall time (0 when nothing was restored or the time is unknown).
func Throughput(t *Stats, wallSeconds float64) float64 {
	if wallSeconds <= 0 {
		return 0
	}
	return float64(t.RestoredPixels) / 1e6 / wallSeconds
}

func statCards(t *Stats, wall float64, survey bool) []card {
	cs := []card{{fmt.Sprint(t.Matched), "inputs"}}
	if survey {
		cs = append(cs, card{fmt.Sprint(t.Surveyed), "surveyed"})
	} else {
		cs = append(cs, card{fmt.Sprint(t.Restored), "restored"})
	}
	for _, c := range t.NotRestoredCounts() {
		cs = append(cs, card{fmt.Sprint(c.N), c.What})
	}
	cs = append(cs, card{fmt.Sprint(t.FailedTotal()), "failed"}, card{fmt.Sprintf("%.1f", t.Megapixels()), "megapixels"})
	if mps := Throughput(t, wall); mps > 0 {
		cs = append(cs, card{fmt.Sprintf("%.2f MP/s", mps), "restored per second of wall time"})
	}
	if t.NRBefore.N > 0 {
		if survey || t.NRAfter.N == 0 {
			cs = append(cs, card{fmt.Sprintf("%.2f", t.NRBefore.Mean()), "mean NR score"})
		} else {
			cs = append(cs, card{fmt.Sprintf("%.2f → %.2f", t.NRBefore.Mean(), t.NRAfter.Mean()), "mean NR score, before → after"})
		}
	}
	return cs
}

// notes say what the figures mean, for the figures the page shows.
func notes(t *Stats, survey bool) []string {
	var ns []string
	if t.Skipped[ReasonDone] > 0 {
		ns = append(ns, "Already done: inputs whose complete output an earlier run made from the same input with the same model and settings; their outputs were left as they were. Their scores are the ones that run recorded (none where its records had none).")
	}
	if t.NRBefore.N > 0 {
		ns = append(ns, "NR score: the no-reference JPEG quality score of Wang, Sheikh and Bovik (ICIP 2002), on the scale of the opinion scores it was fitted to: about 1 for heavily compressed images to about 10 for clean ones (it may leave that range). Higher is better; it needs no reference image.")
		ns = append(ns, "Blockiness: the mean step across the 8×8 block boundaries, in gray levels (0–255). Lower is better; compression raises it.")
	}
	if !survey && t.RestoredPixels > 0 {
		ns = append(ns, "Throughput: megapixels restored per second of the job's wall time, from its start to its end (the same figure as the progress line's MP/s).")
	}
	if survey {
		ns = append(ns, "A survey reads each input's quantization tables and scores it; it restores nothing, so there is no \"after\".")
	}
	return ns
}

func stageRows(t *Stats, wall float64) ([]stageRow, string) {
	var total int64
	for _, st := range t.Seconds {
		total += st.SumMicro
	}
	if total <= 0 {
		return nil, ""
	}
	var rows []stageRow
	for _, k := range sortedStages(t.Seconds) {
		st := t.Seconds[k]
		rows = append(rows, stageRow{Stage: k, Seconds: seconds(float64(st.SumMicro) / 1e6),
			Share: fmt.Sprintf("%.0f%%", 100*float64(st.SumMicro)/float64(total)), PerIn: seconds(st.Mean())})
	}
	note := fmt.Sprintf("Seconds summed over the inputs, on every worker and thread at once (%s in all)", seconds(float64(total)/1e6))
	if wall > 0 {
		note += fmt.Sprintf("; the job's wall time was %s", seconds(wall))
	}
	return rows, note + "."
}

// seconds prints a duration in seconds with sensible precision.
func seconds(s float64) string {
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 1:
		return fmt.Sprintf("%.1f s", s)
	case s >= 0.001:
		return fmt.Sprintf("%.0f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f ms", s*1e3)
}

func sortedStages(m map[Stage]Stat) []Stage {
	order := Stages() // others follow alphabetically
	return slices.SortedFunc(maps.Keys(m), func(a, b Stage) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return cmp.Or(ia-ib, cmp.Compare(a, b))
	})
}

// routeRows says how much of the surveyed inputs each route would take.
func routeRows(s *Summary) []routeRow {
	byRoute := map[string]*Stats{}
	for _, g := range s.Groups {
		if g.Route == "" {
			continue
		}
		if byRoute[g.Route] == nil {
			byRoute[g.Route] = &Stats{}
		}
		byRoute[g.Route].merge(&g.Stats)
	}
	var rows []routeRow
	for _, r := range slices.Sorted(maps.Keys(byRoute)) {
		st := byRoute[r]
		rows = append(rows, routeRow{Route: r, Inputs: fmt.Sprint(st.Matched), MP: fmt.Sprintf("%.1f", st.Megapixels()),
			Share: fmt.Sprintf("%.0f%%", 100*float64(st.Pixels)/float64(max(s.Totals.Pixels, 1)))})
	}
	return rows
}

// estimateRows estimates how long restoring the surveyed inputs would take with each preset, at
// the speeds measured when the survey ran (MetaPresetSpeeds).
func estimateRows(s *Summary) []estimateRow {
	speeds := map[string]float64{}
	switch m := s.Meta[MetaPresetSpeeds].(type) {
	case map[string]float64:
		speeds = m
	case map[string]any:
		for k, v := range m {
			if f, ok := v.(float64); ok {
				speeds[k] = f
			}
		}
	}
	// The bands that pass inputs through, from the routes the survey assigned (meta "routes").
	through := map[string]bool{}
	if spec, _ := s.Meta[MetaRoutes].(string); spec != "" {
		if rs, err := route.Parse(spec); err == nil {
			for _, r := range rs {
				through[r.Name] = r.Passthrough
			}
		}
	}
	mp := float64(s.Totals.Pixels) / 1e6
	for _, g := range s.Groups {
		if through[g.Route] {
			mp -= g.Stats.Megapixels()
		}
	}
	var rows []estimateRow
	for _, p := range slices.Sorted(maps.Keys(speeds)) {
		if speeds[p] > 0 {
			rows = append(rows, estimateRow{Preset: p, Speed: fmt.Sprintf("%.2f MP/s", speeds[p]), Time: duration(mp / speeds[p])})
		}
	}
	return rows
}

func duration(secs float64) string {
	switch {
	case secs >= 2*86400:
		return fmt.Sprintf("%.1f days", secs/86400)
	case secs >= 2*3600:
		return fmt.Sprintf("%.1f hours", secs/3600)
	case secs >= 120:
		return fmt.Sprintf("%.0f minutes", secs/60)
	}
	return seconds(secs)
}

func reasonListView(l ReasonList, matched int64) reasonView {
	info, _ := l.Reason.Info()
	rv := reasonView{Reason: l.Reason, Status: info.Status, Meaning: info.Doc,
		Count: fmt.Sprintf("%s (%.1f%%)", Plural(l.Total, "input"), 100*float64(l.Total)/float64(max(matched, 1))),
		Open:  l.Total <= 10, ListFile: RecordsFile, ListWhere: "of the report folder (the latest run's records)"}
	if info.Status == StatusFailed {
		rv.ListFile, rv.ListWhere = FailuresFile, "beside this page"
		if info.Transient {
			rv.Meaning += " (may succeed on a rerun)"
		}
	}
	for _, r := range l.Records {
		rv.Records = append(rv.Records, listedRecord{Rel: r.Rel, Error: r.Error})
	}
	if more := l.Total - int64(len(l.Records)); more > 0 {
		rv.More = fmt.Sprintf("and %d more", more)
	}
	return rv
}

func buildPrefix(i int, p *Group, groups []Group, survey bool) prefixView {
	pv := prefixView{Index: i, Name: prefixName(p.GroupKey), Cards: statCards(&p.Stats, 0, survey), HasRef: !p.Stats.Ref.IsZero(), Survey: survey}
	pv.Charts = []chart{qfChart(p.Stats.QFHist)}
	if survey {
		pv.Charts = append(pv.Charts, nrHistChart(p.Stats.NRHist))
	} else {
		var byBand [QFBins]Stats // NR before/after per QF band, all routes together
		for _, g := range groups {
			if b := slices.Index(qfBandLabels[:], g.Band); b >= 0 {
				byBand[b].NRBefore.Merge(g.Stats.NRBefore)
				byBand[b].NRAfter.Merge(g.Stats.NRAfter)
			}
		}
		pv.Charts = append(pv.Charts, nrChart(byBand))
	}
	for _, g := range groups {
		st := &g.Stats
		row := groupRow{
			Route: orDash(g.Route), Band: orDash(g.Band), Matched: st.Matched, Restored: st.Restored,
			Done: st.Skipped[ReasonDone], MP: fmt.Sprintf("%.2f", st.Megapixels()), PerInput: "–",
		}
		row.Other = st.Matched - row.Restored - row.Done
		d := delta(st.NRBefore, st.NRAfter, "%.2f")
		row.NRBefore, row.NRAfter, row.NRDelta, row.NRClass = d.Before, d.After, d.Delta, d.Class
		row.BlockBefore, row.BlockAfter = mean(st.BlockinessBefore, "%.2f"), mean(st.BlockinessAfter, "%.2f")
		r := st.Ref
		row.Ref = []string{mean(r.PSNRBefore, "%.2f"), mean(r.PSNRAfter, "%.2f"), mean(r.SSIMBefore, "%.4f"),
			mean(r.SSIMAfter, "%.4f"), mean(r.PSNRBBefore, "%.2f"), mean(r.PSNRBAfter, "%.2f")}
		if st.RestoredSeconds.N > 0 {
			row.PerInput = seconds(st.RestoredSeconds.Mean())
		}
		pv.Rows = append(pv.Rows, row)
	}
	return pv
}

func prefixName(k GroupKey) string {
	b := k.Bucket
	if b != "local" && b != "" {
		b = "gs://" + b
	}
	if b == "" {
		b = "(no bucket)"
	}
	p := k.Prefix
	if p == "" {
		p = "(root)"
	}
	return b + " / " + p
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func mean(s Stat, format string) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf(format, s.Mean())
}

func delta(before, after Stat, format string) deltaCell {
	c := deltaCell{Before: mean(before, format), After: mean(after, format), Delta: "–", Class: "n"}
	if before.N > 0 && after.N > 0 {
		d := after.Mean() - before.Mean()
		c.Delta = fmt.Sprintf(strings.Replace(format, "%", "%+", 1), d)
		switch {
		case d > 0:
			c.Class = "n up"
		case d < 0:
			c.Class = "n down"
		}
	}
	return c
}

// dataURI embeds image bytes; the type is sniffed from the signature (PNG unless JPEG).
func dataURI(b []byte) template.URL {
	if len(b) == 0 {
		return ""
	}
	mime := "image/png"
	if bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
		mime = "image/jpeg"
	}
	// The value is built here from base64 text only, so it is safe to mark as a URL.
	return template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b))
}

func metaString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
