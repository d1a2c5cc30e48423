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
	"math"
	"slices"
	"strings"

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

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"half": func(v int) int { return v / 2 },
}).Parse(reportHTML))

// WriteHTML writes a self-contained report page for s: totals, skipped and failed inputs by
// reason, per bucket/prefix a QF histogram and a before/after NR chart (inline SVG) with a
// table per route × QF band, the reference metrics per QF when there are any, the examples
// with their crops as data: URIs, and s.Meta. The page loads nothing: no external CSS, script,
// font or image. Every name comes from user data and is escaped by html/template.
func WriteHTML(w io.Writer, s *Summary, examples []Example) error {
	if s == nil {
		s = NewAccumulator()
	}
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, buildView(s, examples)); err != nil {
		return fmt.Errorf("report: render html: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}

type view struct {
	Title, Subtitle string
	Cards           []card
	Skipped         []reasonRow
	Failures        []reasonRow
	Retries         string
	Eval            []evalRowView
	Prefixes        []prefixView
	Examples        []exampleView
	Meta            []keyValue
}

type card struct{ Value, Label string }

type reasonRow struct {
	Reason  Reason
	Count   int64
	Share   string
	Meaning string
}

type evalRowView struct {
	QF    int
	N     int64
	Cells []deltaCell
}

type deltaCell struct{ Before, After, Delta, Class string }

type prefixView struct {
	Index   int
	Name    string
	Cards   []card
	QFChart chart
	NRChart chart
	HasRef  bool
	Rows    []groupRow
}

type groupRow struct {
	Route, Band                         string
	Matched, Restored, Skipped, Failed  int64
	NRBefore, NRAfter, NRDelta, NRClass string
	BlockBefore, BlockAfter             string
	Ref                                 []string
	MP, MPS, Stages                     string
}

type exampleView struct {
	Rel, Caption            string
	Before, After           template.URL
	NRBefore, NRAfter, Gain string
}

type keyValue struct{ Key, Value string }

func buildView(s *Summary, examples []Example) view {
	v := view{Title: "jpegrestore report"}
	if job, ok := s.Meta["job"].(string); ok && job != "" {
		v.Title += ": " + job
	}
	t := &s.Totals
	v.Subtitle = fmt.Sprintf("%d inputs in %d bucket/prefix groups", t.Matched, len(s.Prefixes))
	if used, _ := s.Meta[MetaDeviceUsed].(string); used != "" {
		v.Subtitle += "; the models ran on " + used
		if note, _ := s.Meta[MetaDeviceNote].(string); note != "" {
			v.Subtitle += " (" + note + ")"
		}
	}
	v.Cards = statCards(t)
	v.Skipped = reasonRows(t.Skipped, t.Matched)
	v.Failures = reasonRows(t.Failed, t.Matched)
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
		v.Prefixes = append(v.Prefixes, buildPrefix(i, &s.Prefixes[i], s.GroupsOf(s.Prefixes[i].Bucket, s.Prefixes[i].Prefix)))
	}
	for _, e := range examples {
		v.Examples = append(v.Examples, exampleView{
			Rel: e.Rel, Caption: e.Caption,
			Before: dataURI(e.Before), After: dataURI(e.After),
			NRBefore: fmt.Sprintf("%.2f", e.NRBefore), NRAfter: fmt.Sprintf("%.2f", e.NRAfter),
			Gain: fmt.Sprintf("%+.2f", e.NRAfter-e.NRBefore),
		})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Meta)) {
		v.Meta = append(v.Meta, keyValue{k, metaString(s.Meta[k])})
	}
	return v
}

