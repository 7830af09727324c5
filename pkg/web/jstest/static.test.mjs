// What the page serves: vendored files match their pinned checksums, every module imports only
// files of the page (no CDN, no bare specifier), the JavaScript stays under 150 KiB, and no HTML
// carries inline script or inline event handlers (the CSP forbids them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const staticDir = fileURLToPath(new URL('../static/', import.meta.url));
const vendorDir = join(staticDir, 'js', 'vendor');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

test('vendored files match SHA256SUMS', () => {
  const lines = readFileSync(join(vendorDir, 'SHA256SUMS'), 'utf8').trim().split('\n');
  assert.ok(lines.length >= 6);
  const listed = new Set();
  for (const line of lines) {
    const [sum, file] = line.split(/\s+/);
    listed.add(file);
    const got = createHash('sha256').update(readFileSync(join(vendorDir, file))).digest('hex');
    assert.equal(got, sum, `${file} differs from its pinned checksum`);
  }
  for (const f of walk(vendorDir)) {
    const rel = f.slice(vendorDir.length + 1);
    if (rel === 'SHA256SUMS' || rel === 'README.md') continue;
    assert.ok(listed.has(rel), `${rel} is vendored but not in SHA256SUMS`);
  }
});

test('modules import only relative files of the page', () => {
  const importRe = /(?:^|[^\w.])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const f of walk(staticDir).filter((p) => p.endsWith('.js'))) {
    const src = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of src.matchAll(importRe)) {
      const spec = m[1] || m[2];
      assert.ok(spec.startsWith('./') || spec.startsWith('../'), `${f} imports ${spec}`);
      const target = join(dirname(f), spec);
      assert.ok(statSync(target).isFile(), `${f} imports missing ${spec}`);
      assert.ok(target.startsWith(staticDir), `${f} imports outside the page: ${spec}`);
    }
  }
});

test('total JavaScript served is under 150 KiB', () => {
  const total = walk(staticDir).filter((p) => p.endsWith('.js')).reduce((n, p) => n + statSync(p).size, 0);
  assert.ok(total < 150 * 1024, `${total} bytes of JavaScript`);
});

test('HTML has no inline script, style attribute handlers or remote resources', () => {
  for (const f of walk(staticDir).filter((p) => p.endsWith('.html'))) {
    const html = readFileSync(f, 'utf8');
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      assert.match(m[1], /\bsrc=/, `${f}: inline script`);
      assert.equal(m[2].trim(), '', `${f}: inline script body`);
    }
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, `${f}: inline event handler`);
    assert.doesNotMatch(html, /(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, `${f}: remote resource`);
  }
});
