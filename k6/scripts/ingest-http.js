// ingest-http.js: the quickstart scenario's traffic through the ingest
// gateway (POST /v1/events), open model: RATE batches of BATCH events a
// second whatever the answers, re-sending events of unknown outcome with
// the same ids. Plain k6: no extension.
//
//   k6 run -e GATEWAY_URL=http://127.0.0.1:8080 -e RUN_ID=r1 -e RATE=20 -e BATCH=100 \
//     -e DURATION=30s k6/scripts/ingest-http.js
//   countlab check --from-log --id-prefix r1- --summary countlab-summary-r1.json \
//     --brokers 127.0.0.1:9092 --query http://127.0.0.1:8081
import { arrival, ingestThresholds, summaryTrendStats } from '../lib/config.js';
import { cfg, generator, handleSummary, ingestIteration } from '../lib/k6.js';

export const options = {
  scenarios: { ingest: arrival(cfg, 'ingest', cfg.rate) },
  thresholds: ingestThresholds(cfg),
  summaryTrendStats,
};

const gen = generator('');

export function ingest() {
  ingestIteration(gen);
}

export { handleSummary };
