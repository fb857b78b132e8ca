import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arrival, config, ingestThresholds } from './config.js';
import { queryPath } from './queries.js';
import { metricNames, shardSummary, stdoutPrefix, summaryOutputs } from './summary.js';
import { ZipfTable } from './zipf.js';

const data = {
  state: { testRunDurationMs: 30000 },
  metrics: {
    [metricNames.acknowledged]: { values: { count: 9400 } },
    [metricNames.refused]: { values: { count: 100 } },
    [metricNames.copies]: { values: { count: 9900 } },
    dropped_iterations: { values: { count: 0 }, thresholds: { 'count<=0': { ok: true } } },
    countlab_ack_ms: { values: { 'p(99)': 12 }, thresholds: { 'p(99)<1000': { ok: true } } },
  },
};

test('shard summary: run id, segment, acknowledged / refused / failed counts', () => {
  const run = { runId: 'r1', idPrefix: 'r1-', segment: '1/2:1', nowMs: Date.UTC(2026, 11, 1, 12, 0, 30) };
  assert.deepEqual(shardSummary(data, run), {
    countlab_shard_summary: 1,
    run_id: 'r1',
    id_prefix: 'r1-',
    segment: '1/2:1',
    started_at: '2026-12-01T12:00:00.000Z',
    duration_s: 30,
    acknowledged: 9400,
    refused: 100,
    failed: 0,
    copies: 9900,
    dropped_iterations: 0,
    thresholds_ok: true,
  });
  const out = summaryOutputs(data, run, 's.json');
  assert.equal(JSON.parse(out['s.json']).acknowledged, 9400);
  assert.match(out.stdout, /acknowledged 9400, refused 100, failed 0/);
  assert.match(out.stdout, /--id-prefix r1- --summary s.json/);
  data.metrics.dropped_iterations.thresholds['count<=0'].ok = false;
  assert.equal(shardSummary(data, run).thresholds_ok, false);
  assert.deepEqual(Object.keys(summaryOutputs(data, run, '')), ['stdout']);
  const line = summaryOutputs(data, run, '-').stdout.split('\n').find((l) => l.startsWith(stdoutPrefix));
  assert.equal(JSON.parse(line.slice(stdoutPrefix.length)).segment, '1/2:1');
});

test('config: defaults, -e overrides, bad numbers named', () => {
  const c = config({}, 36 * 36);
  assert.equal(c.runId, 'k6-100');
  assert.equal(c.idPrefix, 'k6-100-');
  assert.equal(c.summary, 'countlab-summary-k6-100.json');
  assert.equal(c.gatewayURL, 'http://127.0.0.1:8080');
  const d = config({ RUN_ID: 'x', RATE: '50', BATCH: '10', DUPLICATES: '0' }, 0);
  assert.deepEqual([d.rate, d.batch, d.generator.duplicates, d.generator.runId], [50, 10, 0, 'x']);
  assert.throws(() => config({ RATE: 'fast' }, 0), /RATE="fast": want a number/);
  assert.throws(() => config({ BATCH: '0' }, 0), /batch: must be at least 1/);
});

test('thresholds mirror the SLOs and bound dropped iterations; the scenario is an open model', () => {
  const c = config({ RUN_ID: 'x', RATE: '10', BATCH: '100' }, 0);
  const th = ingestThresholds(c);
  assert.deepEqual(th.countlab_ack_ms, ['p(99)<1000']);
  assert.deepEqual(th.dropped_iterations, ['count<=0']);
  assert.deepEqual(th.countlab_events_failed, ['count<1']);
  assert.match(th.countlab_events_acknowledged[0], /^rate>=846/);
  const s = arrival(c, 'ingest', 10);
  assert.equal(s.executor, 'constant-arrival-rate');
  assert.equal(s.exec, 'ingest');
});

test('queries: the mix of counts, filtered counts, sums and top-10s', () => {
  const z = new ZipfTable(10, 1);
  assert.deepEqual(queryPath(z, 'video-', 0.1, 0), { endpoint: 'count', path: '/v1/counts/video-1?type=VIEW&from=-2m' });
  assert.match(queryPath(z, 'video-', 0.6, 0).path, /filter=country:US$/);
  assert.match(queryPath(z, 'a b/', 0.8, 0).path, /^\/v1\/stats\/a%20b%2F1\?.*fn=sum$/);
  assert.equal(queryPath(z, 'video-', 0.95, 0).endpoint, 'top');
});
