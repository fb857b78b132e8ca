package reports

import (
	"math"
	"slices"
)

// Rank statistics of the regression gate: a one-sided Mann-Whitney U test
// between the runs of a baseline and the runs of a candidate, one value a
// run for each metric.

// mannWhitney is the one-sided Mann-Whitney U test of "y is greater than
// x": U counts the pairs (x_i, y_j) with y_j > x_i (ties count a half),
// and p is the chance of a U at least as large when x and y come from one
// distribution. The p-value is exact (every arrangement of the ranks
// counted) when there are no ties and at most 40 values, else the normal
// approximation with tie and continuity corrections.
func mannWhitney(x, y []float64) (u, p float64) {
	n, m := len(x), len(y)
	if n == 0 || m == 0 {
		return 0, 1
	}
	ties := false
	for _, a := range x {
		for _, b := range y {
			switch {
			case b > a:
				u++
			case b == a:
				u += 0.5
				ties = true
			}
		}
	}
	if !ties && n+m <= 40 {
		return u, exactUTail(n, m, int(u))
	}
	// Normal approximation; the tie correction uses the tied groups of
	// the pooled values.
	all := append(slices.Clone(x), y...)
	slices.Sort(all)
	var tieSum float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j] == all[i] {
			j++
		}
		t := float64(j - i)
		tieSum += t*t*t - t
		i = j
	}
	N := float64(n + m)
	mean := float64(n*m) / 2
	variance := float64(n*m) / 12 * ((N + 1) - tieSum/(N*(N-1)))
	if variance <= 0 {
		return u, 1
	}
	z := (u - mean - 0.5) / math.Sqrt(variance)
	return u, 0.5 * math.Erfc(z/math.Sqrt2)
}

// exactUTail is P(U >= u) for samples of n and m values without ties: the
// share of the C(n+m, n) arrangements of the ranks with at least u pairs
// in y's favour.
func exactUTail(n, m, u int) float64 {
	// counts[i][j][k]: arrangements of i x-values and j y-values with U=k,
	// built one value at a time (a y placed last beats all i x-values).
	maxU := n * m
	prev := make([][]float64, m+1) // i-1 row
	cur := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		cur[j] = make([]float64, maxU+1)
	}
	for j := 0; j <= m; j++ {
		prev[j][0] = 1 // no x-values: U = 0
	}
	for i := 1; i <= n; i++ {
		for j := 0; j <= m; j++ {
			for k := range cur[j] {
				c := prev[j][k] // the largest value is an x: U unchanged
				if j > 0 && k >= i {
					c += cur[j-1][k-i] // the largest is a y: beats the i x-values
				}
				cur[j][k] = c
			}
		}
		prev, cur = cur, prev
	}
	var tail, total float64
	for k, c := range prev[m] {
		total += c
		if k >= u {
			tail += c
		}
	}
	return tail / total
}

// minUTail is the smallest p-value a one-sided rank test of n against m
// values can reach: 1 / C(n+m, n).
func minUTail(n, m int) float64 {
	if n == 0 || m == 0 {
		return 1
	}
	lc, _ := math.Lgamma(float64(n + m + 1))
	ln, _ := math.Lgamma(float64(n + 1))
	lm, _ := math.Lgamma(float64(m + 1))
	return math.Exp(-(lc - ln - lm))
}

// median of v (nil: 0).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
