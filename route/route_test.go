package route

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       Routes
		wantErr    string
	}{
		{"default-round-trip", Default().String(), Default(), ""},
		{"settings", "strong=1-29:ensemble=8:model=best:tile=256, rest=30-100:passthrough",
			Routes{{Name: "strong", MinQF: 1, MaxQF: 29, Ensemble: 8, Model: "best", Tile: 256}, {Name: "rest", MinQF: 30, MaxQF: 100, Passthrough: true}}, ""},
		{"one-band", "all=1-100", Routes{{Name: "all", MinQF: 1, MaxQF: 100}}, ""},
		{"gap", "a=1-29,b=31-100", nil, "QF 30-30 is in no band"},
		{"overlap", "a=1-30,b=30-100", nil, "overlaps QF 30"},
		{"short", "a=1-89", nil, "QF 90-100 is in no band"},
		{"bad-band", "a=x-100", nil, "is not LO-HI"},
		{"no-name", "=1-100", nil, "want NAME=LO-HI"},
		{"dup", "a=1-50,a=51-100", nil, "named twice"},
		{"bad-ensemble", "a=1-100:ensemble=3", nil, "ensemble 3"},
		{"bad-tile", "a=1-100:tile=100", nil, "multiple of 16"},
		{"unknown-key", "a=1-100:speed=9", nil, `unknown setting "speed"`},
		{"empty", "", nil, "none given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.spec, diff)
			}
		})
	}
}

func TestPick(t *testing.T) {
	rs := Default()
	for qf, want := range map[int]string{-5: "strong", 1: "strong", 29: "strong", 30: "medium", 59: "medium", 60: "light", 89: "light", 90: "passthrough", 100: "passthrough", 130: "passthrough"} {
		if got := rs.Pick(qf).Name; got != want {
			t.Errorf("Pick(%d) = %s, want %s", qf, got, want)
		}
	}
}
