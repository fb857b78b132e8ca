// The scripts' settings (from -e NAME=value, k6's __ENV) and the k6 options
// they make: an open-model (constant-arrival-rate) scenario and thresholds
// mirroring the quickstart scenario's SLOs. Pure: the environment is passed
// in, so Node's test runner checks it.

import { checkRunId, defaultRunId, idPrefix } from './ids.js';

function str(env, name, def) {
  const v = env[name];
  return v === undefined || v === '' ? def : String(v);
}

function num(env, name, def) {
  const v = str(env, name, undefined);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}=${JSON.stringify(v)}: want a number`);
  return n;
}

// config reads the settings from env; nowMs makes the default RUN_ID.
// Every field has a default (the quickstart's traffic against `countlab up`).
export function config(env, nowMs) {
  const runId = checkRunId(str(env, 'RUN_ID', defaultRunId(nowMs)));
  const c = {
    gatewayURL: str(env, 'GATEWAY_URL', 'http://127.0.0.1:8080'),
    queryURL: str(env, 'QUERY_URL', 'http://127.0.0.1:8081'),
    brokers: str(env, 'BROKERS', '127.0.0.1:9092'),
    topic: str(env, 'TOPIC', 'events'),
    runId,
    idPrefix: idPrefix(runId),
    duration: str(env, 'DURATION', '30s'),
    rate: num(env, 'RATE', 20), // iterations (batches) a second
    batch: num(env, 'BATCH', 100), // events a batch
    vus: num(env, 'VUS', 20), // pre-allocated VUs
    maxVUs: num(env, 'MAX_VUS', 200),
    attempts: num(env, 'ATTEMPTS', 5),
    queryRate: num(env, 'QUERY_RATE', 20),
    summary: str(env, 'SUMMARY', `countlab-summary-${runId}.json`),
    sloAckP99Ms: num(env, 'SLO_ACK_P99_MS', 1000),
    sloQueryP99Ms: num(env, 'SLO_QUERY_P99_MS', 500),
    minAchieved: num(env, 'MIN_ACHIEVED', 0.9),
    maxDropped: num(env, 'MAX_DROPPED_ITERATIONS', 0),
    generator: {
      seed: num(env, 'SEED', 1),
      keys: num(env, 'KEYS', 1000),
      zipfS: num(env, 'ZIPF_S', 1.1),
      keyPrefix: str(env, 'KEY_PREFIX', 'video-'),
      duplicates: num(env, 'DUPLICATES', 0.05),
      malformed: num(env, 'MALFORMED', 0.01),
      outOfOrder: num(env, 'OUT_OF_ORDER', 0.02),
      maxDelayMs: num(env, 'MAX_DELAY_MS', 3000),
      runId,
    },
  };
  for (const k of ['rate', 'batch', 'vus', 'maxVUs', 'attempts']) {
    if (!(c[k] >= 1)) throw new Error(`${k}: must be at least 1, got ${c[k]}`);
  }
  return c;
}

// arrival is a constant-arrival-rate scenario (the open model: the offered
// load does not drop when the target slows down; iterations k6 cannot
// start in time are counted in dropped_iterations).
export function arrival(c, exec, rate) {
  const s = {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration: c.duration,
    preAllocatedVUs: c.vus,
    maxVUs: c.maxVUs,
  };
  if (exec) s.exec = exec;
  return s;
}

// ingestThresholds mirror the quickstart SLOs for an ingest scenario:
// ack p99 (max_p99_ingest_ack_ms), the achieved rate (min_throughput: at
// least minAchieved of the valid events offered, acknowledged), no event
// whose outcome stayed unknown, and no dropped iteration (the open model
// falling behind: k6 itself, or too few VUs, would hide a slow target).
export function ingestThresholds(c) {
  const validShare = 1 - c.generator.malformed - c.generator.duplicates;
  return {
    countlab_ack_ms: [`p(99)<${c.sloAckP99Ms}`],
    countlab_events_acknowledged: [`rate>=${c.minAchieved * c.rate * c.batch * validShare}`],
    countlab_events_failed: ['count<1'],
    dropped_iterations: [`count<=${c.maxDropped}`],
  };
}

// queryThresholds mirror max_p99_query_ms, with no failed query.
export function queryThresholds(c) {
  return {
    countlab_query_ms: [`p(99)<${c.sloQueryP99Ms}`],
    countlab_query_errors: ['count<1'],
  };
}

export const summaryTrendStats = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(99)', 'p(99.9)'];
