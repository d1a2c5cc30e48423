package enhance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"path"
	"strings"
	"time"

	"jpegrestore/jpeg"
	"jpegrestore/pix"
	"jpegrestore/quality"
	"jpegrestore/report"
	"jpegrestore/route"
	"jpegrestore/storage"
)

// Formats of outputs.
const (
	FormatPNG  = "png"
	FormatJPEG = "jpeg"
)

// TagVersion starts every output tag; bump it when outputs made by older code must be redone.
const TagVersion = "jpegrestore/v1"

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

// Plan is what Prepare decided for an input that is to be restored or passed through.
type Plan struct {
	Record report.Record
	Info   *jpeg.Info
	Route  route.Route
	// Tag identifies the output: input content, model and settings. An existing output with the
	// same tag is complete (writes are atomic) and is not redone.
	Tag string
}

// OutputURI returns where the output of rel goes: under out, with the format's extension.
func OutputURI(out, rel, format string) string {
	ext := ".png"
	if format == FormatJPEG {
		ext = ".jpg"
	}
	return storage.Join(out, strings.TrimSuffix(rel, path.Ext(rel))+ext)
}

// bucketPrefix names the report group of an input: the GCS bucket (or "local") and the first
// folder of its path under the root.
func bucketPrefix(uri, rel string) (bucket, prefix string) {
	bucket = "local"
	if storage.IsGCS(uri) {
		bucket, _, _ = strings.Cut(strings.TrimPrefix(uri, "gs://"), "/")
	}
	if i := strings.Index(rel, "/"); i >= 0 {
		prefix = rel[:i]
	}
	return bucket, prefix
}

// NewRecord starts the record of an input.
func NewRecord(in Input, size int) report.Record {
	rel, err := storage.Rel(in.Root, in.URI)
	if err != nil {
		rel = path.Base(in.URI)
	}
	b, p := bucketPrefix(in.URI, rel)
	return report.Record{URI: in.URI, Rel: rel, Bucket: b, Prefix: p, Bytes: int64(size), Timings: map[string]float64{}}
}

// Fail marks a record failed at a stage, with the typed reason of err (a jpeg Kind name, or
// fallback).
func Fail(r report.Record, stage, fallback string, err error) report.Record {
	r.Status, r.Stage, r.Error = report.StatusFailed, stage, err.Error()
	r.Reason = jpeg.Reason(err)
	if r.Reason == "" {
		r.Reason = fallback
	}
	return r
}

// Prepare probes an input's bytes and decides its route, output and tag. It returns either a
// plan, or a final record (ok = false): skipped as not a JPEG, or failed with the probe's reason.
func Prepare(in Input, data []byte, s Settings, models *Models) (plan Plan, final report.Record, ok bool) {
	rec := NewRecord(in, len(data))
	start := time.Now()
	info, err := jpeg.Parse(data, s.Limits)
	rec.Timings["probe"] = time.Since(start).Seconds()
	if err != nil {
		if errors.Is(err, jpeg.ErrNotJPEG) {
			rec.Status, rec.Reason, rec.Error = report.StatusSkipped, report.ReasonNotJPEG, err.Error()
			return Plan{}, rec, false
		}
		return Plan{}, Fail(rec, "probe", "corrupt", err), false
	}
	q := jpeg.EstimateFileQuality(info)
	rec.Width, rec.Height = info.Width, info.Height
	rec.QF, rec.Confidence = q.Luma.Quality, string(q.Luma.Confidence)
	if q.Chroma != nil {
		rec.QFChroma = q.Chroma.Quality
	}
	r := s.Routes.Pick(q.Luma.Quality)
	rec.Route, rec.Format = r.Name, s.Format
	rec.Output = OutputURI(s.Out, rec.Rel, s.Format)
	modelSHA := "passthrough"
	if !r.Passthrough {
		rs, man, err := models.Restorer(r)
		if err != nil {
			return Plan{}, Fail(rec, "enhance", "infer_failed", err), false
		}
		_, ens, _ := models.Settings(r)
		tile := rs.Tiles().Tile
		rec.Model, rec.ModelSHA256, rec.Ensemble = man.Name, man.SHA256, ens
		modelSHA = fmt.Sprintf("%s ensemble=%d tile=%d", man.SHA256, ens, tile)
	}
	sum := sha256.Sum256(data)
	tag := fmt.Sprintf("%s input=%s model=%s format=%s q=%d cmyk=%d", TagVersion, hex.EncodeToString(sum[:]), modelSHA, s.Format, s.JPEGQuality, s.CMYK)
	return Plan{Record: rec, Info: info, Route: r, Tag: tag}, report.Record{}, true
}

