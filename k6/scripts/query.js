// query.js: the query service under an open-model load of QUERY_RATE
// queries a second (counts, filtered counts, sums, top-10s of Zipf-hot
// keys over the last two minutes), against whatever traffic is flowing.
//
//   k6 run -e QUERY_URL=http://127.0.0.1:8081 -e QUERY_RATE=200 -e DURATION=30s k6/scripts/query.js
import { arrival, queryThresholds, summaryTrendStats } from '../lib/config.js';
import { cfg, queryIteration } from '../lib/k6.js';
import { ZipfTable } from '../lib/zipf.js';

export const options = {
  scenarios: { query: arrival(cfg, 'query', cfg.queryRate) },
  thresholds: Object.assign(queryThresholds(cfg), { dropped_iterations: [`count<=${cfg.maxDropped}`] }),
  summaryTrendStats,
};

const zipf = new ZipfTable(cfg.generator.keys, cfg.generator.zipfS);

export function query() {
  queryIteration(zipf);
}
