package enhance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"jpegrestore/inference"
	"jpegrestore/jpeg"
)

// TagVersion starts every output tag; bump it when outputs made by older code must be redone.
const TagVersion = "jpegrestore/v1"

// contentHash is the hex sha256 of an input's bytes, as its output's tag names it.
func contentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TagFor identifies an output: the input's content hash, the model that restored it (set nil: a
// passthrough) with its ensemble and tile, and the output settings. An existing output with the
// same tag is complete (writes are atomic) and is not redone. The DCT projection's alpha is named
// when there was one (qcs=0.4, or qcs=auto:0.4 with its gate), so outputs made without it, or with
// another, are redone. An int8 model's tag says so
// (weights=int8-qdq) besides its sha256; a float model's says nothing more, as before int8 came.
func TagFor(inputSHA string, set *Setting, s Settings) string {
	model := "passthrough"
	if set != nil {
		model = set.Manifest.SHA256
		if set.Manifest.Int8() {
			model += " weights=" + inference.WeightsInt8
		}
		model += fmt.Sprintf(" ensemble=%d tile=%d", set.Ensemble, set.Tile)
		if set.QCS > 0 {
			model += " qcs=" + qcsName(set.QCS, set.QCSAuto)
		}
	}
	return fmt.Sprintf("%s input=%s model=%s format=%s q=%d cmyk=%d", TagVersion, inputSHA, model, s.Format, s.JPEGQuality, s.CMYK)
}

// TagHeadBytes is how much of an existing output Done needs to read.
const TagHeadBytes = 4096

// Done reports whether the head of an existing output carries the tag.
func Done(head []byte, tag string) bool {
	got, ok := jpeg.ReadTag(head)
	return ok && got == tag
}
