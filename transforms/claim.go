package transforms

import (
	"cmp"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"jpegrestore/enhance"
)

func init() {
	register.DoFn2x0[enhance.Input, func(string, enhance.Input)](&outputKeyFn{})
	register.Emitter2[string, enhance.Input]()
	register.Function3x0[string, func(*enhance.Input) bool, func(enhance.Input)](claim)
	register.Iter1[enhance.Input]()
}

// ClaimOutputs gives every output name to one input. Inputs whose outputs would share a name
// (a.jpg, a.jpeg and a.JPG all become a.png; the output name drops the extension) are grouped by
// that name: the first by byte order of its path keeps it, and the others are marked
// OutputTakenBy it, so that their journeys record them as failed instead of overwriting it, and
// the choice does not depend on the order inputs arrive in. The grouping (a GroupByKey on the
// output name) also spreads the inputs over workers.
func ClaimOutputs(s beam.Scope, set enhance.Settings, inputs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.ClaimOutputs")
	keyed := beam.ParDo(s, &outputKeyFn{Out: set.Out, Format: set.Format}, inputs)
	return beam.ParDo(s, claim, beam.GroupByKey(s, keyed))
}

type outputKeyFn struct {
	Out    string `json:"out"`
	Format string `json:"format"`
}

func (f *outputKeyFn) ProcessElement(in enhance.Input, emit func(string, enhance.Input)) {
	emit(enhance.OutputURI(f.Out, enhance.RelOf(in), f.Format), in)
}

// claim emits the inputs of one output name: the first by path as it is, the others marked.
func claim(_ string, inputs func(*enhance.Input) bool, emit func(enhance.Input)) {
	var group []enhance.Input
	var in enhance.Input
	for inputs(&in) {
		group = append(group, in)
	}
	slices.SortFunc(group, func(a, b enhance.Input) int { return cmp.Compare(a.URI, b.URI) })
	for i, in := range group {
		if i > 0 {
			in.OutputTakenBy = enhance.RelOf(group[0])
		}
		emit(in)
	}
}
