package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/pix"
)

// testManifest describes a pure-Go test model.
func testManifest(rf int, cond bool) *Manifest {
	m := &Manifest{Name: "test", File: "x.onnx", SHA256: strings.Repeat("0", 64), Output: "restored",
		Conditioning: CondNone, PadMultiple: 16, ReceptiveField: rf}
	m.Inputs.Image = "image"
	if cond {
		m.Conditioning, m.Inputs.QTable = CondQTable, "qtable"
	}
	return m
}

var identityEngine = EngineFunc(func(_ context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	return x, nil
})

// convEngine is a pure-Go model with a bounded, asymmetric receptive field: each output channel
// adds a 5×5 correlation (zero padding at the tile border) of the next channel to itself, plus
// q[0] when conditioned. Its receptive field is 5.
type convEngine struct{ k [3][25]float32 }

func newConvEngine() *convEngine {
	e := &convEngine{}
	r := rand.New(rand.NewSource(3))
	for c := range e.k {
		for i := range e.k[c] {
			e.k[c][i] = r.Float32()*0.2 - 0.1
		}
	}
	return e
}

func (e *convEngine) Infer(_ context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
	out := make([]float32, len(x))
	for c := 0; c < 3; c++ {
		src := x[((c+1)%3)*h*w:]
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				s := x[c*h*w+y*w+xx]
				for dy := -2; dy <= 2; dy++ {
					for dx := -2; dx <= 2; dx++ {
						if yy, xs := y+dy, xx+dx; yy >= 0 && yy < h && xs >= 0 && xs < w {
							s += e.k[c][(dy+2)*5+dx+2] * src[yy*w+xs]
						}
					}
				}
				if q != nil {
					s += q[0]
				}
				out[c*h*w+y*w+xx] = s
			}
		}
	}
	return out, nil
}

func randomPlanar(h, w int, seed int64) Planar {
	p := Planar{C: 3, H: h, W: w, Data: make([]float32, 3*h*w)}
	r := rand.New(rand.NewSource(seed))
	for i := range p.Data {
		p.Data[i] = r.Float32()
	}
	return p
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestSplitAxis(t *testing.T) {
	for _, tc := range []struct{ length, tile, overlap, wantTiles, wantSize int }{
		{16, 512, 32, 1, 16},
		{512, 512, 32, 1, 512},
		{528, 512, 32, 2, 288},
		{1008, 512, 32, 3, 368},
		{2048, 512, 32, 5, 448},
		{4000, 512, 32, 9, 480},
		{4096, 512, 0, 8, 512},
		{4112, 512, 64, 10, 480},
		{208, 64, 16, 4, 64},
		{400, 64, 16, 8, 64},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d", tc.length, tc.tile, tc.overlap), func(t *testing.T) {
			spans := splitAxis(tc.length, tc.tile, tc.overlap)
			if len(spans) != tc.wantTiles || spans[0].size != tc.wantSize {
				t.Errorf("%d tiles of %d, want %d of %d", len(spans), spans[0].size, tc.wantTiles, tc.wantSize)
			}
			next := 0
			for i, s := range spans {
				if s.start%16 != 0 || s.size%16 != 0 || s.size != spans[0].size || s.size > tc.tile || s.start+s.size > tc.length {
					t.Errorf("tile %d = %+v", i, s)
				}
				if i > 0 && spans[i-1].start+s.size-s.start < tc.overlap {
					t.Errorf("tiles %d and %d overlap by %d < %d", i-1, i, spans[i-1].start+s.size-s.start, tc.overlap)
				}
				if s.keepFrom != next || s.keepTo <= s.keepFrom {
					t.Errorf("tile %d keeps [%d,%d), want it to start at %d", i, s.keepFrom, s.keepTo, next)
				}
				next = s.keepTo
				// Kept pixels lie overlap/2 inside the tile, except at the image's own edges.
				if (i > 0 && s.keepFrom-s.start < tc.overlap/2) || (i < len(spans)-1 && s.start+s.size-s.keepTo < tc.overlap/2) {
					t.Errorf("tile %d %+v keeps pixels within %d of its edge", i, s, tc.overlap/2)
				}
			}
			if next != tc.length || spans[len(spans)-1].start+spans[0].size != tc.length {
				t.Errorf("tiles end at %d, kept pixels at %d; want %d", spans[len(spans)-1].start+spans[0].size, next, tc.length)
			}
		})
	}
	// Every length on the grid up to 3000 with a few tile/overlap pairs: the same invariants.
	for _, p := range [][2]int{{512, 32}, {256, 48}, {64, 16}, {128, 0}} {
		for length := 16; length <= 3000; length += 16 {
			spans := splitAxis(length, p[0], p[1])
			next := 0
			for i, s := range spans {
				ok := s.start%16 == 0 && s.keepFrom == next && s.keepTo > s.keepFrom && s.size <= max(p[0], 0) &&
					(i == 0 || spans[i-1].start+s.size-s.start >= p[1]) && (i == 0 || s.keepFrom-s.start >= p[1]/2) &&
					(i == len(spans)-1 || s.start+s.size-s.keepTo >= p[1]/2)
				if !ok {
					t.Fatalf("length %d tile %d overlap %d: tile %d %+v", length, p[0], p[1], i, s)
				}
				next = s.keepTo
			}
			if next != length {
				t.Fatalf("length %d tile %d overlap %d: kept up to %d", length, p[0], p[1], next)
			}
		}
	}
}

