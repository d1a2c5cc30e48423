package enhance

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/gpuworker"
	"jpegrestore/inference"
	"jpegrestore/inference/inferencetest"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/qcs"
	"jpegrestore/report"
	"jpegrestore/route"
)

func fixture(name string) string { return filepath.Join("..", "inference", "testdata", name+".json") }

// memStore is a Store in memory. fail, when set, may fail a call on purpose.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	fail func(op, uri string) error
}

func newStore(objs map[string][]byte) *memStore { return &memStore{objs: objs} }

func (s *memStore) get(op, uri string, n int64) ([]byte, error) {
	if s.fail != nil {
		if err := s.fail(op, uri); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[uri]
	if !ok {
		return nil, fmt.Errorf("mem %s %s: %w", op, uri, fs.ErrNotExist)
	}
	if n >= 0 && int64(len(b)) > n {
		b = b[:n]
	}
	return bytes.Clone(b), nil
}

func (s *memStore) ReadFile(_ context.Context, uri string) ([]byte, error) {
	return s.get("read", uri, -1)
}
func (s *memStore) ReadHead(_ context.Context, uri string, n int64) ([]byte, error) {
	return s.get("head", uri, n)
}
func (s *memStore) WriteFile(_ context.Context, uri string, data []byte) error {
	if s.fail != nil {
		if err := s.fail("write", uri); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[uri] = bytes.Clone(data)
	return nil
}

// journey restores into /out with the model, run by the pure-Go identity engine.
func journey(t *testing.T, store Store, format, model string, ensemble int) *Journey {
	t.Helper()
	load, _ := inferencetest.Loader(inferencetest.Identity)
	m := NewModels(ModelConfig{Default: fixture(model), Ensemble: ensemble}, load)
	t.Cleanup(func() { m.Close() })
	return &Journey{Settings: Settings{Out: "/out", Format: format, Routes: route.Default()}, Models: m, Store: store}
}

// withQCS gives j's models the DCT projection with alpha.
func withQCS(t *testing.T, j *Journey, alpha float64) *Journey {
	t.Helper()
	cfg := j.Models.cfg
	cfg.QCS = alpha
	load, _ := inferencetest.Loader(inferencetest.Identity)
	j.Models.Close()
	j.Models = NewModels(cfg, load)
	t.Cleanup(func() { j.Models.Close() })
	return j
}

func gradient(w, h, c int) pix.Image {
	m := pix.New(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8((i/c)%w*5 + i/(w*c)*3 + i%c*60)
	}
	return m
}

func jpegOf(t *testing.T, m pix.Image, q int, md jpeg.Metadata) []byte {
	t.Helper()
	b, err := jpeg.EncodeJPEG(m, jpeg.EncodeOptions{Quality: q, Subsampling: jpeg.Sub420, Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOutputURIAndRecord(t *testing.T) {
	for _, tc := range []struct{ out, rel, format, want string }{
		{"/o", "a/b.jpg", FormatPNG, "/o/a/b.png"},
		{"/o", "x.JPEG", FormatJPEG, "/o/x.jpg"},
		{"gs://bk/out/", "p/q/r.jpeg", FormatPNG, "gs://bk/out/p/q/r.png"},
		{"gs://bk", "noext", FormatPNG, "gs://bk/noext.png"},
	} {
		if got := OutputURI(tc.out, tc.rel, tc.format); got != tc.want {
			t.Errorf("OutputURI(%q, %q, %s) = %q, want %q", tc.out, tc.rel, tc.format, got, tc.want)
		}
	}
	r := NewRecord(Input{URI: "gs://photos/2019/a/b.jpg", Root: "gs://photos"})
	if r.Bucket != "photos" || r.Prefix != "2019" || r.Rel != "2019/a/b.jpg" {
		t.Errorf("NewRecord = %+v", r)
	}
	r = NewRecord(Input{URI: "/x/y.jpg", Root: "/x"})
	if r.Bucket != "local" || r.Prefix != "" || r.Rel != "y.jpg" {
		t.Errorf("NewRecord = %+v", r)
	}
}

// TestRestoreOutcomes: every kind of input ends in its status, stage and reason, and a rerun
// finds the outputs done.
func TestRestoreOutcomes(t *testing.T) {
	q20 := jpegOf(t, gradient(64, 48, 3), 20, jpeg.Metadata{})
	store := newStore(map[string][]byte{
		"/in/a/strong.jpg": q20,
		"/in/keep.jpg":     jpegOf(t, gradient(64, 48, 3), 95, jpeg.Metadata{}),
		"/in/text.jpg":     []byte("text"),
		"/in/cut.jpg":      q20[:len(q20)/2],
		"/in/huge.jpg":     jpegOf(t, gradient(80, 64, 3), 50, jpeg.Metadata{}),
	})
	j := journey(t, store, FormatPNG, "identity", 1)
	j.Settings.Limits = jpeg.Limits{MaxPixels: 64 * 48}
	type o struct {
		Status report.Status
		Stage  report.Stage
		Reason report.Reason
		Route  string
	}
	run := func(name string) (o, report.Record) {
		rec, err := j.Restore(context.Background(), Input{URI: "/in/" + name, Root: "/in"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return o{rec.Status, rec.Stage, rec.Reason, rec.Route}, rec
	}
	for _, tc := range []struct {
		name string
		want o
	}{
		{"a/strong.jpg", o{report.StatusRestored, "", "", "strong"}},
		{"keep.jpg", o{report.StatusSkipped, "", report.ReasonPassthrough, "passthrough"}},
		{"text.jpg", o{report.StatusSkipped, "", report.ReasonNotJPEG, ""}},
		{"cut.jpg", o{report.StatusFailed, report.StageProbe, report.ReasonTruncated, ""}},
		{"huge.jpg", o{report.StatusFailed, report.StageProbe, report.ReasonTooLarge, ""}},
		{"missing.jpg", o{report.StatusFailed, report.StageRead, report.ReasonReadFailed, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rec := run(tc.name)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s\nrecord %+v", diff, rec)
			}
			if info, ok := got.Reason.Info(); got.Reason != "" && (!ok || info.Status != got.Status) {
				t.Errorf("reason %q is not declared for status %s", got.Reason, got.Status)
			}
		})
	}
	if _, ok := store.objs["/out/a/strong.png"]; !ok {
		t.Error("the restored output was not written")
	}
	for _, name := range []string{"a/strong.jpg", "keep.jpg"} {
		if got, _ := run(name); got.Reason != report.ReasonDone {
			t.Errorf("rerun of %s: %+v, want skipped as done", name, got)
		}
	}
}

// TestResumeTag: the output tag names the input, the model and the settings: change any and the
// output is redone; keep them and it is done.
func TestResumeTag(t *testing.T) {
	in := Input{URI: "/in/x.jpg", Root: "/in"}
	restore := func(j *Journey) report.Record {
		rec, err := j.Restore(context.Background(), in)
		if err != nil || (rec.Status != report.StatusRestored && rec.Reason != report.ReasonDone) {
			t.Fatalf("%+v, %v", rec, err)
		}
		return rec
	}
	store := newStore(map[string][]byte{in.URI: jpegOf(t, gradient(64, 48, 3), 20, jpeg.Metadata{})})
	restore(journey(t, store, FormatPNG, "identity", 1))
	for _, tc := range []struct {
		name string
		j    *Journey
		done bool
	}{
		{"same", journey(t, store, FormatPNG, "identity", 1), true},
		{"model", journey(t, store, FormatPNG, "conv", 1), false},
		{"ensemble", journey(t, store, FormatPNG, "conv", 2), false},
		{"same-again", journey(t, store, FormatPNG, "conv", 2), true},
		{"qcs", withQCS(t, journey(t, store, FormatPNG, "conv", 2), 0.4), false},
		{"qcs-again", withQCS(t, journey(t, store, FormatPNG, "conv", 2), 0.4), true},
		{"qcs-other", withQCS(t, journey(t, store, FormatPNG, "conv", 2), 0.5), false},
	} {
		if got := restore(tc.j).Reason == report.ReasonDone; got != tc.done {
			t.Errorf("%s: done = %v, want %v", tc.name, got, tc.done)
		}
	}
	store.objs[in.URI] = jpegOf(t, gradient(64, 48, 3), 21, jpeg.Metadata{})
	if restore(journey(t, store, FormatPNG, "conv", 2)).Reason == report.ReasonDone {
		t.Error("a changed input was not redone")
	}
	jpg := journey(t, store, FormatJPEG, "conv", 2)
	if restore(jpg).Reason == report.ReasonDone || restore(jpg).Reason != report.ReasonDone {
		t.Error("JPEG output: not redone once, then done")
	}
}

// TestTagNamesInt8: an int8 model's tag says so besides its sha256; a float model's tag is what
// it was before int8 models came, so a rerun with the same float model redoes nothing.
func TestTagNamesInt8(t *testing.T) {
	set := Setting{Manifest: &inference.Manifest{SHA256: "f00d", Weights: "float16"}, Ensemble: 1, Tile: 1376}
	s := Settings{Format: FormatPNG}
	if got, want := TagFor("abc", &set, s), "jpegrestore/v1 input=abc model=f00d ensemble=1 tile=1376 format=png q=0 cmyk=0"; got != want {
		t.Errorf("float tag %q, want %q", got, want)
	}
	set.Manifest = &inference.Manifest{SHA256: "f00d", Weights: inference.WeightsInt8}
	if got, want := TagFor("abc", &set, s), "jpegrestore/v1 input=abc model=f00d weights=int8-qdq ensemble=1 tile=1376 format=png q=0 cmyk=0"; got != want {
		t.Errorf("int8 tag %q, want %q", got, want)
	}
	set.QCS = 0.4
	if got, want := TagFor("abc", &set, s), "jpegrestore/v1 input=abc model=f00d weights=int8-qdq ensemble=1 tile=1376 qcs=0.4 format=png q=0 cmyk=0"; got != want {
		t.Errorf("projected tag %q, want %q", got, want)
	}
	for _, tc := range []struct {
		cfg  ModelConfig
		want string
	}{{ModelConfig{}, "off"}, {ModelConfig{QCS: 0.5}, "0.5"}, {ModelConfig{QCS: 0.4, QCSAuto: true}, "auto:0.4"}} {
		if got := tc.cfg.QCSName(); got != tc.want {
			t.Errorf("%+v: QCSName %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// TestResumeListedAbsent: an output the listing did not show is not read, even when it exists by
// now (another run wrote it meanwhile): the input is restored, writing it again.
func TestResumeListedAbsent(t *testing.T) {
	in := Input{URI: "/in/x.jpg", Root: "/in"}
	store := newStore(map[string][]byte{in.URI: jpegOf(t, gradient(64, 48, 3), 20, jpeg.Metadata{})})
	if _, err := journey(t, store, FormatPNG, "identity", 1).Restore(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var heads []string
	store.fail = func(op, uri string) error {
		if op == "head" {
			heads = append(heads, uri)
		}
		return nil
	}
	listed := in
	listed.OutputListed = true
	rec, err := journey(t, store, FormatPNG, "identity", 1).Restore(context.Background(), listed)
	if err != nil || rec.Status != report.StatusRestored || len(heads) != 0 {
		t.Errorf("listed absent: %s/%s, outputs read %v; want restored, none read", rec.Status, rec.Reason, heads)
	}
	rec, err = journey(t, store, FormatPNG, "identity", 1).Restore(context.Background(), in)
	if err != nil || rec.Reason != report.ReasonDone || len(heads) != 1 {
		t.Errorf("not listed: %s/%s, outputs read %v; want done after one read", rec.Status, rec.Reason, heads)
	}
}

func TestRestoreCarriesMetadata(t *testing.T) {
	icc := bytes.Repeat([]byte("icc"), 100)
	data := jpegOf(t, gradient(70, 40, 3), 25, jpeg.Metadata{ICC: icc, EXIF: tiff(6)})
	for _, format := range []string{FormatPNG, FormatJPEG} {
		t.Run(format, func(t *testing.T) {
			store := newStore(map[string][]byte{"/in/r.jpg": data})
			rec, err := journey(t, store, format, "identity", 1).Restore(context.Background(), Input{URI: "/in/r.jpg", Root: "/in"})
			if err != nil || rec.Status != report.StatusRestored || rec.NRBefore == 0 {
				t.Fatalf("record %+v, %v", rec, err)
			}
			out := store.objs[rec.Output]
			if _, ok := jpeg.ReadTag(out[:min(len(out), TagHeadBytes)]); !ok {
				t.Error("output does not carry its tag")
			}
			// Orientation 6: the output is upright (40 wide, 70 high) and says orientation 1.
			var got pix.Image
			var info *jpeg.Info
			if format == FormatJPEG {
				d, err := jpeg.Decode(out, jpeg.DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got, info = d.Image, d.Info
			} else {
				m, err := png.Decode(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				got = pix.FromStd(m)
			}
			if got.W != 40 || got.H != 70 {
				t.Errorf("output %dx%d, want upright 40x70", got.W, got.H)
			}
			if info != nil && (info.Orientation != 1 || !bytes.Equal(info.ICC, icc)) {
				t.Errorf("JPEG output orientation %d, ICC %d bytes", info.Orientation, len(info.ICC))
			}
			if format == FormatPNG {
				// identity model + PNG: the pixels are the upright decode, exactly.
				d, _ := jpeg.Decode(data, jpeg.DecodeOptions{ApplyOrientation: true})
				if diff := cmp.Diff(d.Image.Pix, got.Pix); diff != "" {
					t.Error("identity restore to PNG changed pixels")
				}
			}
		})
	}
}

func TestRestoreGrayAndPassthrough(t *testing.T) {
	gray := jpegOf(t, gradient(33, 17, 1), 30, jpeg.Metadata{})
	good := jpegOf(t, gradient(40, 40, 3), 95, jpeg.Metadata{})
	store := newStore(map[string][]byte{"/in/g.jpg": gray, "/in/p.jpg": good})
	rec, err := journey(t, store, FormatPNG, "identity", 1).Restore(context.Background(), Input{URI: "/in/g.jpg", Root: "/in"})
	m, perr := png.Decode(bytes.NewReader(store.objs["/out/g.png"]))
	if err != nil || perr != nil || pix.FromStd(m).C != 1 || rec.Status != report.StatusRestored {
		t.Errorf("gray: %v %v, record %+v", err, perr, rec)
	}
	rec, err = journey(t, store, FormatJPEG, "identity", 1).Restore(context.Background(), Input{URI: "/in/p.jpg", Root: "/in"})
	if err != nil || rec.Status != report.StatusSkipped || rec.Reason != report.ReasonPassthrough {
		t.Errorf("passthrough record %+v, %v", rec, err)
	}
	a, _ := jpeg.Decode(good, jpeg.DecodeOptions{})
	b, err := jpeg.Decode(store.objs["/out/p.jpg"], jpeg.DecodeOptions{})
	if err != nil || !bytes.Equal(a.Image.Pix, b.Image.Pix) {
		t.Error("passthrough to JPEG is not the original image")
	}
}

// TestStorageFaults: a read or write that fails (once the store's retries are spent) fails its
// input with its reason; an output that cannot be checked is redone.
func TestStorageFaults(t *testing.T) {
	data := jpegOf(t, gradient(32, 32, 3), 20, jpeg.Metadata{})
	reset := fmt.Errorf("storage: read: %w (after 8 tries)", syscall.ECONNRESET)
	for _, tc := range []struct {
		name, op string
		want     report.Reason
		status   report.Status
	}{
		{"read", "read", report.ReasonReadFailed, report.StatusFailed},
		{"write", "write", report.ReasonWriteFailed, report.StatusFailed},
		{"head", "head", "", report.StatusRestored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(map[string][]byte{"/in/x.jpg": data})
			store.fail = func(op, _ string) error {
				if op == tc.op {
					return reset
				}
				return nil
			}
			rec, err := journey(t, store, FormatPNG, "identity", 1).Restore(context.Background(), Input{URI: "/in/x.jpg", Root: "/in"})
			if err != nil || rec.Status != tc.status || rec.Reason != tc.want {
				t.Errorf("record %+v, error %v; want %s %q", rec, err, tc.status, tc.want)
			}
			if info, _ := rec.Reason.Info(); tc.want != "" && !info.Transient {
				t.Errorf("%s is not declared transient", rec.Reason)
			}
		})
	}
}

// TestSinkUnusable: after SinkFailureLimit writes in a row fail, the journey says the output is
// unusable instead of failing one more input; a write that succeeds starts the count again.
func TestSinkUnusable(t *testing.T) {
	data := jpegOf(t, gradient(32, 32, 3), 20, jpeg.Metadata{})
	store := newStore(map[string][]byte{"/in/x.jpg": data})
	broken := true
	store.fail = func(op, _ string) error {
		if op == "write" && broken {
			return fmt.Errorf("storage: write: %w", fs.ErrPermission)
		}
		return nil
	}
	j := journey(t, store, FormatPNG, "identity", 1)
	restore := func() (report.Record, error) {
		return j.Restore(context.Background(), Input{URI: "/in/x.jpg", Root: "/in"})
	}
	for i := 1; i < SinkFailureLimit; i++ {
		if rec, err := restore(); err != nil || rec.Reason != report.ReasonWriteFailed {
			t.Fatalf("write %d: %+v, %v", i, rec, err)
		}
	}
	broken = false
	if rec, err := restore(); err != nil || rec.Status != report.StatusRestored {
		t.Fatalf("a good write: %+v, %v", rec, err)
	}
	delete(store.objs, "/out/x.png") // so the next ones write again
	broken = true
	for i := 1; i < SinkFailureLimit; i++ {
		restore()
	}
	if _, err := restore(); !errors.Is(err, ErrSinkUnusable) || !strings.Contains(err.Error(), "10 writes in a row failed") {
		t.Errorf("write %d in a row: %v, want ErrSinkUnusable", SinkFailureLimit, err)
	}
}

func TestSurveyAndProbe(t *testing.T) {
	q20 := jpegOf(t, gradient(40, 24, 3), 20, jpeg.Metadata{})
	store := newStore(map[string][]byte{"/in/p/q20.jpg": q20, "/in/bad.jpg": []byte("nope")})
	j := &Journey{Store: store}
	in := Input{URI: "/in/p/q20.jpg", Root: "/in"}
	rec, err := j.Survey(context.Background(), in)
	if err != nil || rec.Status != report.StatusSurveyed || rec.QF != 20 || rec.NRBefore == 0 || rec.Route != report.RouteSurvey {
		t.Errorf("survey record %+v, %v", rec, err)
	}
	rec, p, err := j.Probe(context.Background(), in)
	if err != nil || rec.Status != report.StatusProbed || p == nil || p.Quality.Luma.Quality != 20 || rec.Timings[report.StageDecode] != 0 {
		t.Errorf("probe record %+v, %v", rec, err)
	}
	rec, p, err = j.Probe(context.Background(), Input{URI: "/in/bad.jpg", Root: "/in"})
	if err != nil || p != nil || rec.Reason != report.ReasonNotJPEG {
		t.Errorf("probe of a non-JPEG: %+v, %v", rec, err)
	}
}

func TestEvalAt(t *testing.T) {
	var ref bytes.Buffer
	if err := png.Encode(&ref, gradient(64, 48, 3).Std()); err != nil {
		t.Fatal(err)
	}
	store := newStore(map[string][]byte{"/refs/a.png": ref.Bytes(), "/refs/bad.png": []byte("nope")})
	j := journey(t, store, FormatPNG, "identity", 1)
	r, rec, err := j.Reference(context.Background(), Input{URI: "/refs/a.png", Root: "/refs"})
	if err != nil || r == nil {
		t.Fatalf("reference: %+v, %v", rec, err)
	}
	got := j.EvalAt(context.Background(), r, 30)
	if got.Status != report.StatusRestored || got.QF != 30 || got.PSNRBefore == nil || *got.PSNRAfter != *got.PSNRBefore {
		t.Errorf("identity eval record %+v", got)
	}
	if got.Key() == j.EvalAt(context.Background(), r, 40).Key() {
		t.Error("the records of two QFs share a key")
	}
	r, rec, err = j.Reference(context.Background(), Input{URI: "/refs/bad.png", Root: "/refs"})
	if err != nil || r != nil || rec.Stage != report.StageDecode || rec.Reason != report.ReasonCorrupt {
		t.Errorf("a bad reference: %+v, %v", rec, err)
	}
}

// TestGoEngineMatchesORT: the pure-Go identity engine the tests above use restores the same bytes
// as the identity model through ONNX Runtime.
func TestGoEngineMatchesORT(t *testing.T) {
	data := jpegOf(t, gradient(70, 40, 3), 25, jpeg.Metadata{ICC: []byte("icc"), EXIF: tiff(6)})
	outputs := map[string][]byte{}
	for name, load := range map[string]inference.Loader{
		"go": func(p string) (inference.Model, func() error, error) {
			l, _ := inferencetest.Loader(inferencetest.Identity)
			return l(p)
		},
		"ort": gpuworker.Loader("", gpuworker.Options{}),
	} {
		store := newStore(map[string][]byte{"/in/x.jpg": data})
		m := NewModels(ModelConfig{Default: fixture("identity"), Ensemble: 2}, load)
		j := &Journey{Settings: Settings{Out: "/out", Format: FormatPNG, Routes: route.Default()}, Models: m, Store: store}
		rec, err := j.Restore(context.Background(), Input{URI: "/in/x.jpg", Root: "/in"})
		m.Close()
		if err != nil || rec.Status != report.StatusRestored {
			t.Fatalf("%s: %+v, %v", name, rec, err)
		}
		outputs[name] = store.objs[rec.Output]
	}
	if !bytes.Equal(outputs["go"], outputs["ort"]) {
		t.Error("the Go identity engine and ONNX Runtime's identity model restore different bytes")
	}
}

// TestJPEGKindsHaveDeclaredReasons: every decoder error kind maps to a reason declared for the
// status it ends in.
func TestJPEGKindsHaveDeclaredReasons(t *testing.T) {
	for kind, r := range jpegReasons {
		info, ok := r.Info()
		if !ok || (info.Status != report.StatusFailed && r != report.ReasonNotJPEG) {
			t.Errorf("jpeg kind %v maps to %q, declared %v (%+v)", kind, r, ok, info)
		}
	}
	for k := jpeg.KindCorrupt; k <= jpeg.KindEncode; k++ {
		if _, ok := jpegReasons[k]; !ok {
			t.Errorf("jpeg kind %v has no reason", k)
		}
	}
}

func TestResolveModel(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fast.json"), []byte("{}"), 0o644)
	if got, err := ResolveModel("fast", dir); err != nil || got != filepath.Join(dir, "fast.json") {
		t.Errorf("ResolveModel(fast) = %q, %v", got, err)
	}
	if got, _ := ResolveModel("some/path.json", dir); got != "some/path.json" {
		t.Errorf("paths pass through, got %q", got)
	}
	t.Setenv(ModelsDirEnv, "")
	if _, err := ResolveModel("nonesuch", dir); err == nil || !strings.Contains(err.Error(), "--model PATH") {
		t.Errorf("missing preset error %v", err)
	}
}

// TestModelsLoadOnce: routes that share a model share one load, and Close releases it.
func TestModelsLoadOnce(t *testing.T) {
	load, loads := inferencetest.Loader(inferencetest.Identity)
	m := NewModels(ModelConfig{Default: fixture("identity")}, load)
	rs := route.Default()
	rs[0].Ensemble = 8
	rms, err := m.Preload(rs)
	if err != nil || len(rms) != 3 || rms[0].Ensemble != 8 || rms[1].Ensemble != 1 {
		t.Fatalf("preload: %v, %+v", err, rms)
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("%d loads for three routes of one model", n)
	}
	if err := m.Close(); err != nil || loads.Load() != 0 {
		t.Errorf("close: %v, %d still loaded", err, loads.Load())
	}
	bad := NewModels(ModelConfig{Default: filepath.Join(t.TempDir(), "none.json")}, load)
	if _, err := bad.Preload(rs); err == nil || !strings.Contains(err.Error(), "route strong") {
		t.Errorf("a missing model preloaded: %v", err)
	}
}

// tiff builds a minimal EXIF TIFF with Orientation = o.
func tiff(o int) []byte {
	b := make([]byte, 26)
	copy(b, "II*\x00")
	binary.LittleEndian.PutUint32(b[4:], 8)
	binary.LittleEndian.PutUint16(b[8:], 1)
	binary.LittleEndian.PutUint16(b[10:], 0x0112)
	binary.LittleEndian.PutUint16(b[12:], 3)
	binary.LittleEndian.PutUint32(b[14:], 1)
	binary.LittleEndian.PutUint16(b[18:], uint16(o))
	return b
}

func TestCheckRel(t *testing.T) {
	for _, tc := range []struct {
		rel string
		ok  bool
	}{
		{"a.jpg", true},
		{"2019/x y/a.JPEG", true},
		{"été/ünï.jpg", true},
		{"../a.jpg", false},
		{"a/../../b.jpg", false},
		{"/etc/a.jpg", false},
		{"a//b.jpg", false},
		{"./a.jpg", false},
		{"a/", false},
		{"", false},
		{"a\nb.jpg", false},
		{"a\x00.jpg", false},
		{"a\u0085.jpg", false},
		{"gs://b/x.jpg", false},
	} {
		if err := CheckRel(tc.rel); (err == nil) != tc.ok {
			t.Errorf("CheckRel(%q) = %v, want ok %v", tc.rel, err, tc.ok)
		}
	}
}

// TestNamesAreUntrusted: an input whose path could leave the output root, a symlink out of the
// input root and an input whose output another one claimed each fail before anything is read.
func TestNamesAreUntrusted(t *testing.T) {
	data := jpegOf(t, gradient(32, 32, 3), 20, jpeg.Metadata{})
	reads := 0
	store := newStore(map[string][]byte{"gs://b/in/../../x.jpg": data, "/in/link.jpg": data, "/in/a.jpeg": data})
	store.fail = func(op, _ string) error {
		if op == "read" {
			reads++
		}
		return nil
	}
	j := journey(t, store, FormatPNG, "identity", 1)
	for _, tc := range []struct {
		in   Input
		want report.Reason
	}{
		{Input{URI: "gs://b/in/../../x.jpg", Root: "gs://b/in"}, report.ReasonUnsafeName},
		{Input{URI: "/in/link.jpg", Root: "/in", OutsideRoot: true}, report.ReasonOutsideRoot},
		{Input{URI: "/in/a.jpeg", Root: "/in", OutputTakenBy: "a.jpg"}, report.ReasonOutputTaken},
	} {
		rec, err := j.Restore(context.Background(), tc.in)
		if err != nil || rec.Status != report.StatusFailed || rec.Reason != tc.want {
			t.Errorf("%s: %+v, %v; want failed %s", tc.in.URI, rec, err, tc.want)
		}
	}
	if reads != 0 || len(store.objs) != 3 {
		t.Errorf("%d reads and %d objects after refusing every input", reads, len(store.objs))
	}
}

// TestResolveOnAWorker: a worker that starts in another folder without the launcher's
// environment finds a preset where the launcher found it; --models and $JPEGRESTORE_MODELS there
// still come first, and a launcher's path that does not exist there is not taken.
func TestResolveOnAWorker(t *testing.T) {
	launcherModels, workerModels := t.TempDir(), t.TempDir()
	for _, d := range []string{launcherModels, workerModels} {
		os.WriteFile(filepath.Join(d, "fast.json"), []byte("{}"), 0o644)
	}
	t.Setenv(ModelsDirEnv, launcherModels)
	cfg := ModelConfig{Default: "fast"}.WithFound(route.Default())
	if got := cfg.Found["fast"]; got != filepath.Join(launcherModels, "fast.json") {
		t.Fatalf("found %q", got)
	}
	t.Setenv(ModelsDirEnv, "")
	t.Chdir(t.TempDir())
	if got, err := cfg.Resolve("fast"); err != nil || got != filepath.Join(launcherModels, "fast.json") {
		t.Errorf("worker: %q, %v", got, err)
	}
	dirCfg := cfg
	dirCfg.Dir = workerModels
	if got, _ := dirCfg.Resolve("fast"); got != filepath.Join(workerModels, "fast.json") {
		t.Errorf("--models on the worker: %q", got)
	}
	gone := ModelConfig{Found: map[string]string{"fast": filepath.Join(t.TempDir(), "fast.json")}}
	if _, err := gone.Resolve("fast"); err == nil {
		t.Error("a launcher's path that is not on the worker resolved")
	}
}

// TestProjectStep: with QCS set, a restored image is the model's output projected onto what its
// file says (package qcs), and the record says so; a file that cannot be projected (CMYK) keeps
// the model's output and says why.
func TestProjectStep(t *testing.T) {
	cmyk, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "image", "testdata", "video-001.cmyk.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	src := jpegOf(t, gradient(64, 48, 3), 20, jpeg.Metadata{})
	store := newStore(map[string][]byte{"/in/a.jpg": src, "/in/cmyk.jpg": cmyk})
	j := withQCS(t, journey(t, store, FormatPNG, "identity", 1), 0.3)
	j.Settings.Routes = route.Routes{{Name: "all", MinQF: 1, MaxQF: 100}}
	rec, err := j.Restore(context.Background(), Input{URI: "/in/a.jpg", Root: "/in"})
	if err != nil || rec.Status != report.StatusRestored || rec.QCS != 0.3 || rec.QCSMoved == 0 || rec.QCSSkipped != "" {
		t.Fatalf("record %+v, %v", rec, err)
	}
	// The identity model's output is the decoded image; projected, it is what qcs makes of it.
	d, err := jpeg.Decode(src, jpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := jpeg.ReadCoefficients(src, d.Info)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := qcs.Project(d.Image, c, 0.3)
	if err != nil || moved != rec.QCSMoved {
		t.Fatalf("qcs.Project moved %d (%v), the journey %d", moved, err, rec.QCSMoved)
	}
	m, err := png.Decode(bytes.NewReader(store.objs["/out/a.png"]))
	if err != nil || !bytes.Equal(pix.FromStd(m).Pix, d.Image.Pix) {
		t.Errorf("the output is not the projected image (%v)", err)
	}
	rec, err = j.Restore(context.Background(), Input{URI: "/in/cmyk.jpg", Root: "/in"})
	if err != nil || rec.Status != report.StatusRestored || rec.QCS != 0 || !strings.Contains(rec.QCSSkipped, "cmyk") {
		t.Errorf("CMYK record %+v, %v", rec, err)
	}
}

// TestProjectAuto: with QCSAuto, a file saved again after a coarser compression, on the same grid
// or after a crop, is not projected (its record says why), and a file saved once is.
func TestProjectAuto(t *testing.T) {
	// A smooth scene with edges and texture: enough coefficients for DoubleQuantized's
	// histograms, and nothing periodic for ShiftedGrid to take for an earlier grid.
	src := pix.New(256, 192, 3)
	r := rand.New(rand.NewSource(1))
	for y := 0; y < src.H; y++ {
		for x := 0; x < src.W; x++ {
			for k := 0; k < 3; k++ {
				v := 100 + 50*math.Sin(float64(x)/13+float64(k)) + 40*math.Cos(float64(y)/9) + 12*r.NormFloat64()
				if (x/29+y/37)%2 == 0 {
					v += 30
				}
				src.Pix[(y*src.W+x)*3+k] = uint8(max(0, min(255, v)))
			}
		}
	}
	once := jpegOf(t, src, 30, jpeg.Metadata{})
	first, err := jpeg.Decode(jpegOf(t, src, 10, jpeg.Metadata{}), jpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	twice := jpegOf(t, first.Image, 30, jpeg.Metadata{})
	// Saved at QF 20, cropped by 4 pixels on the top and left, saved again at QF 70.
	f20, err := jpeg.Decode(jpegOf(t, src, 20, jpeg.Metadata{}), jpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := pix.New(f20.Image.W-4, f20.Image.H-4, 3)
	for y := 0; y < c.H; y++ {
		copy(c.Pix[y*c.W*3:(y+1)*c.W*3], f20.Image.Pix[((y+4)*f20.Image.W+4)*3:])
	}
	cropped := jpegOf(t, c, 70, jpeg.Metadata{})
	store := newStore(map[string][]byte{"/in/once.jpg": once, "/in/twice.jpg": twice, "/in/cropped.jpg": cropped})
	j := journey(t, store, FormatPNG, "identity", 1)
	j.Models.cfg.QCSAuto = true
	j = withQCS(t, j, SingleQCS)
	for _, tc := range []struct {
		name      string
		projected bool
		why       string
	}{{"once.jpg", true, ""}, {"twice.jpg", false, "quantized twice"}, {"cropped.jpg", false, "another grid"}} {
		rec, err := j.Restore(context.Background(), Input{URI: "/in/" + tc.name, Root: "/in"})
		if err != nil || rec.Status != report.StatusRestored {
			t.Fatalf("%s: %+v, %v", tc.name, rec, err)
		}
		if got := rec.QCS > 0; got != tc.projected || !strings.Contains(rec.QCSSkipped, tc.why) {
			t.Errorf("%s: qcs %g, skipped %q; want projected %v", tc.name, rec.QCS, rec.QCSSkipped, tc.projected)
		}
		if !strings.Contains(rec.Tag, "qcs=auto:0.4") {
			t.Errorf("%s: tag %q does not name the gate", tc.name, rec.Tag)
		}
	}
}
