package gpuworker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"jpegrestore/inference"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
)

// parityFile is what training/export_onnx.py writes beside a model: a fixed input, its qtable and
// PyTorch's output. An int8 model's (TestWriteParity) holds ONNX Runtime's own output instead,
// as int8 arithmetic is not PyTorch's, and says where it was made (Source).
type parityFile struct {
	ImageShape []int     `json:"image_shape"`
	Image      []float32 `json:"image"`
	QTable     []float32 `json:"qtable"`
	Restored   []float32 `json:"restored"`
	Tolerance  float64   `json:"tolerance"`
	Source     string    `json:"source,omitempty"`
}

// parityTolerance is the largest difference TestShippedModels accepts from a parity file that
// names none: ONNX Runtime against PyTorch in float32.
const parityTolerance = 1e-4

// shippedModels returns the manifests in models/.
func shippedModels(t *testing.T) []string {
	ms, err := filepath.Glob(filepath.Join("..", "models", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if filepath.Ext(m[:len(m)-len(".json")]) == "" { // skip x.parity.json
			out = append(out, m)
		}
	}
	return out
}

// maxModelBytes is the most a shipped model file may take (the repository's rule: under 20 MB).
const maxModelBytes = 20_000_000

// TestShippedModels checks every model in models/: its size, its manifest and sha256, its ONNX
// inputs against the manifest, ONNX Runtime's output against PyTorch's on the export's parity
// vectors (≤ 1e-4), and tiled against whole-image output at the manifest's overlap.
func TestShippedModels(t *testing.T) {
	initORT(t)
	models := shippedModels(t)
	if len(models) == 0 {
		t.Skip("models/ holds no model yet")
	}
	for _, path := range models {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := inference.LoadManifest(path)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(filepath.Dir(path), m.File))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() >= maxModelBytes {
				t.Errorf("%s is %d bytes, over the %d a shipped model may take", m.File, fi.Size(), maxModelBytes)
			}
			p, err := Open(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			b, err := os.ReadFile(path[:len(path)-len(".json")] + ".parity.json")
			if err != nil {
				t.Fatal(err)
			}
			var par parityFile
			if err := json.Unmarshal(b, &par); err != nil {
				t.Fatal(err)
			}
			h, w := par.ImageShape[2], par.ImageShape[3]
			var q []float32
			if m.Conditioned() {
				q = par.QTable
			}
			got, err := p.Infer(context.Background(), par.Image, h, w, q)
			if err != nil {
				t.Fatal(err)
			}
			tol, source := par.Tolerance, cmp.Or(par.Source, "PyTorch")
			if tol == 0 {
				tol = parityTolerance
			}
			if d := maxDiff(par.Restored, got); d > tol {
				t.Errorf("ONNX Runtime here (%s) differs from the parity vectors' output, made by %s, by %g (> %g)", cpuISA(), source, d, tol)
			}
			if d, _ := tiledVsWhole(t, p, m, m.Overlap); d > m.OverlapMaxDiff+1e-6 {
				t.Errorf("tiled at overlap %d differs from whole-image by %g, the manifest says %g", m.Overlap, d, m.OverlapMaxDiff)
			}
		})
	}
}

