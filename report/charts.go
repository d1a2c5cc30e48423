package report

import (
	"fmt"
	"math"
	"slices"
)

// Chart geometry, in SVG user units; the page scales a chart down to the width it has.
const (
	chartW      = 420
	chartH      = 214
	chartLeft   = 30 // room for the y axis label
	chartRight  = chartW - 12
	chartTop    = 44
	chartBase   = chartH - 40 // room for the x labels and the x axis label
	colorBefore = "#a0a0a0"
	colorAfter  = "#2b6cb0"
	colorHist   = "#5a8f4e"
)

type chart struct {
	Title             string
	XLabel, YLabel    string
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

func newChart(title, xLabel, yLabel string) chart {
	return chart{Title: title, XLabel: xLabel, YLabel: yLabel, W: chartW, H: chartH, Left: chartLeft, Right: chartRight, Base: chartBase}
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

// histogram draws counts per labelled bin, or says empty when every count is 0.
func histogram(c chart, counts []int64, labels []string, what, empty string) chart {
	top := float64(slices.Max(counts))
	if top == 0 {
		c.Empty = empty
	}
	slot := float64(chartRight-chartLeft) / float64(len(counts))
	for i, n := range counts {
		x := chartLeft + float64(i)*slot
		label := ""
		if n > 0 {
			label = fmt.Sprint(n)
		}
		c.addBar(x+3, slot-6, float64(n), top, colorHist, fmt.Sprintf("%s %s: %d inputs", what, labels[i], n), label)
		c.Texts = append(c.Texts, text{X: num(x + slot/2), Y: num(chartBase + 14), Anchor: "middle", Text: labels[i]})
	}
	return c
}

func qfChart(hist [QFBins]int64) chart {
	return histogram(newChart("Inputs per luma QF", "luma quality factor, from the quantization tables", "inputs"),
		hist[:], qfBandLabels[:], "QF", "no JPEG quality estimated")
}

func nrHistChart(hist [NRBins]int64) chart {
	return histogram(newChart("Inputs per NR score", "no-reference score: ≈1 heavily compressed … ≈10 clean", "inputs"),
		hist[:], nrBinLabels[:], "NR score", "no NR score measured")
}

func nrChart(byBand [QFBins]Stats) chart {
	c := newChart("Mean NR score per QF band, before and after", "luma quality factor", "NR score (higher is better)")
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
