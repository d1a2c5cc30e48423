package report

import "math"

// Record statuses: every matched input ends in exactly one of them.
const (
	StatusRestored = "restored"
	StatusSkipped  = "skipped"
	StatusFailed   = "failed"
	// StatusSurveyed is the report job's status: probed and scored, nothing written.
	StatusSurveyed = "surveyed"
)

// Reasons of skipped records.
const (
	// ReasonDone: the output already exists and is complete (a rerun of the same job).
	ReasonDone = "done"
	// ReasonPassthrough: the input was routed to a passthrough band and copied or converted.
	ReasonPassthrough = "passthrough"
	// ReasonNotJPEG: the input is not a JPEG file.
	ReasonNotJPEG = "not_jpeg"
)

// Reasons of failed records. jpeg.Reason gives the decoder's kinds; the others name the stage
// that failed.
const (
	ReasonCorrupt      = "corrupt"
	ReasonTruncated    = "truncated"
	ReasonUnsupported  = "unsupported"
	ReasonTooLarge     = "too_large"
	ReasonRead         = "read"
	ReasonInferFailed  = "infer_failed"
	ReasonEncodeFailed = "encode_failed"
	ReasonWriteFailed  = "write_failed"
	// ReasonUnknown stands in for an empty reason, and for a record without a valid status.
	ReasonUnknown = "unknown"
)

// Stages of the restore flow, used as Record.Stage and as the keys of Record.Timings.
const (
	StageRead    = "read"
	StageProbe   = "probe"
	StageDecode  = "decode"
	StageEnhance = "enhance"
	StageEncode  = "encode"
	StageWrite   = "write"
	// StageMeasure is a timing key only: the no-reference and reference measures.
	StageMeasure = "measure"
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
	// Status is StatusRestored, StatusSkipped or StatusFailed.
	Status string `json:"status"`
	// Reason says why a record was skipped (ReasonDone, ReasonPassthrough, ReasonNotJPEG) or
	// failed (ReasonCorrupt, ReasonTruncated, …); "" for restored records.
	Reason string `json:"reason,omitempty"`
	// Stage is where a failed record failed: one of the Stage constants.
	Stage string `json:"stage,omitempty"`
	// Error is the failure's message.
	Error string `json:"error,omitempty"`

	// Route is the band the input was routed to ("strong", "medium", "light", "passthrough",
	// or "eval" in an evaluation job); "" when it failed before routing.
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
	// Model, ModelSHA256 and Ensemble identify the restoring model and its self-ensemble size.
	Model       string `json:"model,omitempty"`
	ModelSHA256 string `json:"model_sha256,omitempty"`
	Ensemble    int    `json:"ensemble,omitempty"`

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

	// Timings holds the seconds spent per stage, keyed by the Stage constants.
	Timings map[string]float64 `json:"timings,omitempty"`
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
