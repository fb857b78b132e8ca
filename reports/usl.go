package reports

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/optimize"
)

// USLPoint is one measured throughput X (events/s) at N workers.
type USLPoint struct {
	N float64 `json:"n"`
	X float64 `json:"x"`
}

// USL is Gunther's Universal Scalability Law fitted to throughput against
// workers:
//
//	X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1))
//
// lambda is the throughput of one worker without contention, sigma the
// contention (serial share), kappa the coherency (crosstalk) cost. sigma
// and kappa are >= 0.
type USL struct {
	Lambda float64 `json:"lambda"`
	Sigma  float64 `json:"sigma"`
	Kappa  float64 `json:"kappa"`
	// R2 is the coefficient of determination of the fit on the points (1
	// for an exact fit, which says nothing when the fit is
	// underdetermined).
	R2     float64    `json:"r2"`
	Points []USLPoint `json:"points"`
	// Method is how the coefficients were found: "full" (all three
	// fitted), "kappa=0" (two worker counts: sigma fitted, kappa fixed
	// at 0), "sigma=0" (two worker counts, retrograde: kappa fitted),
	// "linear" (one worker count: sigma = kappa = 0 assumed).
	Method string `json:"method"`
	// Note says what the method means for the answer.
	Note string `json:"note,omitempty"`
}

// X is the model's throughput at n workers.
func (u USL) X(n float64) float64 {
	return u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
}

// PeakN is the worker count of the curve's maximum, N* =
// sqrt((1-sigma)/kappa): +Inf when kappa is 0 (the curve only flattens
// towards lambda/sigma), 1 when sigma >= 1.
func (u USL) PeakN() float64 {
	if u.Sigma >= 1 {
		return 1
	}
	if u.Kappa <= 0 {
		return math.Inf(1)
	}
	return math.Max(1, math.Sqrt((1-u.Sigma)/u.Kappa))
}

// MaxX is the highest throughput the curve reaches: X(N*), or the
// asymptote lambda/sigma when kappa is 0 (+Inf when both are 0).
func (u USL) MaxX() float64 {
	n := u.PeakN()
	if math.IsInf(n, 1) {
		if u.Sigma <= 0 {
			return math.Inf(1)
		}
		return u.Lambda / u.Sigma
	}
	// The integer worker counts around N*.
	return math.Max(u.X(math.Floor(n)), u.X(math.Ceil(n)))
}

// WorkersFor is the fewest whole workers (at most limit) whose modelled
// throughput reaches x; ok is false when none does.
func (u USL) WorkersFor(x float64, limit int) (n int, ok bool) {
	for n = 1; n <= limit; n++ {
		if u.X(float64(n)) >= x {
			return n, true
		}
		if float64(n) > u.PeakN() {
			break // past the peak: only down from here
		}
	}
	return 0, false
}

// FitUSL fits the USL to pts (N >= 1, X > 0) by least squares on the
// relative residuals with gonum's optimize (BFGS on a parametrization by
// squares, so sigma and kappa stay >= 0). With fewer than three distinct
// worker counts the fit is underdetermined and falls back: two counts fit
// lambda and sigma with kappa = 0 (or, when throughput fell from the
// fewer to the more workers, lambda and kappa with sigma = 0); one count
// assumes linear scaling. Method and Note say which.
func FitUSL(pts []USLPoint) (USL, error) {
	var ns []float64
	for _, p := range pts {
		if !(p.N >= 1) || !(p.X > 0) || math.IsInf(p.X, 0) {
			return USL{}, fmt.Errorf("usl: bad point N=%v X=%v (need N >= 1, X > 0)", p.N, p.X)
		}
		if !slices.Contains(ns, p.N) {
			ns = append(ns, p.N)
		}
	}
	if len(pts) == 0 {
		return USL{}, errors.New("usl: no points")
	}
	u := USL{Points: slices.Clone(pts)}
	switch len(ns) {
	case 1:
		var s float64
		for _, p := range pts {
			s += p.X / p.N
		}
		u.Lambda = s / float64(len(pts))
		u.Method = "linear"
		u.Note = "one worker count measured: the fit is underdetermined; linear scaling (sigma = kappa = 0) is assumed, which overstates what more workers give"
	case 2:
		u.Method = "kappa=0"
		u.Note = "two worker counts measured: the three-parameter fit is underdetermined; kappa is fixed at 0 (no retrograde region) and lambda, sigma fitted exactly through the two points"
		fit(&u, false, true)
		if u.Sigma > 1 {
			u.Method = "sigma=0"
			u.Note = "two worker counts measured and throughput fell with more workers: the fit is underdetermined; sigma is fixed at 0 and the fall taken as coherency cost (kappa)"
			fit(&u, true, false)
		}
	default:
		u.Method = "full"
		fit(&u, true, true)
	}
	u.R2 = rSquared(u, pts)
	return u, nil
}

