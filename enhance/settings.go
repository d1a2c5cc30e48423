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
}

// OutputURI returns where the output of rel goes: under out, with the format's extension.
func OutputURI(out, rel, format string) string {
	ext := ".png"
	if format == FormatJPEG {
		ext = ".jpg"
	}
	return storage.Join(out, strings.TrimSuffix(rel, path.Ext(rel))+ext)
}

// NewRecord starts the record of an input: its URI, its path under the root, and the report
// group it belongs to (the GCS bucket, or "local", and the first folder of that path).
func NewRecord(in Input) report.Record {
	rel, err := storage.Rel(in.Root, in.URI)
	if err != nil {
		rel = path.Base(in.URI)
	}
	bucket, prefix := "local", ""
	if storage.IsGCS(in.URI) {
		bucket, _, _ = strings.Cut(strings.TrimPrefix(in.URI, "gs://"), "/")
	}
	if i := strings.Index(rel, "/"); i >= 0 {
		prefix = rel[:i]
	}
	return report.Record{URI: in.URI, Rel: rel, Bucket: bucket, Prefix: prefix, Timings: map[report.Stage]float64{}}
}
