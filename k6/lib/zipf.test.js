import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rng } from './rand.js';
import { ZipfTable } from './zipf.js';

test('zipf table: probabilities 1/r^s normalised, sample follows them', () => {
  const z = new ZipfTable(100, 1.1);
  let h = 0;
  for (let r = 1; r <= 100; r++) h += 1 / Math.pow(r, 1.1);
  for (const r of [1, 2, 10, 100]) assert.ok(Math.abs(z.probability(r) - 1 / Math.pow(r, 1.1) / h) < 1e-12, `rank ${r}`);
  const next = rng(7);
  const counts = new Array(101).fill(0);
  const n = 200000;
  for (let i = 0; i < n; i++) counts[z.sample(next())]++;
  assert.equal(counts[0], 0);
  for (const r of [1, 2, 5]) {
    const p = z.probability(r);
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(counts[r] - n * p) < 5 * sd, `rank ${r}: ${counts[r]} vs ${n * p}`);
  }
});

test('zipf table: edges of [0, 1) map to ranks 1 and n; s = 0 is uniform', () => {
  const z = new ZipfTable(10, 0);
  assert.equal(z.sample(0), 1);
  assert.equal(z.sample(0.999999999), 10);
  for (let r = 1; r <= 10; r++) assert.ok(Math.abs(z.probability(r) - 0.1) < 1e-12);
  assert.equal(new ZipfTable(1, 2).sample(0.5), 1);
});

test('zipf table: bad arguments say what is wanted', () => {
  assert.throws(() => new ZipfTable(0, 1), /keys must be a whole number >= 1/);
  assert.throws(() => new ZipfTable(10, -1), /zipf_s must be a finite number >= 0/);
  assert.throws(() => new ZipfTable(10, NaN), /zipf_s/);
});
