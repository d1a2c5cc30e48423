package transforms

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"jpegrestore/enhance"
	"jpegrestore/report"
	"jpegrestore/route"
)

// iter returns a Beam-style iterator over vs.
func iter[T any](vs ...T) func(*T) bool {
	return func(v *T) bool {
		if len(vs) == 0 {
			return false
		}
		*v, vs = vs[0], vs[1:]
		return true
	}
}

// TestClaim: of inputs that share an output name, the first by path keeps it whatever the order
// they arrive in; the others are marked with its path.
func TestClaim(t *testing.T) {
	for _, order := range [][]string{{"a.jpg", "a.JPG", "a.jpeg"}, {"a.jpeg", "a.jpg", "a.JPG"}} {
		var group []enhance.Input
		for _, name := range order {
			group = append(group, enhance.Input{URI: "/in/d/" + name, Root: "/in"})
		}
		got := map[string]string{}
		for _, in := range claim(group) {
			got[in.URI] = in.OutputTakenBy
		}
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

// TestClaimFnSettles: an input whose listed version, output size and tag are those of the
// previous run is settled without a journey; a change of any of them sends it to be restored.
func TestClaimFnSettles(t *testing.T) {
	model := filepath.Join("..", "inference", "testdata", "identity.json")
	cfg := RestoreConfig{Settings: enhance.Settings{Out: "/out", Format: enhance.FormatPNG, Routes: route.Default()},
		Models: enhance.ModelConfig{Default: model}}
	f := &claimFn{Config: cfg}
	f.Setup()
	in := enhance.Input{URI: "/in/a.jpg", Root: "/in", Version: "local:10:5"}
	// The record a restore of this input left (tag for the identity model on the strong route).
	set, err := f.journey.Models.Setting(route.Default()[0])
	if err != nil {
		t.Fatal(err)
	}
	prev := report.Record{URI: in.URI, Status: report.StatusRestored, QF: 20, Output: "/out/a.png", OutputBytes: 77,
		InputVersion: in.Version, InputSHA256: "abc", Tag: enhance.TagFor("abc", &set, cfg.Settings)}
	run := func(in enhance.Input, size int64, prev report.Record, cfg RestoreConfig) (restored []enhance.Input, settled []report.Record) {
		f := &claimFn{Config: cfg}
		f.Setup()
		f.ProcessElement(context.Background(), "/out/a.png", iter(in), iter(size), iter(prev),
			func(v enhance.Input) { restored = append(restored, v) }, func(r report.Record) { settled = append(settled, r) })
		return restored, settled
	}
	if r, s := run(in, 77, prev, cfg); len(r) != 0 || len(s) != 1 || s[0].Reason != report.ReasonDone || s[0].Tag != prev.Tag {
		t.Errorf("unchanged: restored %+v, settled %+v", r, s)
	}
	changedVersion := in
	changedVersion.Version = "local:10:6"
	other := cfg
	other.Settings.Format = enhance.FormatJPEG
	ensemble := cfg
	ensemble.Models.Ensemble = 2
	for name, tc := range map[string]struct {
		in   enhance.Input
		size int64
		cfg  RestoreConfig
	}{
		"input changed":  {changedVersion, 77, cfg},
		"output gone":    {in, 0, cfg},
		"output resized": {in, 78, cfg},
		"format changed": {in, 77, other},
		"model setting":  {in, 77, ensemble},
	} {
		r, s := run(tc.in, tc.size, prev, tc.cfg)
		if len(r) != 1 || len(s) != 0 || r[0].OutputBytes != tc.size {
			t.Errorf("%s: restored %+v, settled %+v", name, r, s)
		}
	}
	notJPEG := report.Record{URI: in.URI, Status: report.StatusSkipped, Reason: report.ReasonNotJPEG, Output: "/out/a.png", InputVersion: in.Version}
	if r, s := run(in, 0, notJPEG, cfg); len(r) != 0 || len(s) != 1 || s[0].Reason != report.ReasonNotJPEG {
		t.Errorf("not a JPEG, unchanged: restored %+v, settled %+v", r, s)
	}
}
