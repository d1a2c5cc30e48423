package transforms

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/enhance"
)

// TestClaim: of inputs that share an output name, the first by path keeps it whatever the order
// they arrive in; the others are marked with its path.
func TestClaim(t *testing.T) {
	for _, order := range [][]string{{"a.jpg", "a.JPG", "a.jpeg"}, {"a.jpeg", "a.jpg", "a.JPG"}} {
		var in []enhance.Input
		for _, name := range order {
			in = append(in, enhance.Input{URI: "/in/d/" + name, Root: "/in"})
		}
		next := func(v *enhance.Input) bool {
			if len(in) == 0 {
				return false
			}
			*v, in = in[0], in[1:]
			return true
		}
		got := map[string]string{}
		claim("/out/d/a.png", next, func(v enhance.Input) { got[v.URI] = v.OutputTakenBy })
		want := map[string]string{"/in/d/a.JPG": "", "/in/d/a.jpeg": "d/a.JPG", "/in/d/a.jpg": "d/a.JPG"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("arriving as %v (-want +got):\n%s", order, diff)
		}
	}
	f := &outputKeyFn{Out: "/out", Format: enhance.FormatPNG}
	var keys []string
	for _, name := range []string{"d/a.jpg", "d/a.JPEG", "d/b.jpg"} {
		f.ProcessElement(enhance.Input{URI: "/in/" + name, Root: "/in"}, func(k string, _ enhance.Input) { keys = append(keys, k) })
	}
	if diff := cmp.Diff([]string{"/out/d/a.png", "/out/d/a.png", "/out/d/b.png"}, keys); diff != "" {
		t.Errorf("output keys (-want +got):\n%s", diff)
	}
}
