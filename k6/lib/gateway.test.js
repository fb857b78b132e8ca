import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answer, request, send } from './gateway.js';
import { DUPLICATE, FRESH, MALFORMED } from './generator.js';

test('gateway request: POST /v1/events, a JSON array, the token as a bearer header', () => {
  const rq = request('http://127.0.0.1:8080/', [{ id: 'a' }], 's3cret');
  assert.equal(rq.url, 'http://127.0.0.1:8080/v1/events');
  assert.deepEqual(JSON.parse(rq.body), [{ id: 'a' }]);
  assert.deepEqual(rq.headers, { 'Content-Type': 'application/json', Authorization: 'Bearer s3cret' });
  assert.deepEqual(request('http://h', [], '').headers, { 'Content-Type': 'application/json' });
});

test('gateway answer: results name the events not accepted; anything else leaves all unknown', () => {
  const body = JSON.stringify({ accepted: 2, rejected: 1, failed: 1, results: [{ index: 1, status: 'rejected' }, { index: 3, status: 'failed' }] });
  assert.deepEqual(answer(207, body, 4), { acked: [0, 2], refused: [1], unknown: [3], error: '' });
  assert.deepEqual(answer(200, '{"accepted":2,"results":[]}', 2).acked, [0, 1]);
  const busy = answer(429, '{"error":"too many events in flight"}', 2);
  assert.deepEqual(busy.unknown, [0, 1]);
  assert.match(busy.error, /HTTP 429: too many events in flight/);
  assert.deepEqual(answer(0, null, 1).unknown, [0]);
  assert.deepEqual(answer(200, 'not json', 1).unknown, [0]);
  const slow = answer(503, JSON.stringify({ error: 'kafka', results: [{ index: 0, status: 'failed' }] }), 2);
  assert.deepEqual([slow.acked, slow.unknown], [[1], [0]]);
  assert.match(slow.error, /HTTP 503/);
});

// fakeGateway answers like the gateway: malformed events rejected, the
// others accepted, except that the first `fail` sends answer 503 for every
// event (their outcome unknown).
function fakeGateway(kindsById, fail) {
  const sent = [];
  const post = (rq) => {
    const evs = JSON.parse(rq.body);
    sent.push(evs.map((e) => e.id));
    if (sent.length <= fail) return { status: 503, body: JSON.stringify({ error: 'x', results: evs.map((_, index) => ({ index, status: 'failed' })) }), durationMs: 5 };
    const results = [];
    evs.forEach((e, index) => kindsById.get(e.id) === MALFORMED && results.push({ index, status: 'rejected' }));
    return { status: results.length ? 207 : 200, body: JSON.stringify({ results }), durationMs: 3 };
  };
  return { post, sent };
}

const batch = {
  events: [{ key: 'k', id: 'a' }, { key: 'k', id: 'b' }, { key: 'k', id: 'a' }, { key: 'k', id: 'bad' }],
  kinds: [FRESH, FRESH, DUPLICATE, MALFORMED],
};
const kindsById = new Map([['a', FRESH], ['b', FRESH], ['bad', MALFORMED]]);

test('gateway send: re-sends unknown events with the same ids; counts distinct events', () => {
  const g = fakeGateway(kindsById, 2);
  const sleeps = [];
  const r = send(g.post, (s) => sleeps.push(s), 'http://h', '', batch, 5, 0.05);
  assert.deepEqual(g.sent, [['a', 'b', 'a', 'bad'], ['a', 'b', 'a', 'bad'], ['a', 'b', 'a', 'bad']]);
  assert.deepEqual(sleeps, [0.05, 0.1]);
  assert.deepEqual([r.acknowledged, r.refused, r.failed, r.copies, r.attempts], [2, 1, 0, 3, 3]);
  assert.deepEqual(r.ackMs, [3]);
});

test('gateway send: after the last attempt the unknown ones are failed, once per distinct event', () => {
  const g = fakeGateway(kindsById, 10);
  const r = send(g.post, () => {}, 'http://h', '', batch, 3);
  assert.equal(g.sent.length, 3);
  assert.deepEqual([r.acknowledged, r.refused, r.failed, r.copies], [0, 0, 3, 0]);
  assert.match(r.error, /HTTP 503/);
});