func statCards(t *Stats) []card {
	cs := []card{
		{fmt.Sprint(t.Matched), "inputs"},
		{fmt.Sprint(t.Restored), "restored"},
		{fmt.Sprint(t.SkippedTotal()), "skipped"},
		{fmt.Sprint(t.FailedTotal()), "failed"},
		{fmt.Sprintf("%.1f", t.Megapixels()), "megapixels"},
	}
	if mps := t.MegapixelsPerSecond(); mps > 0 {
		cs = append(cs, card{fmt.Sprintf("%.2f", mps), "MP/s per worker"})
	}
	if t.NRBefore.N > 0 {
		cs = append(cs, card{fmt.Sprintf("%.2f → %.2f", t.NRBefore.Mean(), t.NRAfter.Mean()), "mean NR score"})
	}
	return cs
}

func reasonRows(m map[Reason]int64, total int64) []reasonRow {
	var rows []reasonRow
	for r, n := range m {
		row := reasonRow{Reason: r, Count: n, Share: fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max(total, 1)))}
		if info, ok := r.Info(); ok {
			row.Meaning = info.Doc
			if info.Status == StatusFailed && info.Transient {
				row.Meaning += " (may succeed on a rerun)"
			}
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b reasonRow) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return rows
}

func buildPrefix(i int, p *Group, groups []Group) prefixView {
	pv := prefixView{Index: i, Name: prefixName(p.GroupKey), Cards: statCards(&p.Stats), HasRef: !p.Stats.Ref.IsZero()}
	pv.QFChart = qfChart(p.Stats.QFHist)
	// NR before/after per QF band, all routes together.
	var byBand [QFBins]Stats
	for _, g := range groups {
		if b := slices.Index(qfBandLabels[:], g.Band); b >= 0 {
			byBand[b].NRBefore.Merge(g.Stats.NRBefore)
			byBand[b].NRAfter.Merge(g.Stats.NRAfter)
		}
	}
	pv.NRChart = nrChart(byBand)
	for _, g := range groups {
		st := &g.Stats
		row := groupRow{
			Route: orDash(g.Route), Band: orDash(g.Band),
			Matched: st.Matched, Restored: st.Restored, Skipped: st.SkippedTotal(), Failed: st.FailedTotal(),
			MP: fmt.Sprintf("%.2f", st.Megapixels()), MPS: "–",
		}
		d := delta(st.NRBefore, st.NRAfter, "%.2f")
		row.NRBefore, row.NRAfter, row.NRDelta, row.NRClass = d.Before, d.After, d.Delta, d.Class
		row.BlockBefore, row.BlockAfter = mean(st.BlockinessBefore, "%.2f"), mean(st.BlockinessAfter, "%.2f")
		r := st.Ref
		row.Ref = []string{mean(r.PSNRBefore, "%.2f"), mean(r.PSNRAfter, "%.2f"), mean(r.SSIMBefore, "%.4f"),
			mean(r.SSIMAfter, "%.4f"), mean(r.PSNRBBefore, "%.2f"), mean(r.PSNRBAfter, "%.2f")}
		if mps := st.MegapixelsPerSecond(); mps > 0 {
			row.MPS = fmt.Sprintf("%.2f", mps)
		}
		row.Stages = stageSeconds(st.Seconds)
		pv.Rows = append(pv.Rows, row)
	}
	return pv
}

func stageSeconds(m map[Stage]Stat) string {
	stageOrder := Stages() // others follow alphabetically
	keys := slices.SortedFunc(maps.Keys(m), func(a, b Stage) int {
		ia, ib := slices.Index(stageOrder, a), slices.Index(stageOrder, b)
		if ia < 0 {
			ia = len(stageOrder)
		}
		if ib < 0 {
			ib = len(stageOrder)
		}
		if ia != ib {
			return ia - ib
		}
		return cmp.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, m[k].Mean()))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, " · ")
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

// Chart geometry, in SVG user units (pixels).
const (
	chartW      = 420
	chartH      = 190
	chartLeft   = 12
	chartRight  = chartW - 12
	chartTop    = 44
	chartBase   = chartH - 24
	colorBefore = "#a0a0a0"
	colorAfter  = "#2b6cb0"
	colorHist   = "#5a8f4e"
)

