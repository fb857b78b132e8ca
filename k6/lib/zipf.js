// Zipf-distributed key ranks from a precomputed cumulative table: rank r
// (1..n) has weight 1/r^s. Pure: imports nothing.

// ZipfTable holds the cumulative weights of ranks 1..n for exponent s
// (s = 0 is uniform). Build it once in the init context; sample is
// O(log n).
export class ZipfTable {
  constructor(n, s) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`zipf: keys must be a whole number >= 1, got ${n}`);
    if (!(s >= 0) || !Number.isFinite(s)) throw new Error(`zipf: zipf_s must be a finite number >= 0, got ${s}`);
    this.n = n;
    this.s = s;
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 1; r <= n; r++) {
      sum += 1 / Math.pow(r, s);
      this.cdf[r - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.cdf[i] /= sum;
    this.cdf[n - 1] = 1;
  }

  // probability is the share of rank r (1..n).
  probability(r) {
    return this.cdf[r - 1] - (r > 1 ? this.cdf[r - 2] : 0);
  }

  // sample maps u, uniform in [0, 1), to a rank in 1..n.
  sample(u) {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo + 1;
  }
}
