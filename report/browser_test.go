package report

// The report in a real browser: Debian's chromium, headless, driven over the DevTools protocol
// (chromedp). Each page is opened at a desktop and at phone widths and must fit the window (no
// horizontal scrolling of the document, no chart, crop or card cut off; wide tables scroll inside
// their own box), log no error and ask for nothing but itself: the report is one offline file.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserWidths are the window widths a report must fit: a desktop, a phone, a small phone.
var browserWidths = []struct {
	name   string
	width  int64
	mobile bool
}{{"desktop", 1280, false}, {"phone", 400, true}, {"small-phone", 360, true}}

// findChromium returns the path of a Chromium or Chrome binary, or "" when there is none.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for the test and returns its context. Only hosts that do not
// exist resolve, so nothing could leave the machine even if a page asked.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		if testing.Short() {
			t.Skip("no chromium on PATH; -short skips the browser test (scripts/setup.sh installs Debian's chromium)")
		}
		t.Fatal("no chromium on PATH: the report's browser test needs Debian's chromium (scripts/setup.sh installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// layoutJS measures the page in the window: the document's own width, and every chart, image,
// figure, card, table and details box whose box leaves the window, unless it sits inside a box
// that scrolls horizontally (a wide table in its own scroller is fine on a phone). Images must
// have loaded and decoded.
const layoutJS = `(() => {
  const vw = document.documentElement.clientWidth;
  const problems = [];
  if (window.innerWidth !== %d) problems.push("window.innerWidth is " + window.innerWidth + ", not %d: no working viewport meta?");
  const sw = document.documentElement.scrollWidth;
  if (sw > vw) problems.push("the document is " + sw + "px wide in a " + vw + "px window");
  const scrolls = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  };
  const name = el => "<" + el.tagName.toLowerCase() + (el.getAttribute("class") ? " class=" + el.getAttribute("class") : "") + ">";
  for (const el of document.querySelectorAll("svg, img, figure, .card, table, details, li, p, h1, h2, h3")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || scrolls(el)) continue;
    if (r.left < -0.5 || r.right > vw + 0.5) problems.push(name(el) + " spans " + Math.round(r.left) + "-" + Math.round(r.right) + "px of a " + vw + "px window");
  }
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problems.push("an image did not load: " + img.src.slice(0, 60));
  }
  return problems;
})()`

// pageProblems opens file in the browser at the width and returns what is wrong: layout problems,
// console errors, exceptions, log errors and requests for anything but the file and data: URIs.
func pageProblems(t *testing.T, bctx context.Context, file string, width int64, mobile bool) []string {
	t.Helper()
	var (
		mu       sync.Mutex
		problems []string
	)
	url := "file://" + file
	add := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, a...))
	}
	tab, cancel := chromedp.NewContext(bctx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				add("console.%s(%s)", ev.Type, strings.Join(args, ", "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			if d.Exception != nil {
				add("exception: %s %s", d.Text, d.Exception.Description)
			} else {
				add("exception: %s", d.Text)
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				add("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; u != url && !strings.HasPrefix(u, "data:") {
				add("request for %s", u)
			}
		}
	}))
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	defer cancelTimeout()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900, opts...), chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s at %d px: %v", file, width, err)
	}
	layout, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(layoutJS, width, width)))
	if err != nil {
		t.Fatalf("measuring %s at %d px: %v", file, width, err)
	}
	// Events of the load may still be on their way: the tab's event loop is ordered, so one more
	// round trip delivers them.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int]("1")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append(layout, problems...)
}

// photoCrop is a crop of the size the restore job embeds (enhance.CropSide), with detail so
// PNG cannot shrink it to nothing.
func photoCrop(t *testing.T, seed uint64) []byte {
	t.Helper()
	const side = 192
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			v := uint8((uint64(x*x+y*7) * (seed + 3)) >> 3)
			img.Set(x, y, color.RGBA{v, uint8(x), uint8(y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// browserPages writes the pages the browser test opens: a restore with crops, reference metrics,
// failures with an unbreakable 200-character name, and earlier runs; a survey; an empty report.
func browserPages(t *testing.T, dir string) map[string]string {
	t.Helper()
	s, examples := reportFixture(t)
	s.Meta["seconds"] = 12.5
	for i := range examples {
		examples[i].Before, examples[i].After = photoCrop(t, uint64(2*i)), photoCrop(t, uint64(2*i+1))
	}
	long := strings.Repeat("a_very_long_object_name_", 9) + ".jpg"
	lists := append([]ReasonList{{Reason: ReasonCorrupt, Total: 1, Records: []Record{{Rel: long, Error: "jpeg: corrupt: " + strings.Repeat("x", 150)}}}}, fixtureLists...)
	pages := map[string]Page{
		"restore": {Summary: s, Examples: examples, NotRestored: lists, Runs: []Run{{Name: "20261130T000000Z-ab", Made: 180}, {Name: "20261129T000000Z-cd"}}},
		"survey":  {Summary: surveyFixture(), NotRestored: lists},
		"empty":   {Summary: NewAccumulator()},
	}
	files := map[string]string{}
	for name, p := range pages {
		files[name] = filepath.Join(dir, name, "report.html")
		if err := os.MkdirAll(filepath.Dir(files[name]), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(files[name], []byte(renderHTML(t, p)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestReportInBrowser opens the report pages in headless Chromium at desktop and phone widths.
func TestReportInBrowser(t *testing.T) {
	bctx := browser(t)
	dir := t.TempDir()

	// The checks can fail: a page that overflows, cuts off a chart, logs an error, throws and
	// asks the network for an image must show each of those.
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"/></head><body>
<div style="width:900px">wide</div><svg width="700" height="10"></svg>
<script>console.error("broken"); throw new Error("boom");</script>
<img src="http://report.invalid/x.png"/></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(pageProblems(t, bctx, bad, 400, true), "\n")
	for _, want := range []string{"the document is", "<svg> spans", "console.error", "exception:", "request for http://report.invalid/x.png", "an image did not load"} {
		if !strings.Contains(got, want) {
			t.Errorf("the bad page's problems lack %q; got:\n%s", want, got)
		}
	}

	for name, file := range browserPages(t, dir) {
		for _, w := range browserWidths {
			t.Run(name+"/"+w.name, func(t *testing.T) {
				if ps := pageProblems(t, bctx, file, w.width, w.mobile); len(ps) > 0 {
					t.Errorf("%s at %d px:\n  %s", name, w.width, strings.Join(ps, "\n  "))
				}
			})
		}
	}
}
