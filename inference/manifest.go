package inference

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Conditioning values of a manifest.
const (
	CondNone   = "none"
	CondQTable = "qtable"
)

// QTableLen is the length of the conditioning vector: two 8×8 tables.
const QTableLen = 128

// Manifest describes a model; it is the JSON file beside the .onnx, written by
// training/export_onnx.py.
type Manifest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// File is the .onnx path, relative to the manifest's folder.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Inputs struct {
		Image  string `json:"image"`
		QTable string `json:"qtable"` // "" when Conditioning is "none"
	} `json:"inputs"`
	Output       string `json:"output"`
	Conditioning string `json:"conditioning"`
	// PadMultiple is the multiple H and W are padded to (16 or a multiple of it).
	PadMultiple int `json:"pad_multiple"`
	// ReceptiveField is the full width in pixels of the input region one output pixel depends
	// on. Tiles overlap by at least ReceptiveField-1 so each kept pixel sees all of it.
	ReceptiveField int `json:"receptive_field"`
	// Overlap, when set, is the tile overlap (a multiple of 16) at which tiled output was measured
	// to match whole-image output to within OverlapMaxDiff. Deep U-Nets have receptive fields of
	// hundreds of pixels whose far edges contribute nothing measurable; overlapping tiles by the
	// whole field would make tiling cost more than the model. 0 means ReceptiveField-1.
	Overlap int `json:"overlap,omitempty"`
	// OverlapMaxDiff is the largest absolute difference (in [0,1] units) between tiled and
	// whole-image output measured at Overlap.
	OverlapMaxDiff float64 `json:"overlap_max_diff,omitempty"`
	TrainedQF      [2]int  `json:"trained_qf"`
	Params         int64   `json:"params,omitempty"`
	// Weights says how the model computes: "float32" or "float16" (weights stored as float16,
	// computed in float32), or WeightsInt8 (int8 convolutions: QuantizeLinear/DequantizeLinear
	// pairs that ONNX Runtime fuses). "" is float32.
	Weights string `json:"weights,omitempty"`
	// PSNR is the measured quality table, kept as written for reports.
	PSNR json.RawMessage `json:"psnr,omitempty"`

	dir string
}

// Path returns the .onnx file's path.
func (m *Manifest) Path() string { return filepath.Join(m.dir, m.File) }

// WeightsInt8 is the Weights of an int8 QDQ model (training/tools/quantize_int8.py).
const WeightsInt8 = "int8-qdq"

// Int8 reports whether the model computes its convolutions in int8.
func (m *Manifest) Int8() bool { return m.Weights == WeightsInt8 }

// Conditioned reports whether the model takes the qtable input.
func (m *Manifest) Conditioned() bool { return m.Conditioning == CondQTable }

// Validate checks the fields without touching the model file.
func (m *Manifest) Validate() error {
	var errs []error
	if m.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if m.File == "" {
		errs = append(errs, errors.New("file is empty"))
	}
	if len(m.SHA256) != 64 {
		errs = append(errs, fmt.Errorf("sha256 %q is not 64 hex digits", m.SHA256))
	}
	if m.Inputs.Image == "" || m.Output == "" {
		errs = append(errs, errors.New("inputs.image and output must be named"))
	}
	switch m.Conditioning {
	case CondNone:
		if m.Inputs.QTable != "" {
			errs = append(errs, fmt.Errorf("conditioning none but inputs.qtable is %q", m.Inputs.QTable))
		}
	case CondQTable:
		if m.Inputs.QTable == "" {
			errs = append(errs, errors.New("conditioning qtable but inputs.qtable is empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("conditioning %q, want %q or %q", m.Conditioning, CondNone, CondQTable))
	}
	if m.PadMultiple < 16 || m.PadMultiple%16 != 0 {
		errs = append(errs, fmt.Errorf("pad_multiple %d is not a positive multiple of 16", m.PadMultiple))
	}
	if m.ReceptiveField < 1 {
		errs = append(errs, fmt.Errorf("receptive_field %d < 1", m.ReceptiveField))
	}
	if m.Overlap < 0 || m.Overlap%16 != 0 {
		errs = append(errs, fmt.Errorf("overlap %d is not a multiple of 16", m.Overlap))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("manifest %s: %w", m.Name, err)
	}
	return nil
}

// ManifestPath returns the manifest of path: path itself, or for a model (.onnx) the .json beside
// it.
func ManifestPath(path string) string {
	if filepath.Ext(path) == ".onnx" {
		return path[:len(path)-len(".onnx")] + ".json"
	}
	return path
}

// LoadManifest reads a manifest, validates it and checks the model file's sha256, so a corrupt or
// swapped model fails at start-up rather than halfway through an archive. path may name the
// manifest (.json) or the model (.onnx, whose manifest is the .json beside it).
func LoadManifest(path string) (*Manifest, error) {
	path = ManifestPath(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model manifest: %w", err)
	}
	m := &Manifest{dir: filepath.Dir(path)}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("model manifest %s: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sum, err := fileSHA256(m.Path())
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	if sum != m.SHA256 {
		return nil, fmt.Errorf("model %s: %s has sha256 %s, the manifest says %s (corrupt or replaced file)", m.Name, m.Path(), sum, m.SHA256)
	}
	return m, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
