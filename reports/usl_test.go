package reports

import (
	"math"
	"testing"
)

func TestFitUSLRecoversCoefficients(t *testing.T) {
	f := func(name string, lambda, sigma, kappa float64, ns []float64, noise float64, tol float64) {
		t.Helper()
		var pts []USLPoint
		truth := USL{Lambda: lambda, Sigma: sigma, Kappa: kappa}
		for i, n := range ns {
			// Deterministic noise: alternating +-noise.
			e := noise
			if i%2 == 1 {
				e = -noise
			}
			pts = append(pts, USLPoint{N: n, X: truth.X(n) * (1 + e)})
		}
		u, err := FitUSL(pts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if u.Method != "full" {
			t.Errorf("%s: method %s", name, u.Method)
		}
		rel := func(got, want float64) float64 { return math.Abs(got-want) / math.Max(want, 1e-12) }
		if rel(u.Lambda, lambda) > tol {
			t.Errorf("%s: lambda %v, want %v", name, u.Lambda, lambda)
		}
		if math.Abs(u.Sigma-sigma) > tol*math.Max(sigma, 0.01) {
			t.Errorf("%s: sigma %v, want %v", name, u.Sigma, sigma)
		}
		if math.Abs(u.Kappa-kappa) > tol*math.Max(kappa, 1e-4)*10 {
			t.Errorf("%s: kappa %v, want %v", name, u.Kappa, kappa)
		}
		if noise == 0 && u.R2 < 0.9999 {
			t.Errorf("%s: R2 %v on exact data", name, u.R2)
		}
		if u.Sigma < 0 || u.Kappa < 0 {
			t.Errorf("%s: negative coefficients %+v", name, u)
		}
	}
	f("contention and coherency", 1000, 0.05, 0.001, []float64{1, 2, 4, 8, 16, 32}, 0, 1e-3)
	f("contention only", 25000, 0.1, 0, []float64{1, 2, 3, 4, 6, 8}, 0, 1e-3)
	f("linear", 500, 0, 0, []float64{1, 2, 4, 8}, 0, 1e-3)
	f("no N=1 point", 2000, 0.02, 0.0005, []float64{2, 4, 8, 16, 24, 48}, 0, 1e-3)
	f("retrograde", 10000, 0.2, 0.02, []float64{1, 2, 3, 4, 6, 8, 12, 16}, 0, 1e-3)
	f("1% noise", 1000, 0.05, 0.001, []float64{1, 2, 4, 8, 16, 32, 64}, 0.01, 0.1)
}

func TestFitUSLUnderdetermined(t *testing.T) {
	f := func(name string, pts []USLPoint, method string, lambda, sigma, kappa float64) {
		t.Helper()
		u, err := FitUSL(pts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if u.Method != method || u.Note == "" {
			t.Errorf("%s: method %q note %q, want %q", name, u.Method, u.Note, method)
		}
		near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-3*math.Max(math.Abs(want), 1e-3) }
		if !near(u.Lambda, lambda) || !near(u.Sigma, sigma) || !near(u.Kappa, kappa) {
			t.Errorf("%s: got lambda %v sigma %v kappa %v, want %v %v %v", name, u.Lambda, u.Sigma, u.Kappa, lambda, sigma, kappa)
		}
	}
	// X(2) = 2*1000/(1+0.25) = 1600.
	f("two counts", []USLPoint{{1, 1000}, {2, 1600}}, "kappa=0", 1000, 0.25, 0)
	// X(2) = 2*1000/(1+2*kappa) = 800 -> kappa = 0.75.
	f("two counts, retrograde", []USLPoint{{1, 1000}, {2, 800}}, "sigma=0", 1000, 0, 0.75)
	f("one count", []USLPoint{{2, 3000}, {2, 3200}}, "linear", 1550, 0, 0)
	if _, err := FitUSL(nil); err == nil {
		t.Error("no points: no error")
	}
	if _, err := FitUSL([]USLPoint{{0, 5}}); err == nil {
		t.Error("N=0: no error")
	}
}

func TestUSLPeakAndWorkers(t *testing.T) {
	u := USL{Lambda: 1000, Sigma: 0.05, Kappa: 0.001}
	if n := u.PeakN(); math.Abs(n-math.Sqrt(0.95/0.001)) > 1e-9 {
		t.Fatalf("PeakN %v", n)
	}
	n, ok := u.WorkersFor(5000, 1000)
	if !ok || u.X(float64(n)) < 5000 || u.X(float64(n-1)) >= 5000 {
		t.Fatalf("WorkersFor(5000) = %d, %v", n, ok)
	}
	if _, ok := u.WorkersFor(u.MaxX()*1.01, 1000); ok {
		t.Fatal("beyond the peak: ok")
	}
	lin := USL{Lambda: 1000}
	if n, ok := lin.WorkersFor(10500, 1000); !ok || n != 11 {
		t.Fatalf("linear WorkersFor = %d %v", n, ok)
	}
}
