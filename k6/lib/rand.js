// Seeded pseudo-random numbers for the event generator: small, fast and the
// same in k6 (sobek) and Node. Pure: imports nothing.

// mix32 is a 32-bit integer hash (the finaliser of MurmurHash3): it spreads
// nearby inputs (seed, iteration) over unrelated states.
export function mix32(h) {
  h = h | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// seedOf combines integers (a seed, an iteration number, ...) into one 32-bit
// seed. Numbers above 2^32 (long runs' iteration counts) keep their high bits.
export function seedOf(...parts) {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const n = Math.floor(Number(p)) || 0;
    h = mix32(h ^ mix32(n >>> 0));
    h = mix32(h ^ mix32(Math.floor(n / 4294967296)));
  }
  return h;
}

// rng is a mulberry32 generator: rng(seed)() is uniform in [0, 1).
export function rng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// intn is a uniform integer in [0, n) from next.
export function intn(next, n) {
  return Math.floor(next() * n);
}
