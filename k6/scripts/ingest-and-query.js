// ingest-and-query.js: ingest-http.js and query.js at once, each its own
// open-model scenario, with both scenarios' thresholds.
//
//   k6 run -e GATEWAY_URL=http://127.0.0.1:8080 -e QUERY_URL=http://127.0.0.1:8081 \
//     -e RUN_ID=r2 -e DURATION=30s k6/scripts/ingest-and-query.js
import { arrival, ingestThresholds, queryThresholds, summaryTrendStats } from '../lib/config.js';
import { cfg, generator, handleSummary, ingestIteration, queryIteration } from '../lib/k6.js';
import { ZipfTable } from '../lib/zipf.js';

export const options = {
  scenarios: {
    ingest: arrival(cfg, 'ingest', cfg.rate),
    query: arrival(cfg, 'query', cfg.queryRate),
  },
  thresholds: Object.assign(ingestThresholds(cfg), queryThresholds(cfg)),
  summaryTrendStats,
};

const gen = generator('');
const zipf = new ZipfTable(cfg.generator.keys, cfg.generator.zipfS);

export function ingest() {
  ingestIteration(gen);
}

export function query() {
  queryIteration(zipf);
}

export { handleSummary };
