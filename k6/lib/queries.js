// The query mix of query.js: counts, filtered counts, sums and top-10s of
// Zipf-hot keys over the last two minutes, as the quickstart scenario's
// probes. Pure: it builds request paths only.

// queryPath is one query of the mix for uniforms u (which query) and v
// (which key), as a path below the query service's base URL.
export function queryPath(zipf, keyPrefix, u, v) {
  const key = encodeURIComponent(keyPrefix + zipf.sample(v));
  const range = 'type=VIEW&from=-2m';
  if (u < 0.5) return { endpoint: 'count', path: `/v1/counts/${key}?${range}` };
  if (u < 0.7) return { endpoint: 'count', path: `/v1/counts/${key}?${range}&filter=country:US` };
  if (u < 0.9) return { endpoint: 'stats', path: `/v1/stats/${key}?${range}&fn=sum` };
  return { endpoint: 'top', path: `/v1/top?${range}&n=10` };
}
