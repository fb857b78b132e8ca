// drive-gateway.js: the ingest scripts' traffic without k6, under Node: the
// same library (generator, gateway request and re-send loop, shard
// summary), so the same JSON, headers, ids and summary, for ITERATIONS
// iterations, CONCURRENCY at a time. cmd/countlab's TestCheckFromLogK6Lib
// runs it against a real gateway and then `countlab check --from-log`.
//
//   GATEWAY_URL=http://127.0.0.1:8080 RUN_ID=r1 ITERATIONS=50 BATCH=100 \
//     SUMMARY=/tmp/s.json node k6/tools/drive-gateway.js
//
// Settings are the scripts' (lib/config.js) plus ITERATIONS (default 20)
// and CONCURRENCY (default 4); the token from COUNTLAB_TOKEN.
import { writeFileSync } from 'node:fs';
import { config } from '../lib/config.js';
import { Sender } from '../lib/gateway.js';
import { Generator } from '../lib/generator.js';
import { metricNames, summaryOutputs } from '../lib/summary.js';

const env = process.env;
const c = config(env, Date.now());
const iterations = Number(env.ITERATIONS || 20);
const concurrency = Number(env.CONCURRENCY || 4);
const token = env.COUNTLAB_TOKEN || '';
const gen = new Generator(c.generator);
const totals = { acknowledged: 0, refused: 0, failed: 0, copies: 0 };

async function iteration(i) {
  const s = new Sender(c.gatewayURL, token, gen.batch(i, c.batch, Date.now()), c.attempts);
  for (let rq = s.next(), first = true; rq; rq = s.next(), first = false) {
    if (!first) await new Promise((r) => setTimeout(r, 1000 * s.waitS()));
    const t0 = Date.now();
    let status = 0;
    let body = '';
    try {
      const rs = await fetch(rq.url, { method: 'POST', headers: rq.headers, body: rq.body });
      status = rs.status;
      body = await rs.text();
    } catch (e) {
      body = String(e);
    }
    s.answered(status, body, Date.now() - t0);
  }
  const r = s.result();
  for (const k of Object.keys(totals)) totals[k] += r[k];
}

const start = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < iterations) await iteration(next++);
  }),
);
const data = { state: { testRunDurationMs: Date.now() - start }, metrics: {} };
for (const k of Object.keys(totals)) data.metrics[metricNames[k]] = { values: { count: totals[k] } };
const out = summaryOutputs(data, { runId: c.runId, idPrefix: c.idPrefix, segment: '0:1', nowMs: Date.now() }, c.summary);
for (const [file, text] of Object.entries(out)) {
  if (file === 'stdout') process.stdout.write(text);
  else writeFileSync(file, text);
}
