package report

import (
	"fmt"
	"math"
)

// Record is the outcome of one input, written one per line to records.jsonl.
//
// Reference metrics (PSNR, SSIM, PSNR-B) are pointers: nil when no reference image is known,
// so that an absent metric is never mistaken for 0. NRBefore and NRAfter are both 0 when the
// no-reference score was not measured.
type Record struct {
	// URI is the input's full address: gs://bucket/path or a local path.
	URI string `json:"uri"`
	// Rel is the input's path relative to the input root, with forward slashes.
	Rel string `json:"rel"`
	// Bucket is the GCS bucket name, or "local" for files on disk.
	Bucket string `json:"bucket"`
	// Prefix is the first path segment of Rel, or "" for a file at the root.
	Prefix string `json:"prefix"`
	// Status is how the input ended.
	Status Status `json:"status"`
	// Reason says why a record was skipped or failed (see Reason); "" for restored records.
	Reason Reason `json:"reason,omitempty"`
	// Stage is where a failed record failed.
	Stage Stage `json:"stage,omitempty"`
	// Error is the failure's message.
	Error string `json:"error,omitempty"`

	// Route is the band the input was routed to ("strong", "medium", "light", "passthrough"), in
	// a survey the band a restore would route it to (RouteSurvey when no routes were given), and
	// RouteEval in an eval; "" when it failed before routing.
	Route string `json:"route,omitempty"`
	// QF and QFChroma are the estimated luma and chroma quality factors, 1..100; 0 if unknown.
	QF       int `json:"qf,omitempty"`
	QFChroma int `json:"qf_chroma,omitempty"`
	// Confidence is the quality estimate's confidence ("exact", "high", "low", …).
	Confidence string `json:"confidence,omitempty"`
	// Width and Height are the image size in pixels.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Bytes is the input's size in bytes.
	Bytes int64 `json:"bytes,omitempty"`

	// Output is the output's URI.
	Output string `json:"output,omitempty"`
	// Format is the output format, "png" or "jpeg".
	Format string `json:"format,omitempty"`
	// Run names the run that made the output (report.Folder.Run). A later run that finds the
	// input done keeps it, with that run's numbers (scores, model), so a report describes the
	// outputs as they are, whichever run made them.
	Run string `json:"run,omitempty"`
	// Tag is the output's tag: the input's content, the model with its settings, and the output
	// settings (an output that carries it is complete). OutputBytes is the output's size.
	Tag         string `json:"tag,omitempty"`
	OutputBytes int64  `json:"output_bytes,omitempty"`
	// InputVersion identifies the input's content as its listing gave it (storage.Object.Version)
	// and InputSHA256 is the hash of its bytes. A rerun that lists the same version, finds the
	// output with the same size and computes the same tag for its settings knows the input is
	// done without reading it.
	InputVersion string `json:"input_version,omitempty"`
	InputSHA256  string `json:"input_sha256,omitempty"`

	// Model, ModelSHA256 and Ensemble identify the restoring model and its self-ensemble size.
	Model       string `json:"model,omitempty"`
	ModelSHA256 string `json:"model_sha256,omitempty"`
	Ensemble    int    `json:"ensemble,omitempty"`
	// QCS is the alpha of the DCT projection that finished the restored image (package qcs), and
	// QCSMoved how many coefficients it moved; QCSSkipped says why a restored image that asked
	// for it was not projected (a CMYK file, say), and the model's output was kept as it was.
	QCS        float64 `json:"qcs,omitempty"`
	QCSMoved   int     `json:"qcs_moved,omitempty"`
	QCSSkipped string  `json:"qcs_skipped,omitempty"`

	// NRBefore and NRAfter are the no-reference JPEG quality scores of the input and of the
	// output (higher is better, roughly 1..10); both 0 when not measured.
	NRBefore float64 `json:"nr_before,omitempty"`
	NRAfter  float64 `json:"nr_after,omitempty"`
	// BlockinessBefore and BlockinessAfter are the mean absolute steps across 8×8 block
	// boundaries, in gray levels (lower is better).
	BlockinessBefore float64 `json:"blockiness_before,omitempty"`
	BlockinessAfter  float64 `json:"blockiness_after,omitempty"`

	// PSNRBefore … PSNRBAfter compare the input and the output with a reference image: PSNR
	// and PSNR-B in dB, SSIM in [0, 1]. Nil when no reference exists.
	PSNRBefore  *float64 `json:"psnr_before,omitempty"`
	PSNRAfter   *float64 `json:"psnr_after,omitempty"`
	SSIMBefore  *float64 `json:"ssim_before,omitempty"`
	SSIMAfter   *float64 `json:"ssim_after,omitempty"`
	PSNRBBefore *float64 `json:"psnrb_before,omitempty"`
	PSNRBAfter  *float64 `json:"psnrb_after,omitempty"`

	// Timings holds the seconds spent per stage.
	Timings map[Stage]float64 `json:"timings,omitempty"`
	// Retries counts the storage faults that were retried while handling the input, by kind
	// ("http_503", "http_429", "reset", "timeout", ...; see package storage).
	Retries map[string]int64 `json:"retries,omitempty"`
}

// Route names of the jobs that do not route by quality.
const (
	RouteSurvey = "survey"
	RouteEval   = "eval"
)

// HasOutput reports whether the record's input has its output: restored, or skipped as done or
// passed through (copied or converted).
func (r Record) HasOutput() bool {
	return r.Status == StatusRestored || (r.Status == StatusSkipped && (r.Reason == ReasonDone || r.Reason == ReasonPassthrough))
}

// Key identifies what a record is about: its input, and in an eval job also the QF (an eval job
// writes one record per reference and QF). Merging drops records whose key it has seen.
func (r Record) Key() string {
	if r.Route == RouteEval {
		return fmt.Sprintf("%s\x00%d", r.URI, r.QF)
	}
	return r.URI
}

// NRMeasured reports whether the record carries no-reference scores.
func (r Record) NRMeasured() bool {
	return r.NRBefore != 0 || r.NRAfter != 0
}

// NRGain returns NRAfter − NRBefore: how much the restoration raised the no-reference score.
func (r Record) NRGain() float64 {
	return r.NRAfter - r.NRBefore
}

// HasRef reports whether the record carries any reference metric.
func (r Record) HasRef() bool {
	return r.PSNRBefore != nil || r.PSNRAfter != nil || r.SSIMBefore != nil ||
		r.SSIMAfter != nil || r.PSNRBBefore != nil || r.PSNRBAfter != nil
}

// Megapixels returns Width × Height / 1e6, or 0 when the size is unknown.
func (r Record) Megapixels() float64 {
	return float64(r.pixels()) / 1e6
}

func (r Record) pixels() int64 {
	if r.Width <= 0 || r.Height <= 0 {
		return 0
	}
	return int64(r.Width) * int64(r.Height)
}

// Float returns a pointer to v, for the reference metrics of a Record.
func Float(v float64) *float64 { return &v }

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
