import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRunId, defaultRunId, eventId, idPrefix } from './ids.js';
import { mix32, rng, seedOf } from './rand.js';

test('ids: unique over iterations, indexes and scenarios; all start with the run prefix', () => {
  const seen = new Set();
  for (const sc of ['', 'a', 'b']) {
    for (let it = 0; it < 200; it++) {
      for (let i = 0; i < 20; i++) {
        const id = eventId('r1', sc, it, i);
        assert.ok(id.startsWith(idPrefix('r1')));
        assert.ok(!seen.has(id), id);
        seen.add(id);
      }
    }
  }
  // Iteration 1 index 11 and iteration 11 index 1 differ.
  assert.notEqual(eventId('r', '', 1, 11), eventId('r', '', 11, 1));
});

test('ids: run ids are checked, the default is k6- and base-36 time', () => {
  assert.equal(checkRunId('run-2026.12_01:a'), 'run-2026.12_01:a');
  assert.throws(() => checkRunId('has space'), /RUN_ID "has space": want 1-48 characters/);
  assert.throws(() => checkRunId(''), /RUN_ID/);
  assert.equal(defaultRunId(36 * 36), 'k6-100');
});

test('rand: deterministic, in [0, 1), seeds differ for nearby and large parts', () => {
  const a = rng(seedOf(1, 5));
  const b = rng(seedOf(1, 5));
  for (let i = 0; i < 1000; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
  }
  const seeds = new Set();
  for (let i = 0; i < 10000; i++) seeds.add(seedOf(1, i));
  assert.equal(seeds.size, 10000);
  assert.notEqual(seedOf(1, 2 ** 32), seedOf(1, 0));
  assert.notEqual(mix32(1), mix32(2));
});