func TestReflectIndex(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int // indexes 0..len-1
	}{
		{1, []int{0, 0, 0, 0}},
		{2, []int{0, 1, 0, 1, 0}},
		{3, []int{0, 1, 2, 1, 0, 1, 2, 1}},
		{5, []int{0, 1, 2, 3, 4, 3, 2, 1, 0, 1}},
	} {
		var got []int
		for i := range tc.want {
			got = append(got, reflectIndex(i, tc.n))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("n=%d (-want +got):\n%s", tc.n, diff)
		}
	}
	if got := reflectIndex(-2, 5); got != 2 {
		t.Errorf("reflectIndex(-2, 5) = %d, want 2", got)
	}
}

func TestTransforms(t *testing.T) {
	const h, w = 3, 5
	x := randomPlanar(h, w, 1).Data
	for tr := transform(0); tr < 8; tr++ {
		y, oh, ow := tr.apply(x, 3, h, w)
		back, bh, bw := inverse[tr].apply(y, 3, oh, ow)
		if bh != h || bw != w || !cmp.Equal(x, back) {
			t.Errorf("inverse of %d does not undo it", tr)
		}
	}
	// Every ensemble set is closed under composition, so it is a group and averaging over it is
	// symmetric.
	for n, set := range ensembleSets {
		in := map[string]bool{}
		key := func(tr transform) string {
			y, _, _ := tr.apply(x, 3, h, w)
			return fmt.Sprint(y)
		}
		for _, tr := range set {
			in[key(tr)] = true
		}
		for _, a := range set {
			for _, b := range set {
				ya, ah, aw := a.apply(x, 3, h, w)
				yb, _, _ := b.apply(ya, 3, ah, aw)
				if !in[fmt.Sprint(yb)] {
					t.Errorf("×%d: %d then %d leaves the set", n, a, b)
				}
			}
		}
	}
	// Transform 6 is a clockwise turn: the left column, bottom to top, becomes the top row.
	img := []float32{1, 2, 3, 4, 5, 6} // 2×3: rows {1,2,3}, {4,5,6}
	if got, _, _ := transform(6).apply(img, 1, 2, 3); !cmp.Equal(got, []float32{4, 1, 5, 2, 6, 3}) {
		t.Errorf("rotate CW = %v", got)
	}
}

