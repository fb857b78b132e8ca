// produce-kafka.js: the quickstart traffic produced straight to the
// events topic with franz-go (idempotent, acks=all), open model: RATE
// batches of BATCH events a second. Acknowledged events go into the
// ledger, written to LEDGER at the end for `countlab check`.
//
//   bin/k6 run -e BROKERS=127.0.0.1:9092 -e RATE=20 -e BATCH=100 \
//     -e DURATION=30s -e LEDGER=/tmp/ledger.gob k6/scripts/produce-kafka.js
import countlab from 'k6/x/countlab';
import { cfg, generatorOptions, ingestOptions, summary } from './lib/common.js';

const offered = cfg.rate * cfg.batch;

export const options = ingestOptions('produce', 'kafka');

const gen = countlab.generator(generatorOptions());
const producer = countlab.kafkaProducer({ brokers: cfg.brokers, topic: cfg.topic, format: cfg.format, windows: cfg.windows });

export default function () {
  producer.produce(gen.batch(cfg.batch));
}

export function teardown() {
  if (cfg.ledger) console.log(`ledger ${cfg.ledger}: ${JSON.stringify(countlab.writeLedger(cfg.ledger))}`);
}

export const handleSummary = summary('k6-produce-kafka', offered);
