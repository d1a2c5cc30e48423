package inference

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"jpegrestore/pix"
)

// Config configures a Restorer.
type Config struct {
	TileConfig
	// Ensemble is the self-ensemble size: 1 (none), 2 (identity and transpose), 4 (and the two
	// 180° turns of each), 8 (all flips and rotations). 0 means 1.
	Ensemble int
	// MaxInFlight bounds the tiles of one image submitted to the engine at once; 0 means 8. With
	// the batch size it bounds memory: each tile holds 3×Tile²×4 bytes in and out.
	MaxInFlight int
}

// Restorer restores images with one model through an Engine. It is safe for concurrent use.
type Restorer struct {
	eng      Engine
	man      *Manifest
	tiles    TileConfig
	ensemble []transform
	inflight int
}

// NewRestorer checks the config against the model and returns a Restorer.
func NewRestorer(eng Engine, man *Manifest, cfg Config) (*Restorer, error) {
	if err := man.Validate(); err != nil {
		return nil, err
	}
	tc, err := cfg.TileConfig.Resolve(man)
	if err != nil {
		return nil, err
	}
	if cfg.Ensemble == 0 {
		cfg.Ensemble = 1
	}
	if err := validEnsemble(cfg.Ensemble); err != nil {
		return nil, err
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 8
	}
	if cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("MaxInFlight %d < 0", cfg.MaxInFlight)
	}
	return &Restorer{eng: eng, man: man, tiles: tc, ensemble: ensembleSets[cfg.Ensemble], inflight: cfg.MaxInFlight}, nil
}

// Tiles returns the resolved tile size and overlap.
func (r *Restorer) Tiles() TileConfig { return r.tiles }

// Planar is a float32 image in CHW order, values nominally in [0,1].
type Planar struct {
	C, H, W int
	Data    []float32
}

// errQTable is returned when the conditioning vector and the model disagree.
var errQTable = errors.New("inference: qtable")

func (r *Restorer) checkQ(q []float32) error {
	switch {
	case r.man.Conditioned() && len(q) != QTableLen:
		return fmt.Errorf("%w: model %s needs %d values, got %d", errQTable, r.man.Name, QTableLen, len(q))
	case !r.man.Conditioned() && q != nil:
		return fmt.Errorf("%w: model %s takes no conditioning", errQTable, r.man.Name)
	}
	return nil
}

// Restore restores an 8-bit gray or RGB image; q is the file's conditioning vector
// (jpeg.ModelQTable) or nil for models without conditioning. A gray image runs as three equal
// channels and comes back gray (the mean of the three outputs). Values are rounded half to even,
// as numpy and PyTorch round.
func (r *Restorer) Restore(ctx context.Context, img pix.Image, q []float32) (pix.Image, error) {
	if err := img.Validate(); err != nil {
		return pix.Image{}, err
	}
	if img.W == 0 || img.H == 0 {
		return pix.Image{}, fmt.Errorf("inference: empty image %dx%d", img.W, img.H)
	}
	out := pix.New(img.W, img.H, img.C)
	err := r.run(ctx, img.W, img.H, q, bytesSource(img), bytesSink(out))
	return out, err
}

// RestorePlanar restores a float image with three channels and returns the model's float output,
// unquantized and unclamped (tests compare it with whole-image inference).
func (r *Restorer) RestorePlanar(ctx context.Context, in Planar, q []float32) (Planar, error) {
	if in.C != 3 || len(in.Data) != 3*in.H*in.W || in.H == 0 || in.W == 0 {
		return Planar{}, fmt.Errorf("inference: planar image %dx%dx%d with %d values", in.C, in.H, in.W, len(in.Data))
	}
	out := Planar{C: 3, H: in.H, W: in.W, Data: make([]float32, len(in.Data))}
	err := r.run(ctx, in.W, in.H, q, planarSource(in), planarSink(out))
	return out, err
}

// source fills dst (3×th×tw CHW) with the tile whose padded-image rows and columns are ys and xs
// (already reflected into the image).
type source func(dst []float32, ys, xs []int)

// sink stores the kept part of a restored tile: rows ys and columns xs of the tile land at image
// rows oy.. and columns ox...
type sink func(tile []float32, th, tw, ty0, tx0, oy, ox, kh, kw int)