// TestWriteParity writes the parity vectors of the model named by $JPEGRESTORE_WRITE_PARITY
// (models/NAME.json) from ONNX Runtime's output here, on the input of the parity file named by
// $JPEGRESTORE_PARITY_INPUT (another model's, e.g. its float source's), to be checked to 1e-4.
// int8 models need it: their arithmetic is ONNX Runtime's, not PyTorch's (scripts/ship_int8.sh).
// It does nothing in a normal test run.
func TestWriteParity(t *testing.T) {
	path := os.Getenv("JPEGRESTORE_WRITE_PARITY")
	if path == "" {
		t.Skip("set JPEGRESTORE_WRITE_PARITY=models/NAME.json and JPEGRESTORE_PARITY_INPUT=models/OTHER.parity.json to write")
	}
	initORT(t)
	m, err := inference.LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(os.Getenv("JPEGRESTORE_PARITY_INPUT"))
	if err != nil {
		t.Fatal(err)
	}
	var par parityFile
	if err := json.Unmarshal(b, &par); err != nil {
		t.Fatal(err)
	}
	par.Tolerance = parityTolerance
	p, err := Open(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got, err := p.Infer(context.Background(), par.Image, par.ImageShape[2], par.ImageShape[3], par.QTable)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s: max |output - the input file's output| %.6f\n", m.Name, maxDiff(par.Restored, got))
	par.Restored = slices.Clone(got)
	par.Source = fmt.Sprintf("ONNX Runtime %s on %s (gpuworker TestWriteParity)", Version(), cpuISA())
	out, err := json.Marshal(par)
	if err != nil {
		t.Fatal(err)
	}
	dst := strings.TrimSuffix(path, ".json") + ".parity.json"
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("wrote %s\n", dst)
}

// cpuISA names the x86 vector extensions ONNX Runtime's int8 kernels choose between, as this
// CPU has them: int8 results may differ between CPUs with and without VNNI.
func cpuISA() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	flags := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "flags"); ok {
			for _, f := range strings.Fields(strings.TrimLeft(rest, "\t :")) {
				flags[f] = true
			}
			break
		}
	}
	var have []string
	for _, f := range []string{"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"} {
		if flags[f] {
			have = append(have, f)
		}
	}
	if len(have) == 0 {
		return "a CPU without AVX2"
	}
	return "a CPU with " + strings.Join(have, ", ")
}

// tiledVsWhole restores a 600×400 photo-like JPEG with tiles of max(256, overlap+64) pixels at
// the given overlap (several seams on each axis) and as one tile, and returns the largest and the
// mean absolute difference of the float outputs.
func tiledVsWhole(t *testing.T, p *Pool, m *inference.Manifest, overlap int) (maxAbs, meanAbs float64) {
	src := pix.New(600, 400, 3)
	for y := 0; y < 400; y++ {
		for x := 0; x < 600; x++ {
			o := (y*600 + x) * 3
			src.Pix[o], src.Pix[o+1], src.Pix[o+2] = uint8(x^y), uint8(x*y>>6), uint8((x+y)>>2)
		}
	}
	data, err := jpeg.EncodeJPEG(src, jpeg.EncodeOptions{Quality: 20, Subsampling: jpeg.Sub420})
	if err != nil {
		t.Fatal(err)
	}
	d, err := jpeg.Decode(data, jpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var q []float32
	if m.Conditioned() {
		v := jpeg.ModelQTable(d.Info)
		q = v[:]
	}
	in := inference.Planar{C: 3, H: 400, W: 600, Data: make([]float32, 3*400*600)}
	for i := 0; i < 400*600; i++ {
		for c := 0; c < 3; c++ {
			in.Data[c*400*600+i] = float32(d.Image.Pix[3*i+c]) / 255
		}
	}
	whole, err := inference.NewRestorer(p, m, inference.Config{TileConfig: inference.TileConfig{Tile: 608}})
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := inference.NewRestorer(p, m, inference.Config{TileConfig: inference.TileConfig{Tile: max(256, overlap+64), Overlap: max(overlap, 16)}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := whole.RestorePlanar(context.Background(), in, q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tiled.RestorePlanar(context.Background(), in, q)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i := range a.Data {
		sum += math.Abs(float64(a.Data[i]) - float64(b.Data[i]))
	}
	return maxDiff(a.Data, b.Data), sum / float64(len(a.Data))
}

// TestMeasureOverlap prints, for the model named by $JPEGRESTORE_MEASURE_OVERLAP, the largest
// tiled-vs-whole difference at each overlap; the smallest overlap whose difference is below
// half a gray level goes into the manifest (training/export_onnx.py --overlap); an int8 copy
// keeps its float model's, as no overlap short of the receptive field gets it there
// (scripts/ship_int8.sh). It does nothing in a normal test run.
func TestMeasureOverlap(t *testing.T) {
	path := os.Getenv("JPEGRESTORE_MEASURE_OVERLAP")
	if path == "" {
		t.Skip("set JPEGRESTORE_MEASURE_OVERLAP=models/NAME.json to measure")
	}
	initORT(t)
	m, err := inference.LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, ov := range []int{16, 32, 48, 64, 96, 128, 192, 256, 320} {
		d, mean := tiledVsWhole(t, p, m, ov)
		fmt.Printf("overlap %3d  max|tiled-whole| %.6f  (%.2f gray levels)  mean %.5f gray levels\n", ov, d, d*255, mean*255)
	}
}
