package gpuworker

import (
	"bufio"
	"context"
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"

	"jpegrestore/inference"
	"jpegrestore/jpeg"
	"jpegrestore/pix"
)

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("VmHWM not found")
	return 0
}

// BenchmarkRestore50MP decodes a 50-megapixel JPEG, restores it at the default tile and encodes
// the PNG, then reports the process's peak RSS. Run it alone, so the peak is its own:
//
//	go test -run '^$' -bench Restore50MP -benchtime 1x ./gpuworker
func BenchmarkRestore50MP(b *testing.B) {
	m := benchModel(b)
	const w, h = 8660, 5774 // 50.0 MP
	src := pix.New(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			src.Pix[o], src.Pix[o+1], src.Pix[o+2] = uint8(x^y), uint8(x*y>>7), uint8((x+y)>>3)
		}
	}
	data, err := jpeg.EncodeJPEG(src, jpeg.EncodeOptions{Quality: 30, Subsampling: jpeg.Sub420})
	if err != nil {
		b.Fatal(err)
	}
	src = pix.Image{}
	p, err := Open(m, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	r, err := inference.NewRestorer(p, m, inference.Config{})
	if err != nil {
		b.Fatal(err)
	}
	base := peakRSS(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := jpeg.Decode(data, jpeg.DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var q []float32
		if m.Conditioned() {
			v := jpeg.ModelQTable(d.Info)
			q = v[:]
		}
		out, err := r.Restore(context.Background(), d.Image, q)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jpeg.EncodePNG(out, jpeg.Metadata{}, png.BestSpeed); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w*h)*float64(b.N)/1e6/b.Elapsed().Seconds(), "MP/s")
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(base)/(1<<20), "RSS-before-MiB")
}
