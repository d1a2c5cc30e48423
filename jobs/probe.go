package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"jpegrestore/jpeg"
)

// ProbeRecord is what a probe learns about one input. Every input gets exactly one record:
// Status "ok" with the fields below filled, or "failed" with Reason (a jpeg.Kind name, or "read")
// and Error.
type ProbeRecord struct {
	URI         string `json:"uri"`
	Bytes       int64  `json:"bytes"`
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	Error       string `json:"error,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	ColorSpace  string `json:"color_space,omitempty"`
	Subsampling string `json:"subsampling,omitempty"`
	Process     string `json:"process,omitempty"`
	Arithmetic  bool   `json:"arithmetic,omitempty"`
	// QF is the luma quality factor, the routing key; QFChroma is absent for gray images.
	QF          int           `json:"qf,omitempty"`
	QFChroma    int           `json:"qf_chroma,omitempty"`
	Quality     *jpeg.Quality `json:"quality,omitempty"`
	Orientation int           `json:"orientation,omitempty"`
	ICC         bool          `json:"icc,omitempty"`
	EXIF        bool          `json:"exif,omitempty"`
}

// Probe builds the record of one file from its bytes; it never decodes pixels.
func Probe(uri string, data []byte, lim jpeg.Limits) ProbeRecord {
	r := ProbeRecord{URI: uri, Bytes: int64(len(data)), Status: "ok"}
	info, err := jpeg.Parse(data, lim)
	if err != nil {
		r.Status, r.Reason, r.Error = "failed", jpeg.Reason(err), err.Error()
		return r
	}
	q := jpeg.EstimateFileQuality(info)
	r.Width, r.Height = info.Width, info.Height
	r.ColorSpace, r.Subsampling, r.Process = info.ColorSpace.String(), info.Subsampling(), info.Process.String()
	r.Arithmetic = info.Arithmetic
	r.QF, r.Quality = q.Luma.Quality, &q
	if q.Chroma != nil {
		r.QFChroma = q.Chroma.Quality
	}
	r.Orientation, r.ICC, r.EXIF = info.Orientation, info.ICC != nil, info.EXIF != nil
	return r
}

// ProbeConfig configures the probe job.
type ProbeConfig struct {
	// Inputs are files, folders (walked recursively for *.jpg, *.jpeg, *.jpe, *.jfif in any case)
	// or glob patterns; local paths only.
	Inputs []string
	// MaxPixels is the decompression-bomb limit; 0 means jpeg.DefaultMaxPixels.
	MaxPixels int64
	// JSON writes one ProbeRecord per line instead of a table.
	JSON bool
}

// Validate checks the config; it is called before anything runs.
func (c ProbeConfig) Validate() error {
	if len(c.Inputs) == 0 {
		return errors.New("probe: no inputs given")
	}
	for _, in := range c.Inputs {
		if strings.HasPrefix(in, "gs://") {
			return fmt.Errorf("probe: %s: gs:// inputs are read by the Beam jobs, not by probe", in)
		}
	}
	if c.MaxPixels < 0 {
		return fmt.Errorf("probe: negative pixel limit %d", c.MaxPixels)
	}
	return nil
}

// ProbeSummary counts the records of a probe run.
type ProbeSummary struct {
	Files, OK, Failed int
	ByReason          map[string]int
	// QFHistogram counts ok files by luma QF decade: key 10 holds QF 10..19, key 100 holds QF 100.
	QFHistogram map[int]int
}

// RunProbe probes every input file and writes the records to w; it returns the summary. A file
// that cannot be read or parsed becomes a failed record, never an error: the error result is for
// inputs that match nothing.
func RunProbe(cfg ProbeConfig, w io.Writer) (ProbeSummary, error) {
	if err := cfg.Validate(); err != nil {
		return ProbeSummary{}, err
	}
	files, err := expandInputs(cfg.Inputs)
	if err != nil {
		return ProbeSummary{}, err
	}
	sum := ProbeSummary{ByReason: map[string]int{}, QFHistogram: map[int]int{}}
	lim := jpeg.Limits{MaxPixels: cfg.MaxPixels}
	var tw *tabwriter.Writer
	enc := json.NewEncoder(w)
	if !cfg.JSON {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tSIZE\tCODING\tQF\tQF CHROMA\tFIT\tNOTE")
	}
	for _, f := range files {
		var r ProbeRecord
		data, err := os.ReadFile(f)
		if err != nil {
			r = ProbeRecord{URI: f, Status: "failed", Reason: "read", Error: err.Error()}
		} else {
			r = Probe(f, data, lim)
		}
		sum.Files++
		if r.Status == "ok" {
			sum.OK++
			sum.QFHistogram[r.QF/10*10]++
		} else {
			sum.Failed++
			sum.ByReason[r.Reason]++
		}
		if cfg.JSON {
			if err := enc.Encode(r); err != nil {
				return sum, err
			}
			continue
		}
		writeRow(tw, r)
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return sum, err
		}
		writeSummary(w, sum)
	}
	return sum, nil
}

func writeRow(tw io.Writer, r ProbeRecord) {
	if r.Status != "ok" {
		fmt.Fprintf(tw, "%s\t\t\t\t\t\tFAILED %s: %s\n", r.URI, r.Reason, r.Error)
		return
	}
	coding := r.ColorSpace + " " + r.Subsampling + " " + r.Process
	if r.ColorSpace == "gray" {
		coding = "gray " + r.Process
	}
	if r.Arithmetic {
		coding += " arithmetic"
	}
	chroma := "-"
	if r.Quality.Chroma != nil {
		chroma = fmt.Sprint(r.QFChroma)
	}
	var notes []string
	if r.Orientation > 1 {
		notes = append(notes, fmt.Sprintf("EXIF orientation %d", r.Orientation))
	}
	if r.ICC {
		notes = append(notes, "ICC")
	}
	fmt.Fprintf(tw, "%s\t%dx%d\t%s\t%d\t%s\t%s\t%s\n", r.URI, r.Width, r.Height, coding, r.QF, chroma,
		r.Quality.Luma.Confidence, strings.Join(notes, ", "))
}

func writeSummary(w io.Writer, s ProbeSummary) {
	fmt.Fprintf(w, "\n%d files: %d ok, %d failed", s.Files, s.OK, s.Failed)
	var reasons []string
	for r, n := range s.ByReason {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(reasons, ", "))
	}
	fmt.Fprintln(w)
	var keys []int
	for k := range s.QFHistogram {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		label := fmt.Sprintf("QF %2d-%-3d", k, k+9)
		if k == 100 {
			label = "QF 100   "
		}
		fmt.Fprintf(w, "  %s %s %d\n", label, strings.Repeat("#", s.QFHistogram[k]), s.QFHistogram[k])
	}
}

// IsJPEGName reports whether a file name has a JPEG extension (.jpg, .jpeg, .jpe, .jfif; any case).
func IsJPEGName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".jpe", ".jfif":
		return true
	}
	return false
}

// expandInputs turns files, folders and globs into a sorted, de-duplicated file list. Files named
// explicitly are kept whatever their extension; folders contribute their JPEG-named files.
func expandInputs(inputs []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, in := range inputs {
		matches := []string{in}
		if strings.ContainsAny(in, "*?[") {
			m, err := filepath.Glob(in)
			if err != nil {
				return nil, fmt.Errorf("probe: bad pattern %q: %w", in, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("probe: %s matches no file", in)
			}
			matches = m
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("probe: %w", err)
			}
			if !st.IsDir() {
				add(m)
				continue
			}
			err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && IsJPEGName(p) {
					add(p)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("probe: walking %s: %w", m, err)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
