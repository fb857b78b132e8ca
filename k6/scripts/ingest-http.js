// ingest-http.js: the quickstart traffic through the ingest gateway
// (POST /v1/events), open model: RATE batches of BATCH events a second
// whatever the answers. Acknowledged events go into the ledger, written
// to LEDGER at the end for `countlab check`.
//
//   bin/k6 run -e GATEWAY_URL=http://127.0.0.1:8080 -e RATE=20 -e BATCH=100 \
//     -e DURATION=30s -e LEDGER=/tmp/ledger.gob k6/scripts/ingest-http.js
import countlab from 'k6/x/countlab';
import { cfg, env, generatorOptions, summary, summaryTrendStats } from './lib/common.js';

const offered = cfg.rate * cfg.batch;

export const options = {
  scenarios: {
    ingest: {
      executor: 'constant-arrival-rate',
      rate: cfg.rate,
      timeUnit: '1s',
      duration: cfg.duration,
      preAllocatedVUs: cfg.vus,
      maxVUs: cfg.maxVUs,
    },
  },
  thresholds: {
    'countlab_produce_ack{transport:http}': [`p(99)<${env('SLO_ACK_P99_MS', 1000)}`],
    countlab_events_produced: [`rate>=${0.9 * offered * (1 - 0.01)}`],
    countlab_events_failed: ['count<1'],
  },
  summaryTrendStats,
};

const gen = countlab.generator(generatorOptions());
const gw = countlab.gateway({ url: cfg.gatewayURL, format: cfg.format, windows: cfg.windows });

export default function () {
  gw.post(gen.batch(cfg.batch));
}

export function teardown() {
  if (cfg.ledger) console.log(`ledger ${cfg.ledger}: ${JSON.stringify(countlab.writeLedger(cfg.ledger))}`);
}

export const handleSummary = summary('k6-ingest-http', offered);
