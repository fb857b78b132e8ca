// ingest-http.js: the quickstart traffic through the ingest gateway
// (POST /v1/events), open model: RATE batches of BATCH events a second
// whatever the answers. Acknowledged events go into the ledger, written
// to LEDGER at the end for `countlab check`.
//
//   bin/k6 run -e GATEWAY_URL=http://127.0.0.1:8080 -e RATE=20 -e BATCH=100 \
//     -e DURATION=30s -e LEDGER=/tmp/ledger.gob k6/scripts/ingest-http.js
import countlab from 'k6/x/countlab';
import { cfg, generatorOptions, ingestOptions, summary } from './lib/common.js';

const offered = cfg.rate * cfg.batch;

export const options = ingestOptions('ingest', 'http');

const gen = countlab.generator(generatorOptions());
const gw = countlab.gateway({ url: cfg.gatewayURL, format: cfg.format, windows: cfg.windows });

export default function () {
  gw.post(gen.batch(cfg.batch));
}

export function teardown() {
  if (cfg.ledger) console.log(`ledger ${cfg.ledger}: ${JSON.stringify(countlab.writeLedger(cfg.ledger))}`);
}

export const handleSummary = summary('k6-ingest-http', offered);
