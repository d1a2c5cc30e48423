package quality

import "math"

// SSIM window and stabilising constants, as in FBCNN's ssim(): an 11×11
// Gaussian window with σ = 1.5 and C1 = (0.01·255)², C2 = (0.03·255)².
const (
	ssimWin    = 11
	ssimRadius = ssimWin / 2
	ssimSigma  = 1.5
	ssimC1     = (0.01 * 255) * (0.01 * 255)
	ssimC2     = (0.03 * 255) * (0.03 * 255)
)

// ssimKernel is the 1-D Gaussian whose outer product is the SSIM window.
var ssimKernel = gaussianKernel(ssimWin, ssimSigma)

// gaussianKernel returns the n-tap Gaussian with standard deviation sigma,
// normalised to sum 1, computed the way OpenCV's getGaussianKernel does for
// float64 kernels (exp(-x²/(2σ²)) for x = i-(n-1)/2, then scaled by the
// reciprocal of the sum).
func gaussianKernel(n int, sigma float64) []float64 {
	k := make([]float64, n)
	scale2X := -0.5 / (sigma * sigma)
	sum := 0.0
	for i := range k {
		x := float64(i) - float64(n-1)*0.5
		k[i] = math.Exp(scale2X * x * x)
		sum += k[i]
	}
	inv := 1 / sum
	for i := range k {
		k[i] *= inv
	}
	return k
}

// SSIM returns the structural similarity index of ref and dist, in [-1, 1]
// (1 for identical images; JPEG images typically score 0.6–0.98).
//
// It is calculate_ssim of FBCNN's utils/utils_image.py with border 0 (the
// MATLAB ssim_index of Wang et al. on the 0..255 scale): per channel, local
// means, variances and the covariance are taken with an 11×11 Gaussian
// window (σ = 1.5) over the "valid" region only, i.e. the SSIM map covers
// the (W-10)×(H-10) positions where the window fits inside the image, and
// the channel's SSIM is the mean of the map. For RGB the result is the mean
// of the three channel SSIMs. The metric is symmetric in its arguments.
//
// The images must have the same size and channel count and be at least
// 11×11 pixels.
func SSIM(ref, dist Image) (float64, error) {
	if err := checkPair(ref, dist); err != nil {
		return 0, err
	}
	if err := checkMinSize(ref, ssimWin, "SSIM"); err != nil {
		return 0, err
	}
	s := newSSIMState(ref.W)
	total := 0.0
	for c := 0; c < ref.C; c++ {
		total += s.channel(ref, dist, c)
	}
	return total / float64(ref.C), nil
}

// ssimState holds the scratch rows of the separable filtering: the input
// rows of one channel, a ring of ssimWin horizontally filtered rows for
// each of the five filtered quantities (x, y, x², y², xy) and one
// vertically filtered row of each.
type ssimState struct {
	x, y, xx, yy, xy []float64    // one input row, len W
	ring             [5][]float64 // ssimWin rows of len W-10 each
	acc              [5][]float64 // vertical-pass accumulators, len W-10
}

func newSSIMState(w int) *ssimState {
	s := &ssimState{}
	rows := make([]float64, 5*w)
	s.x, s.y, s.xx, s.yy, s.xy = rows[:w], rows[w:2*w], rows[2*w:3*w], rows[3*w:4*w], rows[4*w:]
	ow := w - 2*ssimRadius
	ring := make([]float64, 5*(ssimWin+1)*ow)
	for q := range s.ring {
		s.ring[q] = ring[q*ssimWin*ow : (q+1)*ssimWin*ow]
	}
	acc := ring[5*ssimWin*ow:]
	for q := range s.acc {
		s.acc[q] = acc[q*ow : (q+1)*ow]
	}
	return s
}

// channel returns the mean SSIM map of channel c of a and b.
func (s *ssimState) channel(a, b Image, c int) float64 {
	w, h, nc := a.W, a.H, a.C
	ow, oh := w-2*ssimRadius, h-2*ssimRadius
	k := (*[ssimWin]float64)(ssimKernel)
	sum := 0.0
	for r := 0; r < h; r++ {
		// Load input row r and the products.
		pa, pb := a.Pix[r*w*nc:(r+1)*w*nc], b.Pix[r*w*nc:(r+1)*w*nc]
		for i := 0; i < w; i++ {
			x, y := float64(pa[i*nc+c]), float64(pb[i*nc+c])
			s.x[i], s.y[i], s.xx[i], s.yy[i], s.xy[i] = x, y, x*x, y*y, x*y
		}
		// Horizontal pass into ring slot r mod ssimWin.
		off := (r % ssimWin) * ow
		hx, hy := s.ring[0][off:off+ow], s.ring[1][off:off+ow]
		hxx, hyy, hxy := s.ring[2][off:off+ow], s.ring[3][off:off+ow], s.ring[4][off:off+ow]
		for o := range hx {
			wx := (*[ssimWin]float64)(s.x[o:])
			wy := (*[ssimWin]float64)(s.y[o:])
			wxx := (*[ssimWin]float64)(s.xx[o:])
			wyy := (*[ssimWin]float64)(s.yy[o:])
			wxy := (*[ssimWin]float64)(s.xy[o:])
			var vx, vy, vxx, vyy, vxy float64
			for t, kv := range k {
				vx += kv * wx[t]
				vy += kv * wy[t]
				vxx += kv * wxx[t]
				vyy += kv * wyy[t]
				vxy += kv * wxy[t]
			}
			hx[o], hy[o], hxx[o], hyy[o], hxy[o] = vx, vy, vxx, vyy, vxy
		}
		if r < ssimWin-1 {
			continue
		}
		// Vertical pass for output row r-10 over rows r-10..r, one input
		// row at a time into the accumulators, then the map.
		top := r - (ssimWin - 1)
		acc := s.acc
		for q := range acc {
			clear(acc[q])
		}
		for t, kv := range k {
			so := ((top + t) % ssimWin) * ow
			for q, dst := range acc {
				src := s.ring[q][so : so+len(dst)]
				for o, v := range src {
					dst[o] += kv * v
				}
			}
		}
		m1, m2, exx, eyy, exy := acc[0], acc[1][:len(acc[0])], acc[2][:len(acc[0])], acc[3][:len(acc[0])], acc[4][:len(acc[0])]
		for o, mu1 := range m1 {
			mu2 := m2[o]
			mu1sq, mu2sq, mu12 := mu1*mu1, mu2*mu2, mu1*mu2
			s1 := exx[o] - mu1sq
			s2 := eyy[o] - mu2sq
			s12 := exy[o] - mu12
			sum += ((2*mu12 + ssimC1) * (2*s12 + ssimC2)) /
				((mu1sq + mu2sq + ssimC1) * (s1 + s2 + ssimC2))
		}
	}
	return sum / float64(ow*oh)
}
