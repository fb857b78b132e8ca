// produce-kafka.js: the quickstart traffic produced straight to the events
// topic with the community xk6-kafka extension (github.com/mostafa/xk6-kafka,
// which your own k6 build carries: `xk6 build --with github.com/mostafa/xk6-kafka`;
// countlab ships no Go code for it). Record key = the event's key, value =
// the event's JSON, the murmur2 balancer (Kafka's default partitioner: the
// engine's efficient path), all in-sync replicas acknowledging, the record
// timestamp left at the client's default (the produce time). Malformed
// events are produced too (the engine dead-letters them) and counted as
// refused here; a batch whose produce throws is re-sent whole, same ids.
//
//   k6 run -e BROKERS=127.0.0.1:9092 -e RUN_ID=r3 -e RATE=20 -e BATCH=100 \
//     -e DURATION=30s k6/scripts/produce-kafka.js
//   countlab check --from-log --id-prefix r3- --summary countlab-summary-r3.json \
//     --brokers 127.0.0.1:9092 --query http://127.0.0.1:8081
import { sleep } from 'k6';
import exec from 'k6/execution';
import { SCHEMA_TYPE_STRING, SchemaRegistry, Writer } from 'k6/x/kafka';
import { arrival, ingestThresholds, summaryTrendStats } from '../lib/config.js';
import { MALFORMED } from '../lib/generator.js';
import { cfg, generator, handleSummary, metrics } from '../lib/k6.js';

export const options = {
  scenarios: { produce: arrival(cfg, 'produce', cfg.rate) },
  thresholds: ingestThresholds(cfg),
  summaryTrendStats,
};

const gen = generator('');
const writer = new Writer({
  brokers: cfg.brokers.split(','),
  topic: cfg.topic,
  balancer: 'balancer_murmur2',
  requiredAcks: -1,
  autoCreateTopic: false,
});
const registry = new SchemaRegistry();
const str = (s) => registry.serialize({ data: s, schemaType: SCHEMA_TYPE_STRING });

export function produce() {
  const { events, kinds } = gen.batch(exec.scenario.iterationInTest, cfg.batch, Date.now());
  const messages = events.map((e) => ({ key: str(String(e.key === undefined ? '' : e.key)), value: str(JSON.stringify(e)) }));
  let wait = 0.05;
  for (let a = 1; a <= cfg.attempts; a++) {
    const t0 = Date.now();
    try {
      writer.produce({ messages });
    } catch (err) {
      if (a === cfg.attempts) {
        const valid = new Set(events.filter((_, i) => kinds[i] !== MALFORMED).map((e) => e.key + '\u0000' + e.id));
        metrics.failed.add(valid.size + kinds.filter((k) => k === MALFORMED).length);
        console.warn(`iteration ${exec.scenario.iterationInTest}: produce failed ${a} times: ${err}`);
        return;
      }
      sleep(wait);
      wait = Math.min(2 * wait, 1);
      continue;
    }
    metrics.ack.add(Date.now() - t0);
    const valid = new Set();
    events.forEach((e, i) => {
      if (kinds[i] !== MALFORMED) valid.add(e.key + '\u0000' + e.id);
    });
    metrics.acknowledged.add(valid.size);
    metrics.refused.add(kinds.filter((k) => k === MALFORMED).length);
    metrics.copies.add(events.length - kinds.filter((k) => k === MALFORMED).length);
    return;
  }
}

export function teardown() {
  writer.close();
}

export { handleSummary };