// TestIdentityModel: with an identity model every ensemble level returns the input exactly, for
// odd sizes, gray and RGB, one tile and many.
func TestIdentityModel(t *testing.T) {
	for _, ens := range []int{1, 2, 4, 8} {
		for _, size := range [][3]int{{1, 1, 3}, {37, 23, 3}, {150, 97, 1}, {300, 41, 3}} {
			t.Run(fmt.Sprintf("x%d-%dx%dx%d", ens, size[0], size[1], size[2]), func(t *testing.T) {
				r, err := NewRestorer(identityEngine, testManifest(1, false), Config{TileConfig: TileConfig{Tile: 64}, Ensemble: ens})
				if err != nil {
					t.Fatal(err)
				}
				img := pix.New(size[0], size[1], size[2])
				rand.New(rand.NewSource(2)).Read(img.Pix)
				got, err := r.Restore(context.Background(), img, nil)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(img, got); diff != "" {
					t.Errorf("identity restore changed the image (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestTiledEqualsWhole: with overlap ≥ receptive field − 1, tiled output equals whole-image output.
func TestTiledEqualsWhole(t *testing.T) {
	eng := newConvEngine()
	for _, tc := range []struct {
		name       string
		h, w, tile int
		overlap    int
	}{
		{"single-tile-odd", 37, 53, 512, 0},
		{"many-tiles-odd", 150, 203, 64, 16},
		{"many-tiles-wide-overlap", 97, 301, 96, 48},
		{"thin", 5, 400, 64, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := randomPlanar(tc.h, tc.w, 4)
			whole, err := NewRestorer(eng, testManifest(5, false), Config{TileConfig: TileConfig{Tile: 1024}})
			if err != nil {
				t.Fatal(err)
			}
			tiled, err := NewRestorer(eng, testManifest(5, false), Config{TileConfig: TileConfig{Tile: tc.tile, Overlap: tc.overlap}})
			if err != nil {
				t.Fatal(err)
			}
			want, err := whole.RestorePlanar(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tiled.RestorePlanar(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(want.Data, got.Data); d >= 1e-5 {
				t.Errorf("tiled differs from whole by %g", d)
			}
		})
	}
}

// TestTooSmallOverlapDiffers shows the tiling test can fail: a manifest that understates the
// receptive field gets tiles without overlap, which see the zero padding of their own borders.
func TestTooSmallOverlapDiffers(t *testing.T) {
	eng := newConvEngine()
	in := randomPlanar(100, 100, 5)
	m := testManifest(1, false)
	whole, _ := NewRestorer(eng, m, Config{TileConfig: TileConfig{Tile: 128}})
	tiled, _ := NewRestorer(eng, m, Config{TileConfig: TileConfig{Tile: 32}})
	want, _ := whole.RestorePlanar(context.Background(), in, nil)
	got, _ := tiled.RestorePlanar(context.Background(), in, nil)
	if d := maxAbsDiff(want.Data, got.Data); d < 1e-3 {
		t.Errorf("zero-overlap tiles match whole-image output (diff %g); the tiling test cannot fail", d)
	}
}

// TestEnsembleIsMeanOfTransforms: ×8 equals the mean of the eight transforms computed separately
// on the reflect-padded image, each inverted.
func TestEnsembleIsMeanOfTransforms(t *testing.T) {
	eng := newConvEngine()
	const h, w = 45, 70
	in := randomPlanar(h, w, 6)
	ph, pw := roundUp(h, 16), roundUp(w, 16)
	padded := make([]float32, 3*ph*pw)
	for c := 0; c < 3; c++ {
		for y := 0; y < ph; y++ {
			for x := 0; x < pw; x++ {
				padded[(c*ph+y)*pw+x] = in.Data[(c*h+reflectIndex(y, h))*w+reflectIndex(x, w)]
			}
		}
	}
	want := make([]float32, 3*h*w)
	for tr := transform(0); tr < 8; tr++ {
		x, th, tw := tr.apply(padded, 3, ph, pw)
		y, _ := eng.Infer(context.Background(), x, th, tw, nil)
		back, _, _ := inverse[tr].apply(y, 3, th, tw)
		for c := 0; c < 3; c++ {
			for yy := 0; yy < h; yy++ {
				for xx := 0; xx < w; xx++ {
					want[(c*h+yy)*w+xx] += back[(c*ph+yy)*pw+xx] / 8
				}
			}
		}
	}
	for _, tile := range []int{128, 32} {
		r, err := NewRestorer(eng, testManifest(5, false), Config{TileConfig: TileConfig{Tile: tile}, Ensemble: 8})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.RestorePlanar(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(want, got.Data); d >= 1e-5 {
			t.Errorf("tile %d: ×8 ensemble differs from the mean of the transforms by %g", tile, d)
		}
		one, _ := NewRestorer(eng, testManifest(5, false), Config{TileConfig: TileConfig{Tile: tile}})
		plain, _ := one.RestorePlanar(context.Background(), in, nil)
		if maxAbsDiff(plain.Data, got.Data) < 1e-4 {
			t.Error("the test model is symmetric: ×8 equals ×1")
		}
	}
}

func TestGrayRoundTrip(t *testing.T) {
	// A model that darkens red only: a gray image comes back gray, as the mean of the channels.
	eng := EngineFunc(func(_ context.Context, x []float32, h, w int, q []float32) ([]float32, error) {
		out := append([]float32(nil), x...)
		for i := 0; i < h*w; i++ {
			out[i] -= 0.3
		}
		return out, nil
	})
	r, _ := NewRestorer(eng, testManifest(1, false), Config{})
	img := pix.Image{W: 2, H: 1, C: 1, Pix: []uint8{255, 51}}
	got, err := r.Restore(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	// (1-0.3+1+1)/3*255 = 229.5 → 230 (half to even); (0.2-0.3+0.2+0.2)/3*255 = 25.5 → 26.
	if diff := cmp.Diff(pix.Image{W: 2, H: 1, C: 1, Pix: []uint8{230, 26}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRestoreErrors(t *testing.T) {
	boom := errors.New("device lost")
	failing := EngineFunc(func(context.Context, []float32, int, int, []float32) ([]float32, error) { return nil, boom })
	short := EngineFunc(func(_ context.Context, x []float32, h, w int, q []float32) ([]float32, error) { return x[:1], nil })
	img := pix.New(100, 40, 3)
	q := make([]float32, QTableLen)
	for _, tc := range []struct {
		name string
		eng  Engine
		cond bool
		q    []float32
		want string
	}{
		{"engine-error", failing, false, nil, "device lost"},
		{"wrong-output-size", short, false, nil, "returned 1 values"},
		{"missing-qtable", identityEngine, true, nil, "needs 128 values"},
		{"unexpected-qtable", identityEngine, false, q, "takes no conditioning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRestorer(tc.eng, testManifest(1, tc.cond), Config{TileConfig: TileConfig{Tile: 32}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Restore(context.Background(), img, tc.q); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Restore error = %v, want %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := NewRestorer(identityEngine, testManifest(1, false), Config{})
	if _, err := r.Restore(ctx, img, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Restore error = %v", err)
	}
}

func TestNewRestorerValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		rf   int
		want string
	}{
		{"tile-not-16", Config{TileConfig: TileConfig{Tile: 100}}, 1, "multiple of 16"},
		{"overlap-not-16", Config{TileConfig: TileConfig{Overlap: 8}}, 1, "overlap 8"},
		{"overlap-too-big", Config{TileConfig: TileConfig{Tile: 64, Overlap: 64}}, 1, "smaller than the tile"},
		{"rf-too-big-for-tile", Config{TileConfig: TileConfig{Tile: 64}}, 80, "smaller than the tile"},
		{"ensemble-3", Config{Ensemble: 3}, 1, "ensemble 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRestorer(identityEngine, testManifest(tc.rf, false), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewRestorer error = %v, want %q", err, tc.want)
			}
		})
	}
	r, err := NewRestorer(identityEngine, testManifest(23, false), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Tiles(); got != (TileConfig{Tile: 512, Overlap: 32}) {
		t.Errorf("default tiles %+v, want 512/32 for a receptive field of 23", got)
	}
	m := testManifest(401, false)
	m.Overlap = 64 // measured: a U-Net's far receptive field contributes nothing measurable
	if r, err = NewRestorer(identityEngine, m, Config{}); err != nil || r.Tiles() != (TileConfig{Tile: 512, Overlap: 64}) {
		t.Errorf("manifest overlap: %+v, %v", r, err)
	}
	m.Overlap = 40
	if _, err := NewRestorer(identityEngine, m, Config{}); err == nil {
		t.Error("an overlap that is not a multiple of 16 was accepted")
	}
}

func TestLoadManifest(t *testing.T) {
	for _, name := range []string{"identity", "conv", "qcond", "bench"} {
		m, err := LoadManifest(filepath.Join("testdata", name+".onnx"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Name != name || m.Conditioned() != (name == "qcond") {
			t.Errorf("%s: %+v", name, m)
		}
	}
	dir := t.TempDir()
	copyFile := func(name string) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("conv.json")
	if _, err := LoadManifest(filepath.Join(dir, "conv.json")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing model: %v", err)
	}
	copyFile("conv.onnx")
	f, _ := os.OpenFile(filepath.Join(dir, "conv.onnx"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	if _, err := LoadManifest(filepath.Join(dir, "conv.json")); err == nil || !strings.Contains(err.Error(), "corrupt or replaced") {
		t.Errorf("corrupt model: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name":"bad","conditioning":"maybe","pad_multiple":8}`), 0o644)
	_, err := LoadManifest(filepath.Join(dir, "bad.json"))
	for _, want := range []string{"sha256", "conditioning \"maybe\"", "pad_multiple 8", "receptive_field 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad manifest error %v lacks %q", err, want)
		}
	}
}

func TestToByteRoundsHalfToEven(t *testing.T) {
	ref := func(v float32) uint8 {
		return uint8(max(0, min(255, math.RoundToEven(float64(v)*255))))
	}
	vals := []float32{-1, -0.001, 0, 0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255, 1, 1.2,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for k := 0; k <= 255*8; k++ {
		vals = append(vals, float32(k)/(255*8), math.Nextafter32(float32(k)/(255*2), 2), math.Nextafter32(float32(k)/(255*2), -1))
	}
	for _, v := range vals {
		want := ref(v)
		if math.IsNaN(float64(v)) {
			want = 0
		}
		if got := toByte(v); got != want {
			t.Errorf("toByte(%v) = %d, want %d", v, got, want)
		}
	}
}

func TestTileDefaults(t *testing.T) {
	for _, c := range []struct {
		pad, rf, overlap int // the manifest's
		cfg              TileConfig
		tile, wantOver   int
	}{
		{rf: 22, cfg: TileConfig{}, tile: 512, wantOver: 32},
		{rf: 400, overlap: 96, cfg: TileConfig{}, tile: 512, wantOver: 96},
		{rf: 400, overlap: 112, cfg: TileConfig{}, tile: 608, wantOver: 112}, // 112 ≤ 3/16 × 608 (114)
		{rf: 400, overlap: 192, cfg: TileConfig{}, tile: 1024, wantOver: 192},
		{rf: 400, overlap: 192, cfg: TileConfig{Tile: 512}, tile: 512, wantOver: 192},
		{rf: 400, overlap: 192, cfg: TileConfig{Overlap: 64}, tile: 512, wantOver: 64},
		{rf: 401, cfg: TileConfig{}, tile: 2144, wantOver: 400},
		{pad: 32, rf: 400, overlap: 128, cfg: TileConfig{}, tile: 704, wantOver: 128},
	} {
		m := &Manifest{ReceptiveField: c.rf, Overlap: c.overlap, PadMultiple: max(c.pad, 16)}
		got, err := c.cfg.Resolve(m)
		if err != nil || got.Tile != c.tile || got.Overlap != c.wantOver {
			t.Errorf("rf %d overlap %d %+v: got %+v, %v; want tile %d overlap %d", c.rf, c.overlap, c.cfg, got, err, c.tile, c.wantOver)
		}
	}
}
