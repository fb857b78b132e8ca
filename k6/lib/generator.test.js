import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DUPLICATE, FRESH, Generator, MALFORMED, malformedKinds } from './generator.js';

const now = Date.UTC(2026, 11, 1, 12, 0, 0);

test('generator: a batch depends only on the iteration (any VU, any instance)', () => {
  const g1 = new Generator({ runId: 'r1' });
  const g2 = new Generator({ runId: 'r1' });
  assert.deepEqual(g1.batch(42, 100, now), g2.batch(42, 100, now));
  assert.notDeepEqual(g1.batch(42, 100, now).events, g1.batch(43, 100, now).events);
});

test('generator: the quickstart mix: duplicates, malformed and out-of-order shares, whole values', () => {
  const g = new Generator({ runId: 'r1', keys: 50 });
  const n = { [FRESH]: 0, [DUPLICATE]: 0, [MALFORMED]: 0 };
  let ooo = 0;
  let total = 0;
  const ids = new Set();
  for (let it = 0; it < 200; it++) {
    const { events, kinds } = g.batch(it, 100, now);
    const byId = new Map();
    events.forEach((e, i) => {
      total++;
      n[kinds[i]]++;
      if (kinds[i] === FRESH) {
        assert.ok(!ids.has(e.id), `fresh id ${e.id} seen before`);
        ids.add(e.id);
        byId.set(e.id, e);
        assert.ok(['VIEW', 'LIKE', 'SHARE'].includes(e.type));
        assert.ok(Number.isInteger(e.value) && e.value >= 1 && e.value <= 300);
        if (e.type !== 'VIEW') assert.equal(e.value, 1);
        assert.match(e.key, /^video-([1-9]|[1-4][0-9]|50)$/);
        assert.deepEqual(Object.keys(e.dims), ['country', 'device']);
        assert.ok(e.ts <= now && e.ts >= now - 3000);
        if (e.ts < now) ooo++;
      }
      if (kinds[i] === DUPLICATE) assert.deepEqual(e, byId.get(e.id), 'a duplicate copies an earlier fresh event of its batch');
    });
  }
  const share = (k) => n[k] / total;
  assert.ok(Math.abs(share(DUPLICATE) - 0.05) < 0.01, `duplicates ${share(DUPLICATE)}`);
  assert.ok(Math.abs(share(MALFORMED) - 0.01) < 0.005, `malformed ${share(MALFORMED)}`);
  assert.ok(Math.abs(ooo / n[FRESH] - 0.02) < 0.007, `out of order ${ooo / n[FRESH]}`);
});

test('generator: every malformed kind breaks one rule of the contract', () => {
  const g = new Generator({ runId: 'r1' });
  const base = () => g.event(() => 0.5, 'r1-0-0', now);
  const check = {
    type: (e) => e.type === 'VIEWS' || e.type.endsWith('S'),
    field_missing: (e) => !('key' in e),
    field_unknown: (e) => 'extra' in e,
    key: (e) => e.key.endsWith('\\'),
    id: (e) => e.id.length > 128,
    ts_unit: (e) => e.ts < 1e11 && e.ts * 1000 > 1e12,
    ts_future: (e) => e.ts - now >= 3600 * 1000 - 3000,
    dims: (e) => Object.keys(e.dims).some((d) => !/^[A-Za-z0-9_]{1,64}$/.test(d)),
  };
  assert.deepEqual(malformedKinds.map((k) => k[0]).sort(), Object.keys(check).sort());
  for (const [code, apply] of malformedKinds) assert.ok(check[code](apply(base())), code);
});

test('generator: bad options fail in the init context, naming the option', () => {
  assert.throws(() => new Generator({ runId: 'r', duplicates: 2 }), /duplicates must be a fraction/);
  assert.throws(() => new Generator({ runId: 'r', types: [] }), /types: give at least one type/);
  assert.throws(() => new Generator({ runId: 'r', types: [{ weight: 1 }] }), /types\[0\]: a type needs a name/);
  assert.throws(() => new Generator({ runId: 'bad id' }), /RUN_ID/);
});
