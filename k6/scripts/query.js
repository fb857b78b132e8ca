// query.js: the query service under an open-model load of QUERY_RATE
// queries a second (counts, filtered counts, sums, top-10s over the last
// two minutes), against whatever traffic is flowing.
//
//   bin/k6 run -e QUERY_URL=http://127.0.0.1:8081 -e QUERY_RATE=200 -e DURATION=30s k6/scripts/query.js
import countlab from 'k6/x/countlab';
import { check } from 'k6';
import { cfg, env, envNum, summary, summaryTrendStats } from './lib/common.js';
import { queryOnce } from './lib/queries.js';

const rate = envNum('QUERY_RATE', 100);

export const options = {
  scenarios: {
    query: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: cfg.duration,
      preAllocatedVUs: cfg.vus,
      maxVUs: cfg.maxVUs,
    },
  },
  thresholds: {
    countlab_query_latency: [`p(99)<${env('SLO_QUERY_P99_MS', 500)}`],
    countlab_query_errors: ['count<1'],
  },
  summaryTrendStats,
};

const q = countlab.query({ url: cfg.queryURL });

export default function () {
  const r = queryOnce(q);
  check(r, { 'query answered': (x) => !x.error });
}

export const handleSummary = summary('k6-query', 0);
