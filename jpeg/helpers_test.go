package jpeg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"jpegrestore/pix"
)

// stdlibTestdata is Go's own image test corpus: baseline, progressive, every subsampling, CMYK,
// gray, restart markers and separate DC progression, all small.
func stdlibTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "image", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stdlibPNG decodes one of Go's test PNGs into an RGB image.
func stdlibPNG(t testing.TB, name string) pix.Image {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(stdlibTestdata(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	return pix.FromStd(m).ToRGB()
}

// crop returns the w×h top-left part of m, tiling m when it is smaller.
func crop(m pix.Image, w, h int) pix.Image {
	out := pix.New(w, h, m.C)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := ((y%m.H)*m.W + x%m.W) * m.C
			copy(out.Pix[(y*w+x)*m.C:], m.Pix[s:s+m.C])
		}
	}
	return out
}

// needTool returns the path of a command the set-up installs (libjpeg-turbo-progs, python3-pil).
// Its absence is a broken set-up, not a reason to skip.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run `make setup` (it installs libjpeg-turbo-progs and python3-pil)", name)
	}
	return p
}

func runTool(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(needTool(t, name), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.Bytes())
	}
	return out.Bytes()
}

// encodePNM writes a binary PGM (1 channel) or PPM (3 channels).
func encodePNM(m pix.Image) []byte {
	magic := "P6"
	if m.C == 1 {
		magic = "P5"
	}
	return append([]byte(fmt.Sprintf("%s\n%d %d\n255\n", magic, m.W, m.H)), m.Pix...)
}

// decodePNM reads the binary PGM/PPM that djpeg writes.
func decodePNM(b []byte) (pix.Image, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	var magic string
	var w, h, maxv int
	if _, err := fmt.Fscan(r, &magic, &w, &h, &maxv); err != nil {
		return pix.Image{}, err
	}
	if _, err := r.ReadByte(); err != nil { // the single whitespace after maxval
		return pix.Image{}, err
	}
	c := map[string]int{"P5": 1, "P6": 3}[magic]
	if c == 0 || maxv != 255 {
		return pix.Image{}, fmt.Errorf("unsupported PNM %s maxval %d", magic, maxv)
	}
	m := pix.New(w, h, c)
	if _, err := io.ReadFull(r, m.Pix); err != nil {
		return pix.Image{}, err
	}
	return m, nil
}

// diffStats returns the number of differing samples and the largest absolute difference.
func diffStats(a, b pix.Image) (n, maxd int) {
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		if d != 0 {
			n++
		}
		maxd = max(maxd, d)
	}
	return n, maxd
}

// Reason returns the Kind name of a jpeg error anywhere in err's chain, or "" when there is none:
// the tests' check that an error is typed (the product maps kinds to record reasons in enhance).
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind.String()
	}
	return ""
}
