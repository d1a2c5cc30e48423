// Package route sends each image to a named band by its luma quality factor. Each band carries its
// own settings: the model, the self-ensemble size and the tile, or passthrough for images that
// compression has not hurt enough to be worth restoring.
package route

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Route is one band of quality factors and how its images are handled.
type Route struct {
	Name string `json:"name"`
	// MinQF and MaxQF bound the band, inclusive, within 1..100.
	MinQF int `json:"min_qf"`
	MaxQF int `json:"max_qf"`
	// Passthrough copies or losslessly converts instead of restoring.
	Passthrough bool `json:"passthrough,omitempty"`
	// Ensemble is the self-ensemble size (1, 2, 4, 8); 0 means the job's default.
	Ensemble int `json:"ensemble,omitempty"`
	// Tile is the tile side; 0 means the job's default.
	Tile int `json:"tile,omitempty"`
	// Model is a preset name or model path; "" means the job's default.
	Model string `json:"model,omitempty"`
}

// Routes is a set of bands covering quality factors 1..100 exactly once.
type Routes []Route

// Default returns the default bands: strong < 30, medium 30–59, light 60–89, passthrough ≥ 90.
func Default() Routes {
	return Routes{
		{Name: "strong", MinQF: 1, MaxQF: 29},
		{Name: "medium", MinQF: 30, MaxQF: 59},
		{Name: "light", MinQF: 60, MaxQF: 89},
		{Name: "passthrough", MinQF: 90, MaxQF: 100, Passthrough: true},
	}
}

// Parse reads a --routes spec: comma-separated bands, each NAME=LO-HI followed by optional
// :key=value settings (ensemble=N, tile=N, model=PRESET|PATH) or :passthrough, e.g.
//
//	strong=1-29:ensemble=8:model=best,medium=30-59,light=60-89,keep=90-100:passthrough
func Parse(spec string) (Routes, error) {
	var rs Routes
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		name, band, ok := strings.Cut(fields[0], "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("route %q: want NAME=LO-HI", part)
		}
		lo, hi, ok := strings.Cut(band, "-")
		r := Route{Name: name}
		var err1, err2 error
		r.MinQF, err1 = strconv.Atoi(lo)
		r.MaxQF, err2 = strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("route %q: band %q is not LO-HI", name, band)
		}
		for _, f := range fields[1:] {
			if f == "passthrough" {
				r.Passthrough = true
				continue
			}
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("route %q: setting %q is not key=value", name, f)
			}
			switch k {
			case "ensemble", "tile":
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, fmt.Errorf("route %q: %s=%q is not a number", name, k, v)
				}
				if k == "ensemble" {
					r.Ensemble = n
				} else {
					r.Tile = n
				}
			case "model":
				r.Model = v
			default:
				return nil, fmt.Errorf("route %q: unknown setting %q (want ensemble, tile, model or passthrough)", name, k)
			}
		}
		rs = append(rs, r)
	}
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	return rs, nil
}

// Validate checks that the bands cover 1..100 exactly once, names are unique and settings valid.
func (rs Routes) Validate() error {
	if len(rs) == 0 {
		return fmt.Errorf("routes: none given")
	}
	sorted := append(Routes(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].MinQF < sorted[j].MinQF })
	names := map[string]bool{}
	next := 1
	for _, r := range sorted {
		switch {
		case names[r.Name]:
			return fmt.Errorf("routes: %q named twice", r.Name)
		case r.MinQF > r.MaxQF || r.MinQF < 1 || r.MaxQF > 100:
			return fmt.Errorf("routes: %q band %d-%d is not within 1-100", r.Name, r.MinQF, r.MaxQF)
		case r.MinQF != next:
			if r.MinQF < next {
				return fmt.Errorf("routes: %q band %d-%d overlaps QF %d", r.Name, r.MinQF, r.MaxQF, r.MinQF)
			}
			return fmt.Errorf("routes: QF %d-%d is in no band", next, r.MinQF-1)
		}
		switch r.Ensemble {
		case 0, 1, 2, 4, 8:
		default:
			return fmt.Errorf("routes: %q ensemble %d, want 1, 2, 4 or 8", r.Name, r.Ensemble)
		}
		if r.Tile < 0 || r.Tile%16 != 0 {
			return fmt.Errorf("routes: %q tile %d is not a multiple of 16", r.Name, r.Tile)
		}
		names[r.Name] = true
		next = r.MaxQF + 1
	}
	if next != 101 {
		return fmt.Errorf("routes: QF %d-100 is in no band", next)
	}
	return nil
}

// Pick returns the band of a quality factor (clamped into 1..100).
func (rs Routes) Pick(qf int) Route {
	qf = max(1, min(100, qf))
	for _, r := range rs {
		if qf >= r.MinQF && qf <= r.MaxQF {
			return r
		}
	}
	panic(fmt.Sprintf("route: QF %d in no band of validated routes %v", qf, rs))
}

// String formats the routes in Parse's syntax.
func (rs Routes) String() string {
	var parts []string
	for _, r := range rs {
		s := fmt.Sprintf("%s=%d-%d", r.Name, r.MinQF, r.MaxQF)
		if r.Passthrough {
			s += ":passthrough"
		}
		if r.Ensemble != 0 {
			s += fmt.Sprintf(":ensemble=%d", r.Ensemble)
		}
		if r.Tile != 0 {
			s += fmt.Sprintf(":tile=%d", r.Tile)
		}
		if r.Model != "" {
			s += ":model=" + r.Model
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}
