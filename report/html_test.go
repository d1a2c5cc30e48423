package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

const evilName = "<script>alert(1)</script>.jpg"

func pngCrop(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = shade + uint8(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func reportFixture(t *testing.T) (*Summary, []Example) {
	t.Helper()
	rs := randomRecords(rand.New(rand.NewPCG(13, 14)), 200)
	rs = append(rs,
		Record{URI: "/in/" + evilName, Rel: evilName, Bucket: "local", Prefix: "<b>x</b>", Status: StatusFailed, Reason: "<i>odd</i>"},
		Record{Rel: "e/q10.png", Bucket: "local", Prefix: "e", Status: StatusRestored, Route: "eval", QF: 10, NRBefore: 2, NRAfter: 5,
			PSNRBefore: Float(27.1), PSNRAfter: Float(29.4), SSIMBefore: Float(0.78), SSIMAfter: Float(0.84), PSNRBBefore: Float(25), PSNRBAfter: Float(29)},
	)
	s := addAll(rs)
	s.Meta = map[string]any{"job": "restore " + evilName, "model": "fbcnn", "workers": 8.0, "start": "2025-01-02T03:04:05Z",
		MetaDeviceUsed: "cpu", MetaDeviceNote: "--device auto: CUDA device 0 did not start"}
	examples := []Example{
		{Rel: evilName, Caption: "changed most", Before: pngCrop(t, 10), After: pngCrop(t, 100), NRBefore: 1.5, NRAfter: 7.25},
		{Rel: "2019/b.jpg", Caption: "changed least", Before: pngCrop(t, 50), After: pngCrop(t, 60), NRBefore: 6, NRAfter: 6.1},
	}
	return s, examples
}

// fixtureLists are inputs not restored, for reportFixture's page.
var fixtureLists = []ReasonList{
	{Reason: ReasonTruncated, Total: 120, Records: []Record{{Rel: "a/cut.jpg", Error: "jpeg: truncated"}}},
	{Reason: "<i>odd</i>", Total: 1, Records: []Record{{Rel: evilName, Error: "<b>x</b>"}}},
}

func renderHTML(t *testing.T, p Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkWellFormed parses page as XML: the report is written as polyglot markup (every element
// closed, attributes quoted), so a strict XML parse catches unbalanced or broken tags. It
// returns the number of elements per name.
func checkWellFormed(t *testing.T, page string) map[string]int {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Entity = xml.HTMLEntity
	counts := map[string]int{}
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("report is not well formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && tok.Name.Local != "html" {
				t.Errorf("root element <%s>, want <html>", tok.Name.Local)
			}
			depth++
			counts[tok.Name.Local]++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 {
		t.Errorf("unclosed elements: depth %d at the end", depth)
	}
	return counts
}

func TestWriteHTML(t *testing.T) {
	s, examples := reportFixture(t)
	page := renderHTML(t, Page{Summary: s, Examples: examples, NotRestored: fixtureLists, Runs: []Run{{Name: "20261130T000000Z-ab", Made: 3}}})
	counts := checkWellFormed(t, page)

	for _, want := range []string{
		"<!DOCTYPE html>",
		"<style>",
		"<svg ",
		"data:image/png;base64,",
		"&lt;script&gt;alert(1)&lt;/script&gt;.jpg",
		"&lt;b&gt;x&lt;/b&gt;",
		"&lt;i&gt;odd&lt;/i&gt;",
		"Inputs not restored",
		"Reference metrics per QF",
		"Inputs per luma QF",
		"Mean NR score per QF band",
		"fbcnn",
		"changed most",
		"the models ran on cpu (--device auto: CUDA device 0 did not start)",
		"the file ends before the image does", // what a declared reason means
		"storage faults were retried for these inputs (http_503 ",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<b>x", "<i>odd", "<link", "http://", "https://", "@import", "url("} {
		if strings.Contains(strings.ToLower(page), strings.ToLower(bad)) {
			t.Errorf("report contains %q: not escaped or not self-contained", bad)
		}
	}
	// Two charts per bucket/prefix.
	if got, want := counts["svg"], 2*len(s.Prefixes); got != want {
		t.Errorf("%d <svg> elements, want %d (2 per bucket/prefix)", got, want)
	}
	if counts["rect"] == 0 {
		t.Error("charts have no bars")
	}
	// Crops travel intact.
	m := regexp.MustCompile(`data:image/png;base64,([A-Za-z0-9+/=]+)`).FindAllStringSubmatch(page, -1)
	if len(m) != 2*len(examples) {
		t.Fatalf("%d data URIs, want %d", len(m), 2*len(examples))
	}
	got, err := base64.StdEncoding.DecodeString(m[0][1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, examples[0].Before) {
		t.Error("first data URI does not hold the first Before crop")
	}
	if _, err := png.Decode(bytes.NewReader(got)); err != nil {
		t.Errorf("embedded crop does not decode: %v", err)
	}
	// Rendering is deterministic.
	if again := renderHTML(t, Page{Summary: s, Examples: examples, NotRestored: fixtureLists, Runs: []Run{{Name: "20261130T000000Z-ab", Made: 3}}}); again != page {
		t.Error("rendering the same summary twice gave different pages")
	}
}

func TestWriteHTMLEmpty(t *testing.T) {
	for name, s := range map[string]*Summary{"nil": nil, "empty": NewAccumulator()} {
		t.Run(name, func(t *testing.T) {
			page := renderHTML(t, Page{Summary: s})
			checkWellFormed(t, page)
			if !strings.Contains(page, "No input failed.") || strings.Contains(page, "<svg") {
				t.Errorf("empty report: want no charts and no failures")
			}
		})
	}
}

func TestDataURI(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{name: "empty", in: nil, want: ""},
		{name: "png", in: []byte("\x89PNG\r\n\x1a\n"), want: "data:image/png;base64,iVBORw0KGgo="},
		{name: "jpeg", in: []byte{0xFF, 0xD8, 0xFF, 0xE0}, want: "data:image/jpeg;base64,/9j/4A=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(dataURI(tc.in)); got != tc.want {
				t.Errorf("dataURI = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNRChartScale(t *testing.T) {
	var byBand [QFBins]Stats
	byBand[1].NRBefore = Stat{N: 2, SumMicro: 4e6}  // mean 2
	byBand[1].NRAfter = Stat{N: 2, SumMicro: 16e6}  // mean 8: the tallest bar
	byBand[5].NRBefore = Stat{N: 1, SumMicro: -1e6} // negative: no height
	byBand[5].NRAfter = Stat{N: 1, SumMicro: 4e6}   // mean 4: half height
	c := nrChart(byBand)
	full := float64(chartBase - chartTop)
	wantHeights := []string{num(full / 4), num(full), "0.0", num(full / 2)}
	var got []string
	for _, b := range c.Bars {
		got = append(got, b.Height)
	}
	if strings.Join(got, ",") != strings.Join(wantHeights, ",") {
		t.Errorf("bar heights %v, want %v", got, wantHeights)
	}
	if c.Empty != "" {
		t.Errorf("Empty = %q, want none", c.Empty)
	}
	if e := nrChart([QFBins]Stats{}); e.Empty == "" || len(e.Bars) != 0 {
		t.Errorf("chart of nothing: %d bars, Empty %q", len(e.Bars), e.Empty)
	}
}

// surveyFixture is the summary of a survey (the report job): surveyed inputs with the route a
// restore would give them, one failure, and the preset speeds measured when it ran.
func surveyFixture() *Summary {
	rng := rand.New(rand.NewPCG(21, 22))
	var rs []Record
	for i := range 60 {
		qf := 5 + rng.IntN(96)
		route := map[bool]string{true: "strong", false: "medium"}[qf < 30]
		if qf >= 60 {
			route = "light"
		}
		if qf >= 90 {
			route = "keep" // a passthrough band, not named so
		}
		rs = append(rs, Record{Rel: fmt.Sprintf("scans/%03d.jpg", i), Bucket: "archive", Prefix: "scans", Status: StatusSurveyed,
			Route: route, QF: qf, Width: 1024, Height: 768, NRBefore: 1 + rng.Float64()*9, BlockinessBefore: rng.Float64() * 8})
	}
	rs = append(rs, Record{Rel: "scans/cut.jpg", Bucket: "archive", Prefix: "scans", Status: StatusFailed, Reason: ReasonTruncated})
	s := addAll(rs)
	s.Meta = map[string]any{"job": "report", "routes": "strong=1-29,medium=30-59,light=60-89,keep=90-100:passthrough",
		MetaPresetSpeeds: map[string]any{"fast": 3.0, "best": 0.5}, "seconds": 2.5}
	return s
}

// TestWriteHTMLSurvey checks that a survey's page answers what a survey asks (how much each
// route would take, how long each preset would need, the NR distribution) and shows nothing of a
// restore: no "after" figures, no restored count, no throughput.
func TestWriteHTMLSurvey(t *testing.T) {
	s := surveyFixture()
	page := renderHTML(t, Page{Summary: s, NotRestored: []ReasonList{{Reason: ReasonTruncated, Total: 1, Records: []Record{{Rel: "scans/cut.jpg"}}}}})
	checkWellFormed(t, page)
	for _, want := range []string{
		"<title>jpegrestore survey</title>", "What a restore would take", "route it would take",
		"Inputs per NR score", "no-reference score", "mean NR score</", "surveyed</",
		"time to restore the rest", "scans/cut.jpg", "Inputs not surveyed",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("survey page lacks %q", want)
		}
	}
	// A restore's figures, each on a restore's page (so their absence here means something).
	restore, _ := reportFixture(t)
	restore.Meta["seconds"] = 10.0
	restorePage := renderHTML(t, Page{Summary: restore})
	for _, bad := range []string{"</b>restored</div>", "<th>NR after</th>", "before → after", "MP/s</b>", "Where the time went", "Mean NR score per QF band"} {
		if !strings.Contains(restorePage, bad) {
			t.Errorf("a restore page lacks %q: the check below means nothing", bad)
		}
		if strings.Contains(page, bad) {
			t.Errorf("survey page shows %q, a restore's figure", bad)
		}
	}
	// The estimate: the megapixels not passed through (QF below 90 here), at each preset's speed.
	var mp float64
	for _, g := range s.Groups {
		if g.Route != "keep" {
			mp += g.Stats.Megapixels()
		}
	}
	if mp == 0 || mp == s.Totals.Megapixels() {
		t.Fatalf("fixture: %.1f of %.1f MP to restore; want some passed through", mp, s.Totals.Megapixels())
	}
	for preset, speed := range map[string]float64{"fast": 3.0, "best": 0.5} {
		want := fmt.Sprintf("<td>%s</td><td class=\"n\">%.2f MP/s</td><td class=\"n\">%s</td>", preset, speed, duration(mp/speed))
		if !strings.Contains(page, want) {
			t.Errorf("survey page lacks the %s estimate %s", preset, want)
		}
	}
}

// TestWriteHTMLMeanings checks that the page says what its numbers mean: notes for the NR score,
// blockiness and throughput with which way is better, both axes labelled on every chart, the one
// throughput figure, and where the time went as a table of seconds and shares, with Beam's raw
// metrics (nanoseconds) kept out of the page.
func TestWriteHTMLMeanings(t *testing.T) {
	s, _ := reportFixture(t)
	s.Meta["seconds"] = 20.0
	s.Meta["beam_metrics"] = map[string]any{"stage_seconds": map[string]any{"decode": 123456789012.0}}
	page := html.UnescapeString(renderHTML(t, Page{Summary: s}))
	for _, want := range []string{
		"NR score: the no-reference", "Higher is better", "Blockiness: ", "Lower is better",
		"Throughput: megapixels restored per second of the job's wall time",
		fmt.Sprintf("<b>%.2f MP/s</b>restored per second of wall time", Throughput(&s.Totals, 20)),
		"<h2 id=\"time\">Where the time went</h2>", "<th>seconds</th><th>share</th><th>per input</th>",
		"the job's wall time was 20.0 s",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"beam_metrics", "123456789012", "stage_seconds"} {
		if strings.Contains(page, bad) {
			t.Errorf("page shows raw %q", bad)
		}
	}
	// Each stage row: seconds with a unit, a share in percent; the shares add up to about 100%.
	rows := regexp.MustCompile(`<tr><td>(\w+)</td><td class="n">([0-9.]+ m?s)</td><td class="n">([0-9]+)%</td><td class="n">([0-9.]+ m?s)</td></tr>`).FindAllStringSubmatch(page, -1)
	if len(rows) != len(s.Totals.Seconds) {
		t.Fatalf("%d stage rows, want %d (one per stage timed)", len(rows), len(s.Totals.Seconds))
	}
	share := 0
	for _, r := range rows {
		var n int
		fmt.Sscan(r[3], &n)
		share += n
	}
	if share < 100-len(rows) || share > 100+len(rows) {
		t.Errorf("stage shares add up to %d%%", share)
	}
	// Every chart labels both axes.
	charts := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(charts) == 0 {
		t.Fatal("no charts")
	}
	for _, c := range charts {
		if !strings.Contains(c, `rotate(-90)" text-anchor="start">`+"inputs<") && !strings.Contains(c, "NR score (higher is better)") {
			t.Errorf("a chart without its y axis label: %.200s", c)
		}
		if !strings.Contains(c, "luma quality factor") && !strings.Contains(c, "no-reference score") {
			t.Errorf("a chart without its x axis label: %.200s", c)
		}
	}
}

func TestWorkerLine(t *testing.T) {
	decoded := map[string]any{} // as summary.json gives it back
	if err := json.Unmarshal([]byte(`{"fast":[{"addr":"a:1","tiles":40,"bytes_sent":12000000,"bytes_received":11000000},
		{"addr":"b:2","tiles":8,"failed":3,"downs":1,"bytes_sent":3000000,"bytes_received":2000000}]}`), &decoded); err != nil {
		t.Fatal(err)
	}
	want := "fast a:1: 40 tiles (12 MB sent, 11 MB back); fast b:2: 8 tiles (3 MB sent, 2 MB back), down 1 time, 3 requests failed and were sent elsewhere"
	if got := workerLine(decoded); got != want {
		t.Errorf("workerLine = %q\nwant %q", got, want)
	}
	if got := workerLine("not stats"); got != "not stats" {
		t.Errorf("workerLine of something else = %q", got)
	}
}