type chart struct {
	Title             string
	W, H              int
	Left, Right, Base int
	Bars              []bar
	Texts             []text
	Legend            []legendItem
	Empty             string
}

type bar struct {
	X, Y, Width, Height string
	Fill, Tip           string
}

type text struct {
	X, Y         string
	Anchor, Text string
}

type legendItem struct {
	X, Y, TX, TY int
	Fill, Text   string
}

func newChart(title string) chart {
	return chart{Title: title, W: chartW, H: chartH, Left: chartLeft, Right: chartRight, Base: chartBase}
}

func num(v float64) string { return fmt.Sprintf("%.1f", v) }

// addBar draws a bar of value v at x (left edge), w wide, scaled so that top is full height.
func (c *chart) addBar(x, w, v, top float64, fill, tip, label string) {
	h := 0.0
	if top > 0 && v > 0 {
		h = math.Round(v/top*float64(chartBase-chartTop)*10) / 10
	}
	c.Bars = append(c.Bars, bar{X: num(x), Y: num(chartBase - h), Width: num(w), Height: num(h), Fill: fill, Tip: tip})
	if label != "" {
		c.Texts = append(c.Texts, text{X: num(x + w/2), Y: num(chartBase - h - 3), Anchor: "middle", Text: label})
	}
}

func qfChart(hist [QFBins]int64) chart {
	c := newChart("Inputs per luma QF")
	top := float64(slices.Max(hist[:]))
	slot := float64(chartRight-chartLeft) / QFBins
	for i, n := range hist {
		x := chartLeft + float64(i)*slot
		label := ""
		if n > 0 {
			label = fmt.Sprint(n)
		}
		c.addBar(x+3, slot-6, float64(n), top, colorHist, fmt.Sprintf("QF %s: %d", qfBandLabels[i], n), label)
		c.Texts = append(c.Texts, text{X: num(x + slot/2), Y: num(chartBase + 14), Anchor: "middle", Text: qfBandLabels[i]})
	}
	if top == 0 {
		c.Empty = "no JPEG quality estimated"
	}
	return c
}

func nrChart(byBand [QFBins]Stats) chart {
	c := newChart("Mean NR score per QF band, before and after")
	var bands []int
	top := 0.0
	for i := range byBand {
		if byBand[i].NRBefore.N > 0 || byBand[i].NRAfter.N > 0 {
			bands = append(bands, i)
			top = max(top, byBand[i].NRBefore.Mean(), byBand[i].NRAfter.Mean())
		}
	}
	if len(bands) == 0 {
		c.Empty = "no NR score measured"
		return c
	}
	slot := float64(chartRight-chartLeft) / float64(max(len(bands), 4))
	w := math.Min(slot/2-4, 40)
	for j, b := range bands {
		x := chartLeft + float64(j)*slot + slot/2
		st := &byBand[b]
		c.addBar(x-w-1, w, st.NRBefore.Mean(), top, colorBefore,
			fmt.Sprintf("QF %s before: %.2f (%d inputs)", qfBandLabels[b], st.NRBefore.Mean(), st.NRBefore.N), fmt.Sprintf("%.1f", st.NRBefore.Mean()))
		c.addBar(x+1, w, st.NRAfter.Mean(), top, colorAfter,
			fmt.Sprintf("QF %s after: %.2f (%d inputs)", qfBandLabels[b], st.NRAfter.Mean(), st.NRAfter.N), fmt.Sprintf("%.1f", st.NRAfter.Mean()))
		c.Texts = append(c.Texts, text{X: num(x), Y: num(chartBase + 14), Anchor: "middle", Text: qfBandLabels[b]})
	}
	c.Legend = []legendItem{
		{X: chartRight - 110, Y: 20, TX: chartRight - 96, TY: 29, Fill: colorBefore, Text: "before"},
		{X: chartRight - 55, Y: 20, TX: chartRight - 41, TY: 29, Fill: colorAfter, Text: "after"},
	}
	return c
}
