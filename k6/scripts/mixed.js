// mixed.js: ingest through the gateway, produce straight to Kafka and
// query, all at once, each an open-model scenario; every acknowledged
// event (either path) goes into one ledger, written to LEDGER for
// `countlab check`.
//
//   bin/k6 run -e GATEWAY_URL=http://127.0.0.1:8080 -e QUERY_URL=http://127.0.0.1:8081 \
//     -e BROKERS=127.0.0.1:9092 -e DURATION=30s -e LEDGER=/tmp/ledger.gob k6/scripts/mixed.js
//   countlab check --ledger /tmp/ledger.gob --query http://127.0.0.1:8081 --wait 30s
import countlab from 'k6/x/countlab';
import { check } from 'k6';
import { cfg, env, envNum, generatorOptions, summary, summaryTrendStats } from './lib/common.js';
import { queryOnce } from './lib/queries.js';

const queryRate = envNum('QUERY_RATE', 20);
const offered = 2 * cfg.rate * cfg.batch;

function arrival(exec, rate) {
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate,
    timeUnit: '1s',
    duration: cfg.duration,
    preAllocatedVUs: cfg.vus,
    maxVUs: cfg.maxVUs,
  };
}

export const options = {
  scenarios: {
    http: arrival('ingestHTTP', cfg.rate),
    kafka: arrival('produceKafka', cfg.rate),
    query: arrival('query', queryRate),
  },
  thresholds: {
    'countlab_produce_ack{transport:http}': [`p(99)<${env('SLO_ACK_P99_MS', 1000)}`],
    'countlab_produce_ack{transport:kafka}': [`p(99)<${env('SLO_ACK_P99_MS', 1000)}`],
    countlab_events_produced: [`rate>=${0.9 * offered * (1 - 0.01)}`],
    countlab_events_failed: ['count<1'],
    countlab_query_latency: [`p(99)<${env('SLO_QUERY_P99_MS', 500)}`],
    countlab_query_errors: ['count<1'],
  },
  summaryTrendStats,
};

// One generator per VU (seeded seed + VU id; event ids carry the VU id),
// whichever scenario the VU serves.
const gen = countlab.generator(generatorOptions());
const gw = countlab.gateway({ url: cfg.gatewayURL, format: cfg.format, windows: cfg.windows });
const producer = countlab.kafkaProducer({ brokers: cfg.brokers, topic: cfg.topic, format: cfg.format, windows: cfg.windows });
const q = countlab.query({ url: cfg.queryURL });

export function ingestHTTP() {
  gw.post(gen.batch(cfg.batch));
}

export function produceKafka() {
  producer.produce(gen.batch(cfg.batch));
}

export function query() {
  const r = queryOnce(q);
  check(r, { 'query answered': (x) => !x.error });
}

export function teardown() {
  if (cfg.ledger) console.log(`ledger ${cfg.ledger}: ${JSON.stringify(countlab.writeLedger(cfg.ledger))}`);
}

export const handleSummary = summary('k6-mixed', offered);