// TagHeadBytes is how much of an existing output Done needs to read.
const TagHeadBytes = 4096

// Done reports whether the head of an existing output carries the plan's tag.
func Done(head []byte, tag string) bool {
	got, ok := jpeg.ReadTag(head)
	return ok && got == tag
}

// Skip returns the record of an input whose output is already complete.
func Skip(p Plan) report.Record {
	r := p.Record
	r.Status, r.Reason = report.StatusSkipped, report.ReasonDone
	return r
}

// Run decodes, restores (or passes through), encodes and measures one planned input. It returns
// the output bytes and the record, whose status is restored (or skipped/passthrough) on success
// and failed otherwise; the caller writes the bytes and stamps the write.
func Run(ctx context.Context, data []byte, p Plan, s Settings, models *Models) ([]byte, report.Record) {
	rec := p.Record
	if p.Route.Passthrough && s.Format == FormatJPEG {
		// The original bytes with the tag inserted: lossless.
		out, err := jpeg.InsertTag(data, p.Tag)
		if err != nil {
			return nil, Fail(rec, "encode", "encode_failed", err)
		}
		rec.Status, rec.Reason = report.StatusSkipped, report.ReasonPassthrough
		return out, rec
	}
	t := time.Now()
	d, err := jpeg.DecodeParsed(data, p.Info, jpeg.DecodeOptions{Limits: s.Limits, CMYK: s.CMYK})
	rec.Timings["decode"] = time.Since(t).Seconds()
	if err != nil {
		return nil, Fail(rec, "decode", "corrupt", err)
	}
	img := d.Image
	t = time.Now()
	before, blockBefore := measure(img)
	if !p.Route.Passthrough {
		rs, man, err := models.Restorer(p.Route)
		if err != nil {
			return nil, Fail(rec, "enhance", "infer_failed", err)
		}
		var q []float32
		if man.Conditioned() {
			v := jpeg.ModelQTable(p.Info)
			q = v[:]
		}
		rec.Timings["measure"] = time.Since(t).Seconds()
		t = time.Now()
		img, err = rs.Restore(ctx, img, q)
		rec.Timings["enhance"] = time.Since(t).Seconds()
		if err != nil {
			if ctx.Err() != nil {
				return nil, Fail(rec, "enhance", "cancelled", err)
			}
			return nil, Fail(rec, "enhance", "infer_failed", err)
		}
		t = time.Now()
		rec.NRAfter, rec.BlockinessAfter = measure(img)
		rec.Timings["measure"] += time.Since(t).Seconds()
	} else {
		rec.NRAfter, rec.BlockinessAfter = before, blockBefore
		rec.Timings["measure"] = time.Since(t).Seconds()
	}
	rec.NRBefore, rec.BlockinessBefore = before, blockBefore
	// Restore in the stored orientation (the block grid is anchored there), then turn upright
	// and say so in the EXIF.
	md := jpeg.Metadata{ICC: p.Info.ICC, Tag: p.Tag}
	if p.Info.EXIF != nil {
		md.EXIF = p.Info.EXIF
		if p.Info.Orientation > 1 {
			img = jpeg.Orient(img, p.Info.Orientation)
			md.EXIF = jpeg.EXIFWithOrientation(p.Info.EXIF, 1)
		}
	}
	t = time.Now()
	var out []byte
	if s.Format == FormatJPEG {
		out, err = jpeg.EncodeJPEG(img, jpeg.EncodeOptions{Quality: s.JPEGQuality, Subsampling: jpeg.Sub444, Metadata: md})
	} else {
		out, err = jpeg.EncodePNG(img, md, png.BestSpeed)
	}
	rec.Timings["encode"] = time.Since(t).Seconds()
	if err != nil {
		return nil, Fail(rec, "encode", "encode_failed", err)
	}
	if p.Route.Passthrough {
		rec.Status, rec.Reason = report.StatusSkipped, report.ReasonPassthrough
	} else {
		rec.Status = report.StatusRestored
	}
	return out, rec
}

// measure returns the no-reference JPEG quality score and the blockiness of an image, or zeros
// for images too small to score.
func measure(img pix.Image) (score, blockiness float64) {
	r, err := quality.NoReference(img)
	if err != nil {
		return 0, 0
	}
	return r.Score.S, r.Blockiness
}
