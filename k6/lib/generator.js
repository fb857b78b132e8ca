// The seeded event generator of the k6 scripts: Zipf-skewed keys, weighted
// types with whole-number values, dimensions, and the quickstart scenario's
// disorder (duplicates, out-of-order and malformed events). Pure: imports
// no k6 module, so Node's test runner checks it.
//
// A batch depends only on the options, the iteration number and the time
// given, never on which VU or instance makes it: iteration i of a run is the
// same events wherever it runs, and its ids (ids.js) are unique.

import { checkRunId, eventId } from './ids.js';
import { intn, rng, seedOf } from './rand.js';
import { ZipfTable } from './zipf.js';

// The kinds of generated events. Only fresh and duplicate events are valid;
// a duplicate is an exact copy (same key and id) of an earlier fresh event
// of its batch, counted once.
export const FRESH = 'fresh';
export const DUPLICATE = 'duplicate';
export const MALFORMED = 'malformed';

// malformedKinds are the invalid events the generator makes, one per reason
// code of docs/ingest-contract.md it exercises; each is refused by the
// gateway (status "rejected") or dead-lettered by the engine.
export const malformedKinds = [
  ['type', (e) => Object.assign(e, { type: e.type + 'S' })],
  ['field_missing', (e) => { delete e.key; return e; }],
  ['field_unknown', (e) => Object.assign(e, { extra: 1 })],
  ['key', (e) => Object.assign(e, { key: e.key + '\\' })],
  ['id', (e) => Object.assign(e, { id: e.id + '-' + 'x'.repeat(128) })],
  ['ts_unit', (e) => Object.assign(e, { ts: Math.floor(e.ts / 1000) })],
  ['ts_future', (e) => Object.assign(e, { ts: e.ts + 3600 * 1000 })],
  ['dims', (e) => Object.assign(e, { dims: { 'bad name': 'x' } })],
];

// defaults are the quickstart scenario's traffic (scenarios/quickstart.yaml).
export const defaults = {
  seed: 1,
  scenario: '',
  keys: 1000,
  zipfS: 1.1,
  keyPrefix: 'video-',
  types: [
    { name: 'VIEW', weight: 8, min: 1, max: 300 },
    { name: 'LIKE', weight: 1 },
    { name: 'SHARE', weight: 1 },
  ],
  dims: { country: ['US', 'DE', 'IN', 'BR', 'JP'], device: ['ios', 'android', 'web'] },
  duplicates: 0.05,
  malformed: 0.01,
  outOfOrder: 0.02,
  maxDelayMs: 3000,
};

function fraction(name, v) {
  if (!(v >= 0 && v <= 1)) throw new Error(`generator: ${name} must be a fraction in [0, 1], got ${v}`);
  return v;
}

// Generator makes batches. Build it in the init context (the Zipf table is
// computed once); batch() is cheap.
export class Generator {
  constructor(options) {
    const o = Object.assign({}, defaults, options);
    this.runId = checkRunId(o.runId);
    this.scenario = o.scenario;
    this.seed = Math.floor(o.seed);
    this.zipf = new ZipfTable(o.keys, o.zipfS);
    this.keyPrefix = o.keyPrefix;
    if (!o.types.length) throw new Error('generator: types: give at least one type');
    this.types = o.types.map((t, i) => {
      if (!t.name) throw new Error(`generator: types[${i}]: a type needs a name`);
      const w = t.weight === undefined ? 1 : t.weight;
      if (!(w > 0)) throw new Error(`generator: types[${i}].weight must be > 0, got ${w}`);
      return { name: t.name, weight: w, min: t.min === undefined ? 1 : t.min, max: t.max === undefined ? (t.min === undefined ? 1 : t.min) : t.max };
    });
    this.typeWeight = this.types.reduce((s, t) => s + t.weight, 0);
    this.dims = Object.keys(o.dims).sort().map((name) => [name, o.dims[name]]);
    this.duplicates = fraction('duplicates', o.duplicates);
    this.malformed = fraction('malformed', o.malformed);
    this.outOfOrder = fraction('out_of_order', o.outOfOrder);
    this.maxDelayMs = o.maxDelayMs;
  }

  // batch is iteration's n events stamped at nowMs (unix ms): {events,
  // kinds}, events[i] the JSON object to send and kinds[i] its kind.
  batch(iteration, n, nowMs) {
    const next = rng(seedOf(this.seed, iteration, n));
    const events = [];
    const kinds = [];
    const fresh = [];
    for (let i = 0; i < n; i++) {
      const u = next();
      if (u < this.duplicates && fresh.length > 0) {
        events.push(Object.assign({}, events[fresh[intn(next, fresh.length)]]));
        kinds.push(DUPLICATE);
        continue;
      }
      const e = this.event(next, eventId(this.runId, this.scenario, iteration, i), nowMs);
      if (u >= this.duplicates && u < this.duplicates + this.malformed) {
        malformedKinds[intn(next, malformedKinds.length)][1](e);
        events.push(e);
        kinds.push(MALFORMED);
        continue;
      }
      fresh.push(events.length);
      events.push(e);
      kinds.push(FRESH);
    }
    return { events, kinds };
  }

  // event is one valid event with id, stamped at nowMs or, out of order, up
  // to maxDelayMs before.
  event(next, id, nowMs) {
    const key = this.keyPrefix + this.zipf.sample(next());
    let w = next() * this.typeWeight;
    let t = this.types[this.types.length - 1];
    for (const c of this.types) {
      if (w < c.weight) { t = c; break; }
      w -= c.weight;
    }
    let ts = Math.floor(nowMs);
    if (next() < this.outOfOrder) ts -= 1 + intn(next, this.maxDelayMs);
    const e = { id, key, type: t.name, value: t.min + intn(next, t.max - t.min + 1), ts };
    if (this.dims.length) {
      e.dims = {};
      for (const [name, values] of this.dims) e.dims[name] = values[intn(next, values.length)];
    }
    return e;
  }
}
