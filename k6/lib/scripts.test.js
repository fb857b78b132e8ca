import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The scripts themselves, loaded with stubs of k6's modules (testdata/k6stub):
// their options name exported functions, every scenario is open-model, an
// iteration sends what the library makes, handleSummary writes the summary.
const root = fileURLToPath(new URL('../..', import.meta.url));

function run(script, env) {
  const out = execFileSync(process.execPath, ['--import', './k6/lib/testdata/k6stub/register.js', 'k6/lib/testdata/run-script.js', script], {
    cwd: root,
    env: Object.assign({}, process.env, { K6_ENV: JSON.stringify(env) }),
  });
  return JSON.parse(out.toString());
}

test('scripts: ingest-http.js posts batches with the token and writes the shard summary', () => {
  const r = run('k6/scripts/ingest-http.js', { RUN_ID: 's1', BATCH: '10', SUMMARY: '/tmp/x.json', COUNTLAB_TOKEN: '' });
  assert.deepEqual(r.scenarios, { ingest: 'constant-arrival-rate' });
  assert.ok(r.thresholds.includes('dropped_iterations'));
  assert.equal(r.calls.length, 3);
  assert.deepEqual(r.calls[0], { method: 'POST', url: 'http://127.0.0.1:8080/v1/events', headers: { 'Content-Type': 'application/json' }, n: 10 });
  const s = JSON.parse(r.summary['/tmp/x.json']);
  assert.equal(s.id_prefix, 's1-');
  assert.equal(s.acknowledged + s.refused + s.failed <= 30, true);
  assert.equal(s.acknowledged, r.metrics.countlab_events_acknowledged);
});

test('scripts: ingest-and-query.js runs both scenarios; query.js queries', () => {
  const r = run('k6/scripts/ingest-and-query.js', { RUN_ID: 's2', BATCH: '5', SUMMARY: '-' });
  assert.deepEqual(Object.keys(r.scenarios).sort(), ['ingest', 'query']);
  assert.equal(r.calls.filter((c) => c.method === 'GET').length, 3);
  assert.match(r.summary.stdout, /countlab-shard-summary: \{/);
  const q = run('k6/scripts/query.js', { RUN_ID: 's3' });
  assert.ok(q.calls.every((c) => c.method === 'GET' && c.url.startsWith('http://127.0.0.1:8081/v1/')));
  assert.ok(q.thresholds.includes('countlab_query_ms'));
});

test('scripts: produce-kafka.js produces every event, malformed ones counted as refused', () => {
  const r = run('k6/scripts/produce-kafka.js', { RUN_ID: 's4', BATCH: '100', MALFORMED: '0.1' });
  assert.equal(r.produced, 300);
  assert.ok(r.metrics.countlab_events_refused > 0);
  assert.equal(JSON.parse(r.summary['countlab-summary-s4.json']).refused, r.metrics.countlab_events_refused);
});
