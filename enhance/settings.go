package enhance

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"jpegrestore/jpeg"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
)

// Formats of outputs.
const (
	FormatPNG  = "png"
	FormatJPEG = "jpeg"
)

// Settings is what every input of a job shares.
type Settings struct {
	// Out is the output root URI; outputs mirror the input paths under it.
	Out string
	// Format is FormatPNG (default) or FormatJPEG.
	Format string
	// JPEGQuality is the quality of JPEG outputs, 1..100; 0 means 95 (4:4:4).
	JPEGQuality int
	Routes      route.Routes
	Limits      jpeg.Limits
	CMYK        jpeg.CMYKMode
	// Run names the job's run; the records of the outputs it makes carry it.
	Run string
}

// Validate checks the settings.
func (s Settings) Validate() error {
	switch s.Format {
	case FormatPNG, FormatJPEG:
	default:
		return fmt.Errorf("format %q, want png or jpeg", s.Format)
	}
	if s.JPEGQuality < 0 || s.JPEGQuality > 100 {
		return fmt.Errorf("jpeg quality %d outside 1..100", s.JPEGQuality)
	}
	if s.Out == "" {
		return errors.New("no output root")
	}
	return s.Routes.Validate()
}

// Input is one matched object and the root it was matched under.
type Input struct {
	URI  string `json:"uri"`
	Root string `json:"root"`
	// OutsideRoot marks a local symlink that resolves outside Root (storage.Object.OutsideRoot):
	// it is not read.
	OutsideRoot bool `json:"outside_root,omitempty"`
	// OutputTakenBy, when set, is the path (below its root) of another input of the job whose
	// output name this input's would be: this one is not restored (see transforms.ClaimOutputs).
	OutputTakenBy string `json:"output_taken_by,omitempty"`
	// Version identifies the input's content as listed (storage.Object.Version).
	Version string `json:"version,omitempty"`
	// OutputBytes is the size of the input's output as the output root was listed; 0 when it was
	// not there or not listed.
	OutputBytes int64 `json:"output_bytes,omitempty"`
	// OutputListed says the output root was listed for this input (OutputBytes is then what the
	// listing showed): an output it did not show is not read to tell whether it is done.
	OutputListed bool `json:"output_listed,omitempty"`
	// Previous is what an input found done keeps of the previous run's record (Kept, as JSON),
	// when the listings could not settle it: should it be found done, its record keeps that run's
	// numbers.
	Previous string `json:"previous,omitempty"`
}

// OutputURI returns where the output of rel goes: under out, with the format's extension.
func OutputURI(out, rel, format string) string {
	ext := ".png"
	if format == FormatJPEG {
		ext = ".jpg"
	}
	return storage.Join(out, strings.TrimSuffix(rel, path.Ext(rel))+ext)
}

// CheckRel returns an error when rel, an input's path below its root, could name an output
// outside the output root, or cannot be a file name: it must be "/"-separated segments that are
// neither empty, "." nor "..", without control characters.
func CheckRel(rel string) error {
	if rel == "" {
		return errors.New("empty path")
	}
	for _, seg := range strings.Split(rel, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("path %q has a %q segment", rel, seg)
		}
	}
	for _, r := range rel {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("path %q has the control character %U", rel, r)
		}
	}
	return nil
}

// RelOf returns the input's path below its root, with "/" separators; its URI when it is not
// below the root (CheckRel refuses that as an output name).
func RelOf(in Input) string {
	rel, err := storage.Rel(in.Root, in.URI)
	if err != nil {
		return in.URI
	}
	return rel
}

// NewRecord starts the record of an input: its URI, its path under the root, and the report
// group it belongs to (the GCS bucket, or "local", and the first folder of that path).
func NewRecord(in Input) report.Record {
	rel := RelOf(in)
	bucket, prefix := "local", ""
	if storage.IsGCS(in.URI) {
		bucket, _, _ = strings.Cut(strings.TrimPrefix(in.URI, "gs://"), "/")
	}
	if i := strings.Index(rel, "/"); i >= 0 {
		prefix = rel[:i]
	}
	return report.Record{URI: in.URI, Rel: rel, Bucket: bucket, Prefix: prefix, InputVersion: in.Version,
		Timings: map[report.Stage]float64{}}
}
