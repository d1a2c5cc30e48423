package report

import (
	"maps"
	"slices"
)

// Status is how one input ended. Every matched input ends in exactly one status.
type Status string

// Statuses.
const (
	// StatusRestored: the input was restored and its output written (or, in an eval job,
	// compressed, restored and measured against its reference).
	StatusRestored Status = "restored"
	// StatusSkipped: nothing was restored, on purpose; Reason says why.
	StatusSkipped Status = "skipped"
	// StatusFailed: the input could not be handled; Stage and Reason say where and why.
	StatusFailed Status = "failed"
	// StatusSurveyed: the report (survey) job probed and scored the input; nothing was written.
	StatusSurveyed Status = "surveyed"
	// StatusProbed: the probe command read the input's markers; nothing was decoded.
	StatusProbed Status = "probed"
)

// Stage is one step of an input's journey (package enhance owns the journey). A failed record
// says at which stage it failed, and Record.Timings is keyed by stage.
type Stage string

// Stages, in the order an input meets them.
const (
	// StageName names the output from the input's path (restore only).
	StageName    Stage = "name"
	StageRead    Stage = "read"
	StageProbe   Stage = "probe"
	StageDecode  Stage = "decode"
	StageEnhance Stage = "enhance"
	StageEncode  Stage = "encode"
	StageWrite   Stage = "write"
	// StageMeasure is the no-reference and reference measures.
	StageMeasure Stage = "measure"
)

// Stages lists the stages in journey order.
func Stages() []Stage {
	return []Stage{StageName, StageRead, StageProbe, StageDecode, StageEnhance, StageEncode, StageWrite, StageMeasure}
}

// Reason says why a record was skipped or failed. Each reason is declared once, below, with the
// status it goes with, what it means and whether a rerun may end differently; records,
// failures.jsonl, the Beam metrics (dead_letters_total{reason=...}) and the report all use these
// values. To add one, declare it here and return it where it happens (enhance's journey).
//
// A rerun of a job redoes every failed input (a failed input has no complete output) and every
// input whose output is missing or was made with other settings; it does not redo an input
// skipped as done or passed through, whose output is complete.
type Reason string

// ReasonInfo describes a reason.
type ReasonInfo struct {
	// Status is the status of the records that carry the reason.
	Status Status `json:"status"`
	// Transient is true when the fault lies outside the input (storage, the model, the job being
	// stopped), so a rerun may succeed; false when the input itself will fail again.
	Transient bool `json:"transient"`
	// Doc says what the reason means.
	Doc string `json:"doc"`
}

var reasons = map[Reason]ReasonInfo{}

// declare registers a reason; it runs at package initialisation.
func declare(name string, status Status, transient bool, doc string) Reason {
	r := Reason(name)
	if _, dup := reasons[r]; dup {
		panic("report: reason " + name + " declared twice")
	}
	reasons[r] = ReasonInfo{Status: status, Transient: transient, Doc: doc}
	return r
}

// The reasons: skipped ones first, then failed ones.
var (
	ReasonDone        = declare("done", StatusSkipped, false, "the output already exists, complete, made from the same input with the same model and settings")
	ReasonPassthrough = declare("passthrough", StatusSkipped, false, "routed to a passthrough band: the input was copied (JPEG output) or converted losslessly (PNG), not restored")
	ReasonNotJPEG     = declare("not_jpeg", StatusSkipped, false, "the input does not start with a JPEG marker")

	ReasonUnsafeName   = declare("unsafe_name", StatusFailed, false, "the input's path below its root has '..', '.' or empty segments or control characters, so its output could land outside the output root; not read (rename it)")
	ReasonOutputTaken  = declare("output_taken", StatusFailed, false, "another input (named in the error) gets the same output name, as a.jpg, a.jpeg and a.JPG all become a.png; the first by byte order of the path keeps it, rename the others")
	ReasonOutsideRoot  = declare("outside_root", StatusFailed, false, "a symbolic link below the input root that leads to a file outside it; not read")
	ReasonReadFailed   = declare("read_failed", StatusFailed, true, "the input could not be read: deleted since it was listed, no permission, or a storage fault that retries did not fix")
	ReasonCorrupt      = declare("corrupt", StatusFailed, false, "the bytes violate the JPEG format (bad lengths, impossible values, damaged entropy data), or a reference image could not be decoded")
	ReasonTruncated    = declare("truncated", StatusFailed, false, "the file ends before the image does")
	ReasonUnsupported  = declare("unsupported", StatusFailed, false, "a valid JPEG that the decoder does not handle (lossless, hierarchical, 12-bit)")
	ReasonTooLarge     = declare("too_large", StatusFailed, false, "the frame has more pixels than --max-pixels allows; nothing was decoded")
	ReasonInferFailed  = declare("infer_failed", StatusFailed, true, "the route's model could not be loaded or run (with --workers: no server answered it in time)")
	ReasonCancelled    = declare("cancelled", StatusFailed, true, "the job was stopped while the input was being restored")
	ReasonEncodeFailed = declare("encode_failed", StatusFailed, false, "the output image could not be encoded")
	ReasonWriteFailed  = declare("write_failed", StatusFailed, true, "the output could not be written: no permission, no space, or a storage fault that retries did not fix")
	ReasonMeasure      = declare("measure_failed", StatusFailed, false, "the reference metrics could not be computed (the reference and the restored image differ in shape)")
	// ReasonUnknown stands in for an empty or undeclared reason, and for a record without a valid
	// status; no journey step produces it.
	ReasonUnknown = declare("unknown", StatusFailed, false, "a record without a valid status or reason (from another tool or an older version)")
)

// Info returns what is declared about r; ok is false for an undeclared reason.
func (r Reason) Info() (info ReasonInfo, ok bool) {
	info, ok = reasons[r]
	return info, ok
}

// Reasons returns every declared reason, sorted.
func Reasons() []Reason { return slices.Sorted(maps.Keys(reasons)) }
