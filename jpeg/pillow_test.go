package jpeg

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEncodeMatchesPillow: the eval job compresses references with EncodeJPEG; training and the
// NTIRE 2024 protocol compress with Pillow (training/data/degrade.py eval mode: 4:2:0, one pass).
// Both go through libjpeg with the IJG tables, so the decoded pixels must be identical, or eval
// numbers would not be comparable with training's and the published ones.
func TestEncodeMatchesPillow(t *testing.T) {
	py := needTool(t, "/usr/bin/python3")
	dir := t.TempDir()
	src := crop(stdlibPNG(t, "video-001.png"), 147, 101)
	var b bytes.Buffer
	if err := png.Encode(&b, src.Std()); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "ref.png")
	if err := os.WriteFile(ref, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
for q in (10, 30, 50, 70):
    im.save(f"{sys.argv[2]}/q{q}.jpg", quality=q, subsampling=2)
`
	if out, err := exec.Command(py, "-c", script, ref, dir).CombinedOutput(); err != nil {
		t.Fatalf("Pillow: %v\n%s", err, out)
	}
	for _, q := range []int{10, 30, 50, 70} {
		t.Run(fmt.Sprint("q", q), func(t *testing.T) {
			pil, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("q%d.jpg", q)))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := EncodeJPEG(src, EncodeOptions{Quality: q, Subsampling: Sub420})
			if err != nil {
				t.Fatal(err)
			}
			a, err := Decode(pil, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := Decode(ours, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n, maxd := diffStats(a.Image, c.Image); n != 0 {
				t.Errorf("%d samples differ from Pillow's encode (max %d)", n, maxd)
			}
		})
	}
}
