// The ingest gateway's HTTP contract as the scripts use it: the request for
// a batch (POST /v1/events, a JSON array, Content-Type application/json,
// Authorization: Bearer TOKEN when a token is set), what an answer means
// for each event, and the send loop that re-sends the events whose outcome
// is unknown, with the same ids, until they are acknowledged or refused.
// Pure: the HTTP call and the sleep are injected (k6.js passes k6/http and
// k6's sleep; tests pass fakes), so Node's test runner checks it.

import { MALFORMED } from './generator.js';

// request is the HTTP request for events: {url, body, headers}.
export function request(baseURL, events, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  return { url: baseURL.replace(/\/+$/, '') + '/v1/events', body: JSON.stringify(events), headers };
}

// answer says what became of each of n events from the gateway's answer
// (status, body text): {acked, refused, unknown} (indexes into the batch),
// and error (a short text when the whole batch needs a re-send, "" else).
//
// 200/207/400 with a results array: an index absent from results was
// accepted, status "rejected" is refused (never re-sent), "failed" is
// unknown. 503 with results: the same (its failed events may or may not be
// in the log). Anything else (no answer, 429, 5xx, a body that is not the
// gateway's) leaves every event unknown.
export function answer(status, body, n) {
  const all = () => Array.from({ length: n }, (_, i) => i);
  let r = null;
  try {
    r = JSON.parse(body);
  } catch (e) {
    r = null;
  }
  const known = status === 200 || status === 207 || status === 400 || status === 503;
  if (!known || !r || !Array.isArray(r.results)) {
    const why = r && r.error ? r.error : String(body || '').slice(0, 200);
    return { acked: [], refused: [], unknown: all(), error: `HTTP ${status}${why ? ': ' + why : ''}` };
  }
  const refused = [];
  const unknown = [];
  const notAcked = new Set();
  for (const x of r.results) {
    if (!Number.isInteger(x.index) || x.index < 0 || x.index >= n) continue;
    notAcked.add(x.index);
    (x.status === 'rejected' ? refused : unknown).push(x.index);
  }
  const acked = all().filter((i) => !notAcked.has(i));
  return { acked, refused, unknown, error: status === 503 ? `HTTP 503: ${r.error || 'Kafka did not acknowledge in time'}` : '' };
}

// Sender sends one generated batch ({events, kinds}) to the gateway at
// baseURL: next() is the next request ({url, body, headers}, null when done),
// answered(status, body, durationMs) takes the gateway's answer to it, and
// waitS() is how long to sleep before the next request. Events of unknown
// outcome are re-sent, the same objects (same ids), at most attempts times
// in all, waiting backoffS (doubling, at most 1 s) in between. The loop
// around it is the caller's: synchronous in k6 (send below), with await in
// Node. result() counts events, not copies:
//
//   acknowledged  distinct valid events (key, id) with a copy accepted
//   refused       events the gateway refused (each malformed one, once)
//   failed        distinct events never acknowledged nor refused: their
//                 outcome stays unknown (they may be in the log)
//   copies        accepted copies (duplicates included)
//   attempts, error (the last whole-batch error, "" none), ackMs (one
//   duration per answered send)
export class Sender {
  constructor(baseURL, token, batch, attempts, backoffS) {
    this.baseURL = baseURL;
    this.token = token;
    this.events = batch.events;
    this.kinds = batch.kinds;
    this.attempts = attempts;
    this.wait = backoffS === undefined ? 0.05 : backoffS;
    this.pending = this.events.map((_, i) => i);
    this.ackedIds = new Set();
    this.res = { acknowledged: 0, refused: 0, failed: 0, copies: 0, attempts: 0, error: '', ackMs: [] };
  }

  idOf(i) {
    return this.events[i].key + '\u0000' + this.events[i].id;
  }

  next() {
    if (this.pending.length === 0 || this.res.attempts >= this.attempts) return null;
    this.res.attempts++;
    return request(this.baseURL, this.pending.map((i) => this.events[i]), this.token);
  }

  answered(status, body, durationMs) {
    const ans = answer(status, body, this.pending.length);
    const r = this.res;
    if (ans.error) r.error = ans.error;
    if (ans.acked.length + ans.refused.length > 0) r.ackMs.push(durationMs);
    for (const j of ans.acked) {
      const i = this.pending[j];
      r.copies++;
      if (this.kinds[i] !== MALFORMED) this.ackedIds.add(this.idOf(i));
    }
    r.refused += ans.refused.length;
    this.pending = ans.unknown.map((j) => this.pending[j]);
  }

  waitS() {
    const w = this.wait;
    this.wait = Math.min(2 * w, 1);
    return w;
  }

  result() {
    const r = Object.assign({}, this.res);
    r.acknowledged = this.ackedIds.size;
    const lost = new Set();
    for (const i of this.pending) {
      if (this.kinds[i] === MALFORMED) lost.add('malformed\u0000' + i);
      else if (!this.ackedIds.has(this.idOf(i))) lost.add(this.idOf(i));
    }
    r.failed = lost.size;
    return r;
  }
}

// send is Sender's loop for k6: post(req) returns {status, body,
// durationMs} (k6/http, synchronous), sleep(seconds) waits.
export function send(post, sleep, baseURL, token, batch, attempts, backoffS) {
  const s = new Sender(baseURL, token, batch, attempts, backoffS);
  for (let rq = s.next(), first = true; rq; rq = s.next(), first = false) {
    if (!first) sleep(s.waitS());
    const rs = post(rq);
    s.answered(rs.status, rs.body, rs.durationMs);
  }
  return s.result();
}
