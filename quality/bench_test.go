package quality

import "testing"

// Benchmarks run on a 768×512 RGB image and a lightly distorted copy.
var benchRef, benchDist = func() (Image, Image) {
	ref := synthImage(768, 512, 3, 42)
	return ref, distort(ref, 43)
}()

func benchmarkPair(b *testing.B, f func(ref, dist Image) (float64, error)) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRef.Pix)))
	for b.Loop() {
		if _, err := f(benchRef, benchDist); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPSNR(b *testing.B)            { benchmarkPair(b, PSNR) }
func BenchmarkSSIM(b *testing.B)            { benchmarkPair(b, SSIM) }
func BenchmarkPSNRB(b *testing.B)           { benchmarkPair(b, PSNRB) }
func BenchmarkPSNRBPerChannel(b *testing.B) { benchmarkPair(b, PSNRBPerChannel) }

func BenchmarkNRScore(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDist.Pix)))
	for b.Loop() {
		if _, err := NRScore(benchDist); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlockiness(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDist.Pix)))
	for b.Loop() {
		if _, err := Blockiness(benchDist); err != nil {
			b.Fatal(err)
		}
	}
}
