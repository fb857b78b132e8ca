// The k6 side of the library: the only module that imports k6's built-in
// modules (k6/http, k6/execution, k6/metrics and k6's sleep). It wires them
// into the pure modules (generator, gateway, summary, config) for the
// scripts; nothing here is needed to test those under Node.
//
// Import it from a script's init context: it creates the custom metrics.

import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';

import { config } from './config.js';
import { send } from './gateway.js';
import { Generator } from './generator.js';
import { queryPath } from './queries.js';
import { metricNames, summaryOutputs } from './summary.js';

// cfg is the scripts' configuration from -e NAME=value (config.js).
export const cfg = config(__ENV, Date.now());

// The token of the gateway and the query service, from the environment,
// never from a script: COUNTLAB_TOKEN.
const token = __ENV.COUNTLAB_TOKEN || '';

export const metrics = {
  acknowledged: new Counter(metricNames.acknowledged),
  refused: new Counter(metricNames.refused),
  failed: new Counter(metricNames.failed),
  copies: new Counter(metricNames.copies),
  ack: new Trend(metricNames.ack, true),
  query: new Trend('countlab_query_ms', true),
  queryErrors: new Counter('countlab_query_errors'),
};

// generator is the run's event generator (the same on every VU and
// instance: batches depend on the iteration only).
export function generator(scenario) {
  return new Generator(Object.assign({}, cfg.generator, { scenario: scenario || '' }));
}

function post(rq) {
  const r = http.post(rq.url, rq.body, { headers: rq.headers, tags: { name: 'POST /v1/events' } });
  return { status: r.status, body: r.body, durationMs: r.timings.duration };
}

// ingestIteration sends this iteration's batch through the gateway and
// counts the outcome. Call it from a scenario's exec function.
export function ingestIteration(gen) {
  const b = gen.batch(exec.scenario.iterationInTest, cfg.batch, Date.now());
  const r = send(post, sleep, cfg.gatewayURL, token, b, cfg.attempts);
  metrics.acknowledged.add(r.acknowledged);
  metrics.refused.add(r.refused);
  metrics.failed.add(r.failed);
  metrics.copies.add(r.copies);
  for (const ms of r.ackMs) metrics.ack.add(ms);
  if (r.failed > 0) console.warn(`iteration ${exec.scenario.iterationInTest}: ${r.failed} events of unknown outcome after ${r.attempts} attempts: ${r.error}`);
  return r;
}

// queryIteration runs one query of the mix (queries.js).
export function queryIteration(zipf) {
  const q = queryPath(zipf, cfg.generator.keyPrefix, Math.random(), Math.random());
  const params = { tags: { name: q.endpoint, endpoint: q.endpoint } };
  if (token) params.headers = { Authorization: 'Bearer ' + token };
  const r = http.get(cfg.queryURL.replace(/\/+$/, '') + q.path, params);
  metrics.query.add(r.timings.duration, { endpoint: q.endpoint });
  if (r.status !== 200) metrics.queryErrors.add(1, { endpoint: q.endpoint });
  return r;
}

// segment is this instance's execution segment ("0:1" when alone).
function segment() {
  const o = exec.test.options;
  return (o && o.executionSegment) || '0:1';
}

// handleSummary writes the shard summary (SUMMARY, default
// countlab-summary-RUN_ID.json; a segment's own file when distributed)
// and prints the verdict.
export function handleSummary(data) {
  const seg = segment();
  let file = cfg.summary;
  if (seg !== '0:1' && !__ENV.SUMMARY) file = `countlab-summary-${cfg.runId}-${seg.replace(/[^0-9]+/g, '_')}.json`;
  return summaryOutputs(data, { runId: cfg.runId, idPrefix: cfg.idPrefix, segment: seg, nowMs: Date.now() }, file);
}