// fit finds lambda and those of sigma, kappa that are free (the others
// are 0), starting from a linearized estimate.
func fit(u *USL, kappaFree, sigmaFree bool) {
	pts := u.Points
	xmax := 0.0
	for _, p := range pts {
		xmax = math.Max(xmax, p.X)
	}
	// lambda0: the best per-worker throughput at the fewest workers.
	nmin := math.Inf(1)
	for _, p := range pts {
		nmin = math.Min(nmin, p.N)
	}
	var l0 float64
	for _, p := range pts {
		if p.N == nmin {
			l0 = math.Max(l0, p.X/p.N)
		}
	}
	s0, k0 := linearEstimate(pts, l0, kappaFree, sigmaFree)
	unpack := func(x []float64) (l, s, k float64) {
		l = x[0] * x[0] * xmax
		if sigmaFree {
			s = x[1] * x[1]
		}
		if kappaFree {
			k = x[2] * x[2]
		}
		return
	}
	cost := func(x []float64) float64 {
		l, s, k := unpack(x)
		m := USL{Lambda: l, Sigma: s, Kappa: k}
		var c float64
		for _, p := range pts {
			r := (m.X(p.N) - p.X) / p.X
			c += r * r
		}
		return c
	}
	prob := optimize.Problem{
		Func: cost,
		Grad: func(grad, x []float64) { fd.Gradient(grad, cost, x, &fd.Settings{Formula: fd.Central}) },
	}
	best := []float64{math.Sqrt(l0 / xmax), math.Sqrt(s0), math.Sqrt(k0)}
	bestC := cost(best)
	starts := [][]float64{best, {best[0], math.Sqrt(0.05), math.Sqrt(0.001)}, {best[0], 0.1, 0.01}}
	for _, x0 := range starts {
		for _, m := range []optimize.Method{&optimize.BFGS{}, &optimize.NelderMead{}} {
			res, err := optimize.Minimize(prob, slices.Clone(x0), &optimize.Settings{MajorIterations: 2000, FuncEvaluations: 20000}, m)
			if res == nil || (err != nil && res.F >= bestC) {
				continue
			}
			if res.F < bestC {
				best, bestC = res.X, res.F
			}
		}
	}
	u.Lambda, u.Sigma, u.Kappa = unpack(best)
}

// linearEstimate is sigma and kappa by linear least squares on
// N*lambda/X - 1 = sigma*(N-1) + kappa*N*(N-1), clamped to >= 0.
func linearEstimate(pts []USLPoint, lambda float64, kappaFree, sigmaFree bool) (s, k float64) {
	var a11, a12, a22, b1, b2 float64
	for _, p := range pts {
		y := p.N*lambda/p.X - 1
		f1, f2 := p.N-1, p.N*(p.N-1)
		a11 += f1 * f1
		a12 += f1 * f2
		a22 += f2 * f2
		b1 += f1 * y
		b2 += f2 * y
	}
	switch {
	case sigmaFree && kappaFree:
		if det := a11*a22 - a12*a12; det > 1e-12 {
			s, k = (b1*a22-b2*a12)/det, (a11*b2-a12*b1)/det
		}
	case sigmaFree && a11 > 0:
		s = b1 / a11
	case kappaFree && a22 > 0:
		k = b2 / a22
	}
	return math.Max(s, 1e-6), math.Max(k, 1e-9)
}

// rSquared is 1 - SSres/SStot of the model on pts (1 when every X is the
// same and the model hits them).
func rSquared(u USL, pts []USLPoint) float64 {
	var mean float64
	for _, p := range pts {
		mean += p.X
	}
	mean /= float64(len(pts))
	var res, tot float64
	for _, p := range pts {
		d := p.X - u.X(p.N)
		res += d * d
		tot += (p.X - mean) * (p.X - mean)
	}
	if tot == 0 {
		if res < 1e-9*mean*mean {
			return 1
		}
		return 0
	}
	return 1 - res/tot
}
