// impossible.js: a threshold that cannot hold (every gateway ack under a
// microsecond), so k6 exits 99: the check that a failed SLO fails the run.
//
//   bin/k6 run -e GATEWAY_URL=http://127.0.0.1:8080 k6/scripts/impossible.js; echo $?   # 99
import countlab from 'k6/x/countlab';
import { cfg, generatorOptions, summary, summaryTrendStats } from './lib/common.js';

export const options = {
  scenarios: {
    ingest: {
      executor: 'constant-arrival-rate',
      rate: 10,
      timeUnit: '1s',
      duration: cfg.duration === '30s' ? '2s' : cfg.duration,
      preAllocatedVUs: 2,
      maxVUs: 10,
    },
  },
  thresholds: {
    'countlab_produce_ack{transport:http}': ['p(99)<0.001'],
  },
  summaryTrendStats,
};

const gen = countlab.generator(Object.assign(generatorOptions(), { key_prefix: 'impossible-' }));
const gw = countlab.gateway({ url: cfg.gatewayURL, windows: cfg.windows });

export default function () {
  gw.post(gen.batch(10));
}

export const handleSummary = summary('k6-impossible', 100);