func (r *Restorer) run(ctx context.Context, w, h int, q []float32, src source, dst sink) error {
	if err := r.checkQ(q); err != nil {
		return err
	}
	pm := r.man.PadMultiple
	ph, pw := roundUp(h, pm), roundUp(w, pm)
	rows := splitAxis(ph, r.tiles.Tile, r.tiles.Overlap)
	cols := splitAxis(pw, r.tiles.Tile, r.tiles.Overlap)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, r.inflight)
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
submit:
	for _, ry := range rows {
		for _, cx := range cols {
			// Only tiles that keep pixels inside the image run; pad-only tiles are skipped.
			if ry.keepFrom >= h || cx.keepFrom >= w {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break submit
			}
			wg.Add(1)
			go func(ry, cx span) {
				defer func() { <-sem; wg.Done() }()
				if err := r.tile(ctx, h, w, ry, cx, q, src, dst); err != nil {
					fail(err)
				}
			}(ry, cx)
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// tile runs one tile through every ensemble transform and stores the average of the kept part.
func (r *Restorer) tile(ctx context.Context, h, w int, ry, cx span, q []float32, src source, dst sink) error {
	th, tw := ry.size, cx.size
	ys, xs := make([]int, th), make([]int, tw)
	for i := range ys {
		ys[i] = reflectIndex(ry.start+i, h)
	}
	for i := range xs {
		xs[i] = reflectIndex(cx.start+i, w)
	}
	x := tileBufs.Get(3 * th * tw)
	defer tileBufs.Put(x)
	src(x, ys, xs)
	var (
		acc  []float32
		outs [][]float32 // the engine's buffers, released once the tile is stored
	)
	if rel, ok := r.eng.(Releaser); ok {
		defer func() {
			for _, y := range outs {
				rel.Release(y)
			}
		}()
	}
	for _, t := range r.ensemble {
		in, ih, iw := t.apply(x, 3, th, tw)
		y, err := r.eng.Infer(ctx, in, ih, iw, q)
		if err != nil {
			return err
		}
		if len(y) != len(in) {
			return fmt.Errorf("inference: model %s returned %d values for a 3x%dx%d tile", r.man.Name, len(y), ih, iw)
		}
		outs = append(outs, y)
		back, _, _ := inverse[t].apply(y, 3, ih, iw)
		if acc == nil {
			acc = back
			if len(r.ensemble) > 1 && t == 0 {
				acc = append([]float32(nil), back...) // back is the engine's buffer
			}
			continue
		}
		for i, v := range back {
			acc[i] += v
		}
	}
	if n := float32(len(r.ensemble)); n > 1 {
		for i := range acc {
			acc[i] /= n
		}
	}
	kh := min(ry.keepTo, h) - ry.keepFrom
	kw := min(cx.keepTo, w) - cx.keepFrom
	dst(acc, th, tw, ry.keepFrom-ry.start, cx.keepFrom-cx.start, ry.keepFrom, cx.keepFrom, kh, kw)
	return nil
}

func bytesSource(img pix.Image) source {
	return func(dst []float32, ys, xs []int) {
		th, tw := len(ys), len(xs)
		plane := th * tw
		for i, y := range ys {
			row := img.Pix[y*img.W*img.C:]
			for j, x := range xs {
				o := i*tw + j
				if img.C == 1 {
					v := float32(row[x]) / 255
					dst[o], dst[plane+o], dst[2*plane+o] = v, v, v
					continue
				}
				p := row[3*x : 3*x+3]
				dst[o], dst[plane+o], dst[2*plane+o] = float32(p[0])/255, float32(p[1])/255, float32(p[2])/255
			}
		}
	}
}

func planarSource(in Planar) source {
	return func(dst []float32, ys, xs []int) {
		th, tw := len(ys), len(xs)
		for c := 0; c < 3; c++ {
			plane := in.Data[c*in.H*in.W:]
			for i, y := range ys {
				d := dst[(c*th+i)*tw:]
				for j, x := range xs {
					d[j] = plane[y*in.W+x]
				}
			}
		}
	}
}

// toByte quantizes a model output: clamp to [0,1], scale to 255, round half to even (NaN → 0).
func toByte(v float32) uint8 {
	x := float64(v) * 255 // exact: a float32 times 255 fits a float64
	switch {
	case x >= 255:
		return 255
	case x > 0:
		// Adding 2⁵² leaves no fraction bits, so the FPU rounds half to even; the sum minus 2⁵²
		// is that integer. (math.RoundToEven costs twice as much here.)
		return uint8((x + 0x1p52) - 0x1p52)
	}
	return 0
}

func bytesSink(img pix.Image) sink {
	return func(t []float32, th, tw, ty0, tx0, oy, ox, kh, kw int) {
		plane := th * tw
		for i := 0; i < kh; i++ {
			s := (ty0+i)*tw + tx0
			r, g, b := t[s:s+kw], t[plane+s:plane+s+kw], t[2*plane+s:2*plane+s+kw]
			o := (oy+i)*img.W + ox
			if img.C == 1 {
				dst := img.Pix[o : o+kw]
				for j := range dst {
					dst[j] = toByte((r[j] + g[j] + b[j]) / 3)
				}
				continue
			}
			dst := img.Pix[3*o : 3*(o+kw)]
			for j := range r {
				d := dst[3*j : 3*j+3]
				d[0], d[1], d[2] = toByte(r[j]), toByte(g[j]), toByte(b[j])
			}
		}
	}
}

func planarSink(out Planar) sink {
	return func(t []float32, th, tw, ty0, tx0, oy, ox, kh, kw int) {
		for c := 0; c < 3; c++ {
			for i := 0; i < kh; i++ {
				copy(out.Data[(c*out.H+oy+i)*out.W+ox:][:kw], t[(c*th+ty0+i)*tw+tx0:][:kw])
			}
		}
	}
}
