package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"jpegrestore/enhance"
	"jpegrestore/jpeg"
	"jpegrestore/report"
	"jpegrestore/storage"
)

// ProbeRecord is what the probe job learns about one input: the record of enhance's probe
// journey (status probed, or skipped or failed with a reason) and, for a probed input, how its
// markers say it was coded.
type ProbeRecord struct {
	report.Record
	ColorSpace  string        `json:"color_space,omitempty"`
	Subsampling string        `json:"subsampling,omitempty"`
	Process     string        `json:"process,omitempty"`
	Arithmetic  bool          `json:"arithmetic,omitempty"`
	Quality     *jpeg.Quality `json:"quality,omitempty"`
	Orientation int           `json:"orientation,omitempty"`
	ICC         bool          `json:"icc,omitempty"`
	EXIF        bool          `json:"exif,omitempty"`
}

func newProbeRecord(rec report.Record, p *enhance.Probed) ProbeRecord {
	rec.Timings = nil
	r := ProbeRecord{Record: rec}
	if p == nil {
		return r
	}
	info := p.Info
	r.ColorSpace, r.Subsampling, r.Process = info.ColorSpace.String(), info.Subsampling(), info.Process.String()
	r.Arithmetic, r.Quality = info.Arithmetic, &p.Quality
	r.Orientation, r.ICC, r.EXIF = info.Orientation, info.ICC != nil, info.EXIF != nil
	return r
}

// ProbeConfig configures the probe job.
type ProbeConfig struct {
	// Inputs are files, folders (listed recursively), globs or gs:// prefixes, matched as the
	// restore job matches them (storage.Match, leaving out the tool's own report folders).
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
	if c.MaxPixels < 0 {
		return fmt.Errorf("probe: negative pixel limit %d", c.MaxPixels)
	}
	return nil
}

// ProbeSummary counts the records of a probe run.
type ProbeSummary struct {
	Files, Probed, Skipped, Failed int
	ByReason                       map[report.Reason]int
	// QFHistogram counts probed files by the report's QF bands (report.QFBand), keyed by the
	// band's lowest QF, 0 for the first: key 0 holds QF 1..9, key 10 holds QF 10..19, key 90
	// holds QF 90..100.
	QFHistogram map[int]int
}

// RunProbe probes every input (markers only, no pixel decode) and writes the records to w; it
// returns the summary. An input that is named twice (a folder and a glob in it) is probed once.
// A file that cannot be read or parsed becomes a failed record, never an error: the error result
// is for inputs that cannot be listed, and globs that match nothing.
func RunProbe(ctx context.Context, cfg ProbeConfig, w io.Writer) (ProbeSummary, error) {
	if err := cfg.Validate(); err != nil {
		return ProbeSummary{}, err
	}
	j := &enhance.Journey{Settings: enhance.Settings{Limits: jpeg.Limits{MaxPixels: cfg.MaxPixels}}, Store: storage.Store{}}
	sum := ProbeSummary{ByReason: map[report.Reason]int{}, QFHistogram: map[int]int{}}
	var tw *tabwriter.Writer
	enc := json.NewEncoder(w)
	if !cfg.JSON {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tSIZE\tCODING\tQF\tQF CHROMA\tFIT\tNOTE")
	}
	seen := map[string]bool{}
	own := report.OwnFolders{}
	for _, pattern := range cfg.Inputs {
		in := enhance.Input{Root: storage.Root(pattern)}
		matched := 0
		err := storage.Match(ctx, pattern, func(o storage.Object) error {
			matched++
			if seen[o.URI] {
				return nil
			}
			if skip, err := own.Holds(ctx, in.Root, o.URI); err != nil || skip {
				return err
			}
			seen[o.URI] = true
			in.URI = o.URI
			rec, p, err := j.Probe(ctx, in)
			if err != nil {
				return err
			}
			r := newProbeRecord(rec, p)
			sum.add(r)
			if cfg.JSON {
				return enc.Encode(r)
			}
			writeRow(tw, r)
			return nil
		})
		if err != nil {
			return sum, fmt.Errorf("probe: %w", err)
		}
		if matched == 0 && strings.ContainsAny(pattern, "*?[") {
			return sum, fmt.Errorf("probe: %s matches no file", pattern)
		}
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return sum, err
		}
		writeSummary(w, sum)
	}
	return sum, nil
}

func (s *ProbeSummary) add(r ProbeRecord) {
	s.Files++
	switch r.Status {
	case report.StatusProbed:
		s.Probed++
		if report.QFBand(r.QF) != "" { // a QF was estimated
			s.QFHistogram[min(r.QF/10*10, 90)]++
		}
		return
	case report.StatusSkipped:
		s.Skipped++
	default:
		s.Failed++
	}
	s.ByReason[r.Reason]++
}

func writeRow(tw io.Writer, r ProbeRecord) {
	if r.Status != report.StatusProbed {
		fmt.Fprintf(tw, "%s\t\t\t\t\t\t%s %s: %s\n", r.URI, strings.ToUpper(string(r.Status)), r.Reason, r.Error)
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
	fmt.Fprintf(w, "\n%s: %d probed, %d skipped, %d failed", report.Plural(int64(s.Files), "file"), s.Probed, s.Skipped, s.Failed)
	var reasons []string
	for _, r := range slices.Sorted(maps.Keys(s.ByReason)) {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, s.ByReason[r]))
	}
	if len(reasons) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(reasons, ", "))
	}
	fmt.Fprintln(w)
	for _, k := range slices.Sorted(maps.Keys(s.QFHistogram)) {
		fmt.Fprintf(w, "  QF %-6s %s %d\n", report.QFBand(max(k, 1)), strings.Repeat("#", s.QFHistogram[k]), s.QFHistogram[k])
	}
}
