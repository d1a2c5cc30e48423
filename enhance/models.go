package enhance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"jpegrestore/inference"
	"jpegrestore/report"
	"jpegrestore/route"
)

// Presets are the models shipped in models/ that jobs choose between (--preset): each one's
// default precision, the one its model card recommends.
var Presets = []string{"fast", "best"}

// Variants are the other models shipped in models/: each preset at its other precision. Both
// presets are int8 (on these CPUs best runs about 2× as fast as best-float within 0.04 dB, fast
// over 2× as fast as fast-float within 0.05 dB); models/*.md give the numbers.
var Variants = []string{"fast-float", "best-float"}

// Shipped reports whether name is one of the Presets or Variants.
func Shipped(name string) bool {
	return slices.Contains(Presets, name) || slices.Contains(Variants, name)
}

// ShippedHelp lists the shipped models for a flag's help and errors.
func ShippedHelp() string {
	return strings.Join(Presets, " or ") + "; " + strings.Join(Variants, " or ") + " for the other precision"
}

// ModelsDirEnv names the environment variable that points at the shipped models.
const ModelsDirEnv = "JPEGRESTORE_MODELS"

// ResolveModel turns a preset name or a path into a manifest path. Presets are looked up in dir,
// else $JPEGRESTORE_MODELS, else models/ under the working directory (or the repository root
// above it) and beside the executable.
func ResolveModel(nameOrPath, dir string) (string, error) {
	return ModelConfig{Dir: dir}.Resolve(nameOrPath)
}

// ModelConfig says which models restore which routes and how. It travels in the serialized
// config of the DoFns, so a worker in another process resolves a model by the rule of Resolve.
type ModelConfig struct {
	// Default is the preset or path used by routes that name no model.
	Default string
	// Dir is where presets are looked up first ("" for the defaults of ResolveModel).
	Dir string
	// Ensemble and Tile apply to routes that set none (0: 1 and the model's default tile).
	Ensemble, Tile int
	// QCS is the alpha of the DCT projection that finishes every restored image (package qcs;
	// SingleQCS suits files compressed once); 0, the default, leaves the model's output as it is.
	// With QCSAuto a file that shows an earlier compression (qcs.DoubleQuantized on the same grid,
	// qcs.ShiftedGrid on another) is not projected.
	QCS     float64 `json:"qcs,omitempty"`
	QCSAuto bool    `json:"qcs_auto,omitempty"`
	// Found maps the presets and paths the launcher resolved to their absolute manifest paths
	// (WithFound), for workers that start in another folder on the same machine.
	Found map[string]string `json:"found,omitempty"`
}

// QCSName names the DCT projection: "off", its alpha ("0.4"), or "auto:" and its alpha.
func (c ModelConfig) QCSName() string { return qcsName(c.QCS, c.QCSAuto) }

func qcsName(alpha float64, auto bool) string {
	switch {
	case alpha == 0:
		return "off"
	case auto:
		return fmt.Sprintf("auto:%g", alpha)
	}
	return fmt.Sprintf("%g", alpha)
}

// Resolve returns the manifest path of a preset or path. A preset is looked up in Dir, else in
// $JPEGRESTORE_MODELS, else where the launcher found it (Found) if that file exists here, else in
// models/ under the working directory (or the repository root above it) and beside the
// executable. A path is returned as it is, unless it is relative and the launcher's absolute path
// for it (Found) exists here.
func (c ModelConfig) Resolve(nameOrPath string) (string, error) {
	found := c.Found[nameOrPath]
	if isPath(nameOrPath) {
		if found != "" && !filepath.IsAbs(nameOrPath) && exists(found) {
			return found, nil
		}
		return nameOrPath, nil
	}
	file := nameOrPath + ".json"
	var tried []string
	try := func(p string) bool {
		if p = filepath.Clean(p); !slices.Contains(tried, p) {
			tried = append(tried, p)
		}
		return exists(p)
	}
	for _, d := range []string{c.Dir, os.Getenv(ModelsDirEnv)} {
		if d != "" && try(filepath.Join(d, file)) {
			return filepath.Join(d, file), nil
		}
	}
	if found != "" && try(found) {
		return found, nil
	}
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, "models"))
			if exists(filepath.Join(d, "go.mod")) || filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "models"), filepath.Join(filepath.Dir(exe), "..", "models"))
	}
	for _, d := range dirs {
		if try(filepath.Join(d, file)) {
			return filepath.Join(d, file), nil
		}
	}
	return "", fmt.Errorf("model preset %q not found (looked for %q); pass --model PATH to a manifest or .onnx, or --models DIR", nameOrPath, tried)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// WithFound returns the config with the manifests of its default model and of the routes'
