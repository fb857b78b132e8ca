// produce-kafka.js: the quickstart traffic produced straight to the
// events topic with franz-go (idempotent, acks=all), open model: RATE
// batches of BATCH events a second. Acknowledged events go into the
// ledger, written to LEDGER at the end for `countlab check`.
//
//   bin/k6 run -e BROKERS=127.0.0.1:9092 -e RATE=20 -e BATCH=100 \
//     -e DURATION=30s -e LEDGER=/tmp/ledger.gob k6/scripts/produce-kafka.js
import countlab from 'k6/x/countlab';
import { cfg, env, generatorOptions, summary, summaryTrendStats } from './lib/common.js';

const offered = cfg.rate * cfg.batch;

export const options = {
  scenarios: {
    produce: {
      executor: 'constant-arrival-rate',
      rate: cfg.rate,
      timeUnit: '1s',
      duration: cfg.duration,
      preAllocatedVUs: cfg.vus,
      maxVUs: cfg.maxVUs,
    },
  },
  thresholds: {
    'countlab_produce_ack{transport:kafka}': [`p(99)<${env('SLO_ACK_P99_MS', 1000)}`],
    countlab_events_produced: [`rate>=${0.9 * offered * (1 - 0.01)}`],
    countlab_events_failed: ['count<1'],
  },
  summaryTrendStats,
};

const gen = countlab.generator(generatorOptions());
const producer = countlab.kafkaProducer({ brokers: cfg.brokers, topic: cfg.topic, format: cfg.format, windows: cfg.windows });

export default function () {
  producer.produce(gen.batch(cfg.batch));
}

export function teardown() {
  if (cfg.ledger) console.log(`ledger ${cfg.ledger}: ${JSON.stringify(countlab.writeLedger(cfg.ledger))}`);
}

export const handleSummary = summary('k6-produce-kafka', offered);
