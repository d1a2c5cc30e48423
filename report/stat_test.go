package report

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatAdd(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   Stat
		mean   float64
	}{
		{name: "empty", want: Stat{}, mean: 0},
		{name: "rounds to micro units", values: []float64{1.0000004, 2.0000006}, want: Stat{N: 2, SumMicro: 3000001}, mean: 1.5000005},
		{name: "negative", values: []float64{-1.5, 0.5}, want: Stat{N: 2, SumMicro: -1000000}, mean: -0.5},
		{name: "NaN and Inf are not counted", values: []float64{math.NaN(), math.Inf(1), 3, math.Inf(-1)}, want: Stat{N: 1, SumMicro: 3000000}, mean: 3},
		{name: "clamped", values: []float64{1e300, -1e300}, want: Stat{N: 2, SumMicro: 0}, mean: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Stat
			for _, v := range tc.values {
				s.Add(v)
			}
			if diff := cmp.Diff(tc.want, s); diff != "" {
				t.Errorf("Stat (-want +got):\n%s", diff)
			}
			if got := s.Mean(); math.Abs(got-tc.mean) > 1e-12 {
				t.Errorf("Mean() = %v, want %v", got, tc.mean)
			}
		})
	}
}

func TestStatSaturates(t *testing.T) {
	s := Stat{SumMicro: math.MaxInt64 - 5}
	s.Add(1)
	if s.SumMicro != math.MaxInt64 {
		t.Errorf("SumMicro = %d, want saturation at MaxInt64", s.SumMicro)
	}
	s = Stat{SumMicro: math.MinInt64 + 5}
	s.Merge(Stat{SumMicro: -10})
	if s.SumMicro != math.MinInt64 {
		t.Errorf("SumMicro = %d, want saturation at MinInt64", s.SumMicro)
	}
}

func TestStatJSON(t *testing.T) {
	tests := []struct {
		name string
		in   Stat
		want string
	}{
		{name: "zero", in: Stat{}, want: `{"n":0,"sum":0,"mean":0}`},
		{name: "fraction", in: Stat{N: 2, SumMicro: 12500000}, want: `{"n":2,"sum":12.5,"mean":6.25}`},
		{name: "micro", in: Stat{N: 1, SumMicro: -1}, want: `{"n":1,"sum":-0.000001,"mean":-0.000001}`},
		{name: "min int", in: Stat{N: 1, SumMicro: math.MinInt64}, want: `{"n":1,"sum":-9223372036854.775808,"mean":-9223372036854.775}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("Marshal (-want +got):\n%s", diff)
			}
			var got Stat
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.in, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMicro(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "", want: 0},
		{in: "0", want: 0},
		{in: "12.5", want: 12500000},
		{in: "-0.0000015", want: -2},
		{in: "1.0000004", want: 1000000},
		{in: "1e3", want: 1000000000},
		{in: "-2.5E-1", want: -250000},
		{in: "abc", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseMicro(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseMicro(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseMicro(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}
