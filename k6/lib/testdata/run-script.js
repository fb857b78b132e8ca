// Loads a k6 script with the stubs (node --import ./k6stub/register.js),
// checks its options name exported functions, runs each scenario's
// function three times and handleSummary once, and prints what happened as
// JSON: the smoke test of scripts.test.js.
globalThis.__ENV = JSON.parse(process.env.K6_ENV || '{}');
const script = process.argv[2];
const m = await import(new URL(script, `file://${process.cwd()}/`).href);
const http = await import('k6/http');
const metrics = await import('k6/metrics');
const kafka = await import('k6/x/kafka');
const out = { scenarios: {}, thresholds: Object.keys(m.options.thresholds || {}) };
for (const [name, sc] of Object.entries(m.options.scenarios)) {
  const fn = m[sc.exec || 'default'];
  if (typeof fn !== 'function') throw new Error(`scenario ${name}: no exported function ${sc.exec}`);
  for (let i = 0; i < 3; i++) fn();
  out.scenarios[name] = sc.executor;
}
if (m.handleSummary) {
  const data = { state: { testRunDurationMs: 1000 }, metrics: {} };
  for (const [k, v] of Object.entries(metrics.added)) data.metrics[k] = { values: { count: v } };
  out.summary = m.handleSummary(data);
}
out.calls = http.calls.map((c) => ({ method: c.method, url: c.url, headers: c.params && c.params.headers, n: c.body ? JSON.parse(c.body).length : 0 }));
out.produced = kafka.produced.length;
out.metrics = metrics.added;
console.log(JSON.stringify(out));