// models resolved here recorded in Found, for workers that run elsewhere.
func (c ModelConfig) WithFound(rs route.Routes) ModelConfig {
	found := map[string]string{}
	for _, name := range append([]string{c.Default}, routeModels(rs)...) {
		if p, err := c.Resolve(name); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				found[name] = abs
			}
		}
	}
	c.Found = found
	return c
}

func routeModels(rs route.Routes) []string {
	var names []string
	for _, r := range rs {
		if r.Model != "" {
			names = append(names, r.Model)
		}
	}
	return names
}

func isPath(nameOrPath string) bool {
	return strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".json") || strings.HasSuffix(nameOrPath, ".onnx")
}

// Setting is a route's model as an output's tag names it: the manifest (its sha256), the
// self-ensemble size and the tile, resolved for the model.
type Setting struct {
	Manifest       *inference.Manifest
	Ensemble, Tile int
	// QCS is the projection's alpha, 0 for none, and QCSAuto its gate (ModelConfig.QCS, QCSAuto).
	QCS     float64
	QCSAuto bool
}

// Name names the model and its ensemble in rec.
func (s Setting) Name(rec *report.Record) {
	rec.Model, rec.ModelSHA256, rec.Ensemble = s.Manifest.Name, s.Manifest.SHA256, s.Ensemble
}

// RouteModel is a route's model, ready to restore.
type RouteModel struct {
	*inference.Restorer
	Setting
	// Device is where the model runs, and Note why that differs from the device asked for.
	Device, Note string
}

// Models resolves the routes of one job to restorers: it loads each model once, through its
// Loader (gpuworker's keeps one pool per model file and options in the process, whoever asks),
// and builds one restorer per model × ensemble × tile. It is safe for concurrent use.
type Models struct {
	cfg  ModelConfig
	load inference.Loader

	mu        sync.Mutex
	manifests map[string]*inference.Manifest // by the model named in the route or the config
	loaded    map[string]*loadedModel        // likewise
	restorers map[string]*RouteModel         // by model, ensemble and tile
}

type loadedModel struct {
	model   inference.Model
	release func() error
}

// NewModels returns an empty set; models load on first use (or in Preload). load may be nil for
// a set that only tells Settings.
func NewModels(cfg ModelConfig, load inference.Loader) *Models {
	return &Models{cfg: cfg, load: load, manifests: map[string]*inference.Manifest{},
		loaded: map[string]*loadedModel{}, restorers: map[string]*RouteModel{}}
}

// names returns the model, ensemble and tile a route names, the config filling what it does not.
func (m *Models) names(r route.Route) (model string, ensemble, tile int) {
	model, ensemble, tile = r.Model, r.Ensemble, r.Tile
	if model == "" {
		model = m.cfg.Default
	}
	if ensemble == 0 {
		ensemble = max(m.cfg.Ensemble, 1)
	}
	if tile == 0 {
		tile = m.cfg.Tile // 0: the model's default (see inference.TileConfig)
	}
	return model, ensemble, tile
}

// Setting returns the setting of a route (not a passthrough one) from the model's manifest,
// without loading the model: what a rerun needs to tell whether an output is done. The manifest's
// sha256 check reads the model file once per process (checkedManifest).
func (m *Models) Setting(r route.Route) (Setting, error) {
	model, ensemble, tile := m.names(r)
	m.mu.Lock()
	defer m.mu.Unlock()
	man := m.manifests[model]
	if man == nil {
		path, err := m.cfg.Resolve(model)
		if err != nil {
			return Setting{}, err
		}
		if man, err = checkedManifest(path); err != nil {
			return Setting{}, err
		}
		m.manifests[model] = man
	}
	return setting(man, ensemble, tile, m.cfg)
}

