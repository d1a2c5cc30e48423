package inference

import "fmt"

// span is one tile along one axis: the tile covers [start, start+size) of the padded image and
// supplies the output pixels [keepFrom, keepTo).
type span struct {
	start, size      int
	keepFrom, keepTo int
}

// splitAxis cuts a padded length into the fewest tiles of at most the given size that overlap by
// at least overlap pixels (length, tile and overlap are multiples of 16). The tiles of one axis all
// have the same size — the smallest multiple of 16 that still covers the length with that many
// tiles, so little work is spent on overlap — and start on multiples of 16, spread as evenly as
// the grid allows. Neighbouring tiles hand over in the middle of their overlap, so every kept
// pixel lies at least overlap/2 pixels (rounded down) inside its tile. A length up to one tile is a
// single tile.
func splitAxis(length, tile, overlap int) []span {
	if length <= tile {
		return []span{{0, length, 0, length}}
	}
	n := ceilDiv(length-overlap, tile-overlap)
	size := roundUp(ceilDiv(length-overlap, n)+overlap, 16)
	// (n-1)(size-overlap) ≥ length-size, so spreading the 16-pixel steps of length-size evenly
	// over n-1 gaps keeps every gap ≤ size-overlap.
	steps := (length - size) / 16
	spans := make([]span, n)
	for i := range spans {
		spans[i] = span{start: 16 * (i * steps / (n - 1)), size: size}
	}
	for i := 0; i+1 < n; i++ {
		mid := (spans[i+1].start + spans[i].start + size) / 2
		spans[i].keepTo, spans[i+1].keepFrom = mid, mid
	}
	spans[n-1].keepTo = length
	return spans
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// TileConfig says how images are cut for the model.
type TileConfig struct {
	// Tile is the tile side in pixels (the model's input size), a multiple of 16. 0 means
	// DefaultTile, or for a model whose overlap exceeds 3/16 of that the smallest tile it does
	// not exceed: the fast U-Net's overlap of 192 px would make a 512 tile 45% slower than the
	// whole image untiled, a 1024 tile 7% (BenchmarkTilingOverhead, 12 MP, 2 cores).
	Tile int
	// Overlap is the overlap of neighbouring tiles in pixels, a multiple of 16; 0 means the
	// manifest's measured overlap, else the smallest multiple of 16 that is at least the
	// receptive field minus one, which makes tiled output equal whole-image output.
	Overlap int
}

// DefaultTile is the default tile side.
const DefaultTile = 512

// Resolve fills the defaults for a model and checks the values.
func (c TileConfig) Resolve(m *Manifest) (TileConfig, error) {
	if c.Overlap == 0 {
		c.Overlap = m.Overlap
	}
	if c.Overlap == 0 {
		c.Overlap = roundUp(m.ReceptiveField-1, 16)
	}
	if c.Tile == 0 {
		c.Tile = roundUp(max(DefaultTile, ceilDiv(16*c.Overlap, 3)), m.PadMultiple)
	}
	switch {
	case c.Tile%m.PadMultiple != 0 || c.Tile <= 0:
		return c, fmt.Errorf("tile %d is not a positive multiple of %d", c.Tile, m.PadMultiple)
	case c.Overlap < 0 || c.Overlap%16 != 0:
		return c, fmt.Errorf("overlap %d is not a multiple of 16", c.Overlap)
	case c.Overlap >= c.Tile:
		return c, fmt.Errorf("overlap %d must be smaller than the tile %d", c.Overlap, c.Tile)
	}
	return c, nil
}

func roundUp(v, m int) int {
	if v <= 0 {
		return 0
	}
	return (v + m - 1) / m * m
}

// reflectIndex maps a coordinate of the padded image to the source image of length n: mirror
// reflection without repeating the edge (numpy's "reflect"), repeated as often as needed, so any
// padding works even for images narrower than the pad.
func reflectIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}
