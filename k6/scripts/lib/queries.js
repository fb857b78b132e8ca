// The query mix of the scripts: counts and sums of Zipf-hot keys over the
// last minutes, and top-10s, as the quickstart scenario's probes.
import { env, envNum } from './common.js';

const keys = envNum('KEYS', 1000);
const prefix = env('KEY_PREFIX', 'video-');

// hotKey picks a key, the hot ones more often (roughly Zipf 1).
function hotKey() {
  return prefix + Math.floor(Math.pow(keys, Math.random()) - 1);
}

// queryOnce runs one query of the mix through q and returns its answer.
export function queryOnce(q) {
  const u = Math.random();
  const range = { type: 'VIEW', from: '-2m' };
  if (u < 0.5) return q.count(hotKey(), range);
  if (u < 0.7) return q.count(hotKey(), Object.assign({ filter: { country: 'US' } }, range));
  if (u < 0.9) return q.stats(hotKey(), Object.assign({ fn: 'sum' }, range));
  return q.top(Object.assign({ n: 10 }, range));
}