// checked holds the manifests this process has loaded and checked, by path, so that every
// DoFn instance that tells settings (one per bundle processor) does not hash the model again.
var checked = struct {
	sync.Mutex
	m map[string]*inference.Manifest
}{m: map[string]*inference.Manifest{}}

func checkedManifest(path string) (*inference.Manifest, error) {
	checked.Lock()
	defer checked.Unlock()
	if man := checked.m[path]; man != nil {
		return man, nil
	}
	man, err := inference.LoadManifest(path)
	if err == nil {
		checked.m[path] = man
	}
	return man, err
}

// SettingError says that a setting (a tile, an ensemble size) does not suit the model: the user's
// to change before anything runs.
type SettingError struct{ Msg string }

func (e *SettingError) Error() string { return e.Msg }

func setting(man *inference.Manifest, ensemble, tile int, cfg ModelConfig) (Setting, error) {
	if cfg.QCS < 0 || cfg.QCS > 0.5 || (cfg.QCSAuto && cfg.QCS == 0) {
		return Setting{}, &SettingError{fmt.Sprintf("qcs %g: want an alpha in (0, 0.5], or 0 for none", cfg.QCS)}
	}
	tc, err := inference.TileConfig{Tile: tile}.Resolve(man)
	if err != nil {
		def, derr := inference.TileConfig{}.Resolve(man)
		if derr != nil {
			return Setting{}, fmt.Errorf("model %s: %w", man.Name, err)
		}
		smallest := (def.Overlap/man.PadMultiple + 1) * man.PadMultiple
		return Setting{}, &SettingError{fmt.Sprintf("tile %d: the %s model needs a multiple of %d larger than its overlap of %d px: at least %d (by default %d)",
			tile, man.Name, man.PadMultiple, def.Overlap, smallest, def.Tile)}
	}
	return Setting{Manifest: man, Ensemble: ensemble, Tile: tc.Tile, QCS: cfg.QCS, QCSAuto: cfg.QCSAuto}, nil
}

// For returns the model of a route (not a passthrough one), loading it on first use: the
// manifest's sha256 and the model's inputs are checked then.
func (m *Models) For(r route.Route) (*RouteModel, error) {
	model, ensemble, tile := m.names(r)
	key := fmt.Sprintf("%s|%d|%d", model, ensemble, tile)
	m.mu.Lock()
	defer m.mu.Unlock()
	if rm := m.restorers[key]; rm != nil {
		return rm, nil
	}
	l := m.loaded[model]
	if l == nil {
		path, err := m.cfg.Resolve(model)
		if err != nil {
			return nil, err
		}
		mod, release, err := m.load(path)
		if err != nil {
			return nil, err
		}
		l = &loadedModel{model: mod, release: release}
		m.loaded[model] = l
		m.manifests[model] = mod.Manifest
	}
	set, err := setting(l.model.Manifest, ensemble, tile, m.cfg)
	if err != nil {
		return nil, err
	}
	rs, err := inference.NewRestorer(l.model.Engine, l.model.Manifest, inference.Config{TileConfig: inference.TileConfig{Tile: set.Tile}, Ensemble: ensemble})
	if err != nil {
		return nil, err
	}
	rm := &RouteModel{Restorer: rs, Setting: set, Device: l.model.Device, Note: l.model.Note}
	m.restorers[key] = rm
	return rm, nil
}

// Preload loads the model of every restoring route, so a missing or corrupt model fails before
// the first image, and returns them in route order.
func (m *Models) Preload(rs route.Routes) ([]*RouteModel, error) {
	var out []*RouteModel
	for _, r := range rs {
		if r.Passthrough {
			continue
		}
		rm, err := m.For(r)
		var bad *SettingError
		switch {
		case errors.As(err, &bad) && r.Tile == 0:
			return nil, &SettingError{"--" + bad.Msg} // the job's --tile, not the route's own
		case errors.As(err, &bad):
			return nil, &SettingError{fmt.Sprintf("--routes %s: %s", r.Name, bad.Msg)}
		case err != nil:
			return nil, fmt.Errorf("route %s: %w", r.Name, err)
		}
		out = append(out, rm)
	}
	return out, nil
}

// Close releases the loaded models.
func (m *Models) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, l := range m.loaded {
		errs = append(errs, l.release())
	}
	clear(m.loaded)
	clear(m.restorers)
	return errors.Join(errs...)
}
