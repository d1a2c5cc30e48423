package enhance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

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
// same tag is complete (writes are atomic) and is not redone.
func TagFor(inputSHA string, set *Setting, s Settings) string {
	model := "passthrough"
	if set != nil {
		model = fmt.Sprintf("%s ensemble=%d tile=%d", set.Manifest.SHA256, set.Ensemble, set.Tile)
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
