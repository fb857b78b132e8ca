// Shared parts of the countlab k6 scripts: configuration from __ENV, the
// traffic profile of the quickstart scenario, and a handleSummary that
// writes countlab's report JSON shape (scenario, started_at, duration_s,
// config, throughput, latency, traffic, slo, pass).

// env is __ENV[name], or def when unset or empty.
export function env(name, def) {
  const v = __ENV[name];
  return v === undefined || v === '' ? def : v;
}

export function envNum(name, def) {
  return Number(env(name, def));
}

// The common settings, overridable with -e NAME=value.
export const cfg = {
  gatewayURL: env('GATEWAY_URL', 'http://127.0.0.1:8080'),
  queryURL: env('QUERY_URL', 'http://127.0.0.1:8081'),
  brokers: env('BROKERS', '127.0.0.1:9092'),
  topic: env('TOPIC', 'events'),
  format: env('FORMAT', 'json'),
  windows: env('WINDOWS', '1m'),
  duration: env('DURATION', '30s'),
  rate: envNum('RATE', 20), // iterations (batches) a second
  batch: envNum('BATCH', 100), // events a batch
  vus: envNum('VUS', 20), // pre-allocated VUs
  maxVUs: envNum('MAX_VUS', 200),
  seed: envNum('SEED', 1),
  ledger: env('LEDGER', ''),
  report: env('REPORT', ''),
};

// The quickstart scenario's traffic: Zipf keys, three types, two
// dimensions, duplicates, malformed and out-of-order events. Late events
// (beyond the allowed lateness) only when LATE > 0.
export function generatorOptions() {
  return {
    seed: cfg.seed,
    keys: envNum('KEYS', 1000),
    zipf_s: envNum('ZIPF_S', 1.1),
    key_prefix: env('KEY_PREFIX', 'video-'),
    types: [
      { name: 'VIEW', weight: 8, min: 1, max: 300 },
      { name: 'LIKE', weight: 1 },
      { name: 'SHARE', weight: 1 },
    ],
    dims: { country: ['US', 'DE', 'IN', 'BR', 'JP'], device: ['ios', 'android', 'web'] },
    duplicates: envNum('DUPLICATES', 0.05),
    malformed: envNum('MALFORMED', 0.01),
    out_of_order: envNum('OUT_OF_ORDER', 0.02),
    max_delay: '3s',
    late: envNum('LATE', 0),
    late_by: env('LATE_BY', '5m'),
    run_id: env('RUN_ID', ''),
  };
}

// The trend statistics every script asks k6 for (handleSummary reads them).
// ingestOptions are the k6 options of a single-transport ingest script: one
// constant-arrival-rate scenario of RATE batches a second, and thresholds
// mirroring the scenario SLOs (ack p99 on this transport, >= 90% of the
// offered events acknowledged net of 1% malformed, no unacknowledged event).
export function ingestOptions(scenario, transport) {
  const offered = cfg.rate * cfg.batch;
  return {
    scenarios: {
      [scenario]: {
        executor: 'constant-arrival-rate',
        rate: cfg.rate,
        timeUnit: '1s',
        duration: cfg.duration,
        preAllocatedVUs: cfg.vus,
        maxVUs: cfg.maxVUs,
      },
    },
    thresholds: {
      [`countlab_produce_ack{transport:${transport}}`]: [`p(99)<${env('SLO_ACK_P99_MS', 1000)}`],
      countlab_events_produced: [`rate>=${0.9 * offered * (1 - 0.01)}`],
      countlab_events_failed: ['count<1'],
    },
    summaryTrendStats,
  };
}

export const summaryTrendStats = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(99)', 'p(99.9)'];

function percentiles(m) {
  if (!m) return null;
  const v = m.values;
  return { p50: v['p(50)'], p90: v['p(90)'], p99: v['p(99)'], p999: v['p(99.9)'], max: v.max };
}

function val(data, name, stat) {
  const m = data.metrics[name];
  return m && m.values[stat] !== undefined ? m.values[stat] : 0;
}

// slos lists every threshold of the run as countlab's slo entries:
// {name, threshold, value, pass}.
function slos(data) {
  const out = [];
  for (const name of Object.keys(data.metrics).sort()) {
    const m = data.metrics[name];
    if (!m.thresholds) continue;
    for (const expr of Object.keys(m.thresholds)) {
      const r = /^\s*([a-z]+(?:\([\d.]+\))?)\s*(<=|>=|<|>|==|===|!=)\s*([-\d.e]+)\s*$/.exec(expr);
      const stat = r ? r[1] : expr;
      out.push({
        name: `${name} ${expr}`,
        threshold: r ? Number(r[3]) : null,
        value: m.values[stat] !== undefined ? m.values[stat] : null,
        pass: m.thresholds[expr].ok,
      });
    }
  }
  return out;
}

// report is countlab's report shape from k6's end-of-test data.
export function report(scenario, data, offeredPerS) {
  const durS = data.state.testRunDurationMs / 1000;
  const acked = val(data, 'countlab_events_produced', 'count');
  const s = slos(data);
  return {
    scenario,
    started_at: new Date(Date.now() - data.state.testRunDurationMs).toISOString(),
    duration_s: durS,
    config: cfg,
    throughput: {
      offered_events_per_s: offeredPerS,
      achieved_events_per_s: durS > 0 ? acked / durS : 0,
    },
    latency: {
      ingest_ack: percentiles(data.metrics['countlab_produce_ack']),
      query: percentiles(data.metrics['countlab_query_latency']),
    },
    traffic: {
      acked,
      rejected: val(data, 'countlab_events_rejected', 'count'),
      failed: val(data, 'countlab_events_failed', 'count'),
      queries: val(data, 'countlab_query_latency', 'count') || undefined,
      query_errors: val(data, 'countlab_query_errors', 'count'),
    },
    accuracy: null, // `countlab check --ledger LEDGER` tells
    slo: s,
    pass: s.every((x) => x.pass),
  };
}

// summary is a handleSummary for scenario: REPORT gets the JSON report,
// stdout a short verdict.
export function summary(scenario, offeredPerS) {
  return function (data) {
    const r = report(scenario, data, offeredPerS);
    const lines = [
      `countlab k6 ${scenario}: ${r.pass ? 'PASS' : 'FAIL'} in ${r.duration_s.toFixed(1)}s; ` +
        `offered ${r.throughput.offered_events_per_s.toFixed(0)} events/s, ` +
        `achieved ${r.throughput.achieved_events_per_s.toFixed(0)} events/s ` +
        `(acked ${r.traffic.acked}, rejected ${r.traffic.rejected}, failed ${r.traffic.failed})`,
    ];
    for (const k of ['ingest_ack', 'query']) {
      const p = r.latency[k];
      if (p) lines.push(`  ${k} ms: p50 ${fmt(p.p50)} p90 ${fmt(p.p90)} p99 ${fmt(p.p99)} p999 ${fmt(p.p999)} max ${fmt(p.max)}`);
    }
    for (const x of r.slo) lines.push(`  slo ${x.pass ? 'ok  ' : 'FAIL'} ${x.name} (value ${fmt(x.value)})`);
    const out = { stdout: lines.join('\n') + '\n' };
    if (cfg.report) out[cfg.report] = JSON.stringify(r, null, 2);
    return out;
  };
}

function fmt(x) {
  return x === null || x === undefined ? '-' : Number(x).toFixed(2);
}
