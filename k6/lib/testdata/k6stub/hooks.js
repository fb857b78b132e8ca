// Module resolution hooks for the script smoke test: k6's built-in modules
// (and xk6-kafka's) resolve to the stubs beside this file.
const stubs = {
  k6: 'k6.js',
  'k6/http': 'http.js',
  'k6/execution': 'execution.js',
  'k6/metrics': 'metrics.js',
  'k6/x/kafka': 'kafka.js',
};

export async function resolve(specifier, context, next) {
  if (stubs[specifier]) return { url: new URL(stubs[specifier], import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
