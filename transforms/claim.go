package transforms

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
	"jpegrestore/report"
	"jpegrestore/storage"
)

func init() {
	register.DoFn2x0[enhance.Input, func(string, enhance.Input)](&outputKeyFn{})
	register.Emitter2[string, enhance.Input]()
	register.DoFn3x1[context.Context, string, func(string, int64), error](&listOutputsFn{})
	register.Emitter2[string, int64]()
	register.DoFn3x1[context.Context, string, func(string, report.Record), error](&readRecordsFn{})
	register.Emitter2[string, report.Record]()
	register.DoFn7x0[context.Context, string, func(*enhance.Input) bool, func(*int64) bool, func(*report.Record) bool,
		func(enhance.Input), func(report.Record)](&claimFn{})
	register.Iter1[enhance.Input]()
	register.Iter1[int64]()
	register.Iter1[report.Record]()
}

// ClaimOutputs groups the inputs, the output root's listing (ListOutputs) and the previous run's
// records (ReadRecords) by output name, in one CoGroupByKey, which also spreads the inputs over
// workers. For each output name:
//   - it gives the name to one input: of inputs whose outputs would share it (a.jpg, a.jpeg and
//     a.JPG all become a.png), the first by URI keeps it, whatever order they arrive in, and the
//     others are marked OutputTakenBy it, so their journeys record them as failed instead of
//     overwriting it;
//   - it settles, from the listings alone, an input a rerun is done with (enhance.Journey.Resume:
//     same listed version, output there with the size and tag it had): its record comes out on
//     settled, and the input is never read.
//
// The other inputs come out on restore, with the listed size of their output.
func ClaimOutputs(s beam.Scope, cfg RestoreConfig, inputs, outputs, previous beam.PCollection) (restore, settled beam.PCollection) {
	s = s.Scope("transforms.ClaimOutputs")
	keyed := beam.ParDo(s, &outputKeyFn{Out: cfg.Settings.Out, Format: cfg.Settings.Format}, inputs)
	grouped := beam.CoGroupByKey(s, keyed, outputs, previous)
	return beam.ParDo2(s, &claimFn{Config: cfg}, grouped)
}

type outputKeyFn struct {
	Out    string `json:"out"`
	Format string `json:"format"`
}

func (f *outputKeyFn) ProcessElement(in enhance.Input, emit func(string, enhance.Input)) {
	emit(enhance.OutputURI(f.Out, enhance.RelOf(in), f.Format), in)
}

type claimFn struct {
	Config RestoreConfig `json:"config"`

	journey *enhance.Journey // tells Resume: the settings and the models' manifests, no engine
}

func (f *claimFn) Setup() {
	f.journey = &enhance.Journey{Settings: f.Config.Settings, Models: enhance.NewModels(f.Config.Models, nil)}
}

func (f *claimFn) ProcessElement(ctx context.Context, _ string, inputs func(*enhance.Input) bool, sizes func(*int64) bool,
	prevs func(*report.Record) bool, restore func(enhance.Input), settled func(report.Record)) {
	var group []enhance.Input
	var in enhance.Input
	for inputs(&in) {
		group = append(group, in)
	}
	if len(group) == 0 {
		return // an output, or an old record, whose input is gone
	}
	group = claim(group)
	owner := &group[0]
	sizes(&owner.OutputBytes)
	owner.OutputListed = true
	var prev report.Record
	found := false
	for !found && prevs(&prev) {
		found = prev.URI == owner.URI
	}
	if found {
		if rec, ok := f.journey.Resume(*owner, prev); ok {
			recordEmitter(ctx, settled)(rec)
			group = group[1:]
		} else if b, err := json.Marshal(enhance.Kept(prev)); err == nil {
			owner.Previous = string(b)
		}
	}
	for _, in := range group {
		restore(in)
	}
}

// claim sorts the inputs of one output name by URI and marks all but the first taken by it.
func claim(group []enhance.Input) []enhance.Input {
	slices.SortFunc(group, func(a, b enhance.Input) int { return cmp.Compare(a.URI, b.URI) })
	for i := 1; i < len(group); i++ {
		group[i].OutputTakenBy = enhance.RelOf(group[0])
	}
	return group
}

// ListOutputs lists the output root: every object's size, keyed by URI, skipping anything under
// the exclude prefixes (the report folder). A root that does not exist (yet) lists nothing.
func ListOutputs(s beam.Scope, out string, exclude []string) beam.PCollection {
	s = s.Scope("transforms.ListOutputs")
	return beam.ParDo(s, &listOutputsFn{Exclude: exclude}, beam.Create(s, out))
}

type listOutputsFn struct {
	Exclude []string `json:"exclude"`
}

func (f *listOutputsFn) ProcessElement(ctx context.Context, out string, emit func(string, int64)) error {
	err := storage.Match(ctx, out, func(o storage.Object) error {
		if !excluded(o.URI, f.Exclude) {
			emit(o.URI, o.Size)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // nothing there (yet); if nothing can be written there either, the writes say so
	}
	return err
}

// ReadRecords reads a records file (a previous run's records.jsonl), keyed by each record's
// output; a file that does not exist yet reads as nothing, and a line that does not parse is
// passed over (its input is then read and decided again). It streams: memory does not grow with
// the file.
func ReadRecords(s beam.Scope, uri string) beam.PCollection {
	s = s.Scope("transforms.ReadRecords")
	return beam.ParDo(s, &readRecordsFn{}, beam.Create(s, uri))
}

type readRecordsFn struct{}

func (f *readRecordsFn) ProcessElement(ctx context.Context, uri string, emit func(string, report.Record)) error {
	r, err := storage.Open(ctx, uri)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rec report.Record
		// A line that does not parse only costs its input a read.
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Output != "" && rec.InputVersion != "" {
			emit(rec.Output, rec)
		}
	}
	return sc.Err()
}
