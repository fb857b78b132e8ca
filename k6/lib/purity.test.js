import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

// Only k6.js may import k6's modules; the others are pure (tested here).
test('purity: the library modules import no k6 module except k6.js', () => {
  const dir = new URL('.', import.meta.url);
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js') || f.endsWith('.test.js') || f === 'k6.js') continue;
    const src = readFileSync(new URL(f, dir), 'utf8');
    for (const m of src.matchAll(/^import .* from '([^']+)';$/gm)) {
      assert.ok(m[1].startsWith('./'), `${f} imports ${m[1]}`);
    }
    const code = src.replace(/^\s*\/\/.*$/gm, '');
    assert.ok(!/__ENV|__VU/.test(code), `${f} reads k6 globals`);
  }
});
