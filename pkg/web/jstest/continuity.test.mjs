// The page's seal continuity (docs/PROTOCOL.md "Continuity (hello version 2)") against vectors
// made by pkg/seal: testdata/seal/continuity.json, or the file VTPEER_CONTINUITY_VECTORS names
// (TestNodeContinuity in pkg/web writes one with pkg/seal and runs this file on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import * as seal from '../static/js/seal.js';
import { parseJSON } from '../static/js/json.js';
import { fromHex, toHex, b64u, utf8 } from '../static/js/bytes.js';

const path = process.env.VTPEER_CONTINUITY_VECTORS || new URL('../../../testdata/seal/continuity.json', import.meta.url);
const have = existsSync(path);
// parseJSON keeps gens above 2^53 exact (bigint).
const vec = have ? parseJSON(readFileSync(path, 'utf8')) : null;
const skip = have ? false : 'no continuity vectors (TestNodeContinuity in pkg/web generates them with pkg/seal)';
const PKCS8_X25519 = fromHex('302e020100300506032b656e04220420');
const hex = (h) => (h ? fromHex(h) : null);

async function keyPair(scalarHex) {
  const privateKey = await crypto.subtle.importKey('pkcs8', new Uint8Array([...PKCS8_X25519, ...fromHex(scalarHex)]), { name: 'X25519' }, true, ['deriveBits']);
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  return { privateKey, pub: new Uint8Array(Buffer.from(jwk.x, 'base64url')) };
}

async function run(v, extra = {}) {
  const common = { room: v.room, noChannelBinding: v.noChannelBinding, extractable: true };
  const fo = hex(v.offererFingerprint);
  const fa = hex(v.answererFingerprint);
  const o = new seal.Handshake({ ...common, role: seal.OFFERER, localFingerprint: fo, remoteFingerprint: fa, retained: v.offererRetained.map(fromHex), keyPair: await keyPair(v.offererPrivate), ...extra.o });
  const a = new seal.Handshake({ ...common, role: seal.ANSWERER, localFingerprint: fa, remoteFingerprint: fo, retained: v.answererRetained.map(fromHex), keyPair: await keyPair(v.answererPrivate), ...extra.a });
  const h1 = await o.start();
  await a.start();
  const r1 = await a.handle(h1);
  const r2 = await o.handle(r1.reply);
  const r3 = await a.handle(r2.reply);
  return { h1, h2: r1.reply, reveal: r2.reply, so: r2.session, sa: r3.session, o, a };
}

const sessions = vec ? [vec.first, ...vec.sessions] : [];
for (const v of sessions) {
  test(`continuity vector: ${v.name}`, { skip }, async () => {
    const r = await run(v);
    assert.equal(r.h1, v.offererHello);
    assert.equal(r.h2, v.answererHello);
    assert.equal(r.reveal, v.reveal);
    assert.deepEqual(r.o.ids.map(toHex), v.offererRetainedIds);
    assert.deepEqual(r.a.ids.map(toHex), v.answererRetainedIds);
    for (const s of [r.so, r.sa]) {
      assert.equal(s.version, Number(v.version));
      assert.equal(s.continued, v.continuedId !== '');
      assert.equal(toHex(s.th), v.transcriptHash);
      assert.equal(s.sas, v.sas);
      assert.equal(toHex(s.next), v.continuitySecret);
      assert.equal(toHex(await seal.continuityID(s.next)), v.continuityId);
      for (const [k, f] of [['sharedSecret', 'shared'], ['keyOffererToAnswerer', 'oa'], ['keyAnswererToOfferer', 'ao'], ['sasKey', 'sas'], ['closeKey', 'close']]) {
        if (v[k]) assert.equal(toHex(s.raw[f]), v[k], k);
      }
      const gen = BigInt(v.closeGen);
      const tags = { offerer: v.closeTagOfferer, answerer: v.closeTagAnswerer };
      assert.equal(toHex(await s.closeTag(gen)), tags[s.role], 'own close tag');
      assert.ok(await s.verifyCloseTag(gen, fromHex(tags[seal.peerRole(s.role)])), 'peer close tag verifies');
      assert.ok(!(await s.verifyCloseTag(gen + 1n, fromHex(tags[seal.peerRole(s.role)]))), 'close tag of another gen');
      assert.ok(!(await s.verifyCloseTag(gen, fromHex(tags[s.role]))), 'own tag reflected');
    }
  });
}

test('continuity vector: frames of the continued session', { skip }, async () => {
  const r = await run(vec.sessions.find((s) => s.name === vec.framesOf));
  for (const f of vec.frames) {
    const [from, to] = f.direction === 'offererToAnswerer' ? [r.so, r.sa] : [r.sa, r.so];
    assert.equal(toHex(await from.seal(fromHex(f.plaintext))), f.frame, `${f.direction} ${f.seq}`);
    assert.equal(toHex(await to.open(fromHex(f.frame))), f.plaintext);
  }
});

test('continuity vector: abort and relay close', { skip }, async () => {
  assert.equal(seal.marshalAbort(vec.abort.code), vec.abort.message);
  assert.equal(seal.parseAbort(vec.abort.message), vec.abort.code);
  const r = await run(vec.sessions.find((s) => s.noChannelBinding)); // the server relay session
  for (const c of vec.relayClose) {
    const s = c.sender === 'offerer' ? r.so : r.sa;
    assert.equal(`{"gen":${c.gen},"t":"close","b":"${b64u(await s.closeTag(BigInt(c.gen)))}"}`, c.data);
  }
});

test('continuity rules: refusals and the chain', { skip }, async () => {
  const first = await run(vec.first);
  const cs = first.so.next;
  const other = new Uint8Array(32).fill(9);
  const base = { ...vec.first, offererRetained: [], answererRetained: [] };
  // A side that requires continuity refuses a version 1 hello (the peer started afresh).
  await assert.rejects(run(base, { a: { retained: [cs], requireContinuity: true } }), (e) => e.code === 'continuity' && /afresh/.test(e.message));
  // ... and a version 2 hello naming none of its secrets.
  await assert.rejects(run(base, { o: { retained: [other] }, a: { retained: [cs], requireContinuity: true } }), (e) => e.code === 'continuity');
  // The offerer that requires continuity refuses an answerer that continues none.
  await assert.rejects(run(base, { o: { retained: [cs], requireContinuity: true }, a: { retained: [other] } }), (e) => e.code === 'continuity');
  // Without requireContinuity the same handshake is a new (not continued) v2 session.
  const fresh = await run(base, { o: { retained: [cs] }, a: { retained: [other] } });
  assert.equal(fresh.so.continued, false);
  assert.equal(fresh.so.version, 2);
  // Continued: rs2 is used when only the older secret is shared; both sides derive the same keys.
  const c = await run(base, { o: { retained: [other, cs], requireContinuity: true }, a: { retained: [cs], requireContinuity: true } });
  assert.ok(c.so.continued && c.sa.continued);
  assert.equal(c.so.contIndex, 1);
  assert.equal(c.so.sas, c.sa.sas);
  assert.deepEqual(await c.sa.open(await c.so.seal(utf8('x'))), utf8('x'));
  // A party without the secret (an impostor naming the id it saw) derives other keys: the first frame fails to open.
  const o = new seal.Handshake({ room: 'lobby', role: seal.OFFERER, noChannelBinding: true, retained: [cs] });
  const a = new seal.Handshake({ room: 'lobby', role: seal.ANSWERER, noChannelBinding: true });
  const h1 = await o.start();
  await a.start();
  const forged = JSON.parse((await a.handle(h1)).reply);
  forged.rs = JSON.parse(h1).rs1; // claims to hold it
  const r2 = await o.handle(seal.marshalHello({ v: 2, role: seal.ANSWERER, key: fromB64(forged.key), rs: fromB64(forged.rs) }));
  assert.ok(r2.session.continued);
  const ra = await a.handle(r2.reply);
  await assert.rejects(ra.session.open(await r2.session.seal(utf8('start'))), (e) => e.code === 'auth');
});

const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64url'));

const r16 = b64u(new Uint8Array(16).fill(1));
const c32 = b64u(new Uint8Array(32).fill(7));
test('parseHello: version 2 fields', () => {
  const cases = [
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}","rs1":"${r16}"}`, null],
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}","rs1":"${r16}","rs2":"${r16}"}`, null],
    [`{"type":"hello","v":2,"role":"answerer","key":"${c32}"}`, null],
    [`{"type":"hello","v":2,"role":"answerer","key":"${c32}","rs":"${r16}"}`, null],
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}"}`, 'needs rs1'],
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}","rs2":"${r16}"}`, 'rs2 without rs1'],
    [`{"type":"hello","v":1,"role":"offerer","commit":"${c32}","rs1":"${r16}"}`, 'version 1'],
    [`{"type":"hello","v":1,"role":"answerer","key":"${c32}","rs":"${r16}"}`, 'version 1'],
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}","rs1":"${r16}","rs":"${r16}"}`, 'belong'],
    [`{"type":"hello","v":2,"role":"answerer","key":"${c32}","rs1":"${r16}"}`, 'belong'],
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}","rs1":"${c32}"}`, 'base64url'],
    [`{"type":"hello","v":2,"role":"offerer","commit":"${c32}","rs1":"${r16}","rs1":"${r16}"}`, 'duplicate'],
  ];
  for (const [text, want] of cases) {
    if (want === null) assert.doesNotThrow(() => seal.parseHello(text), text);
    else assert.throws(() => seal.parseHello(text), (e) => e.code === 'malformed' && e.message.includes(want), text);
  }
  for (const bad of ['{"type":"abort","code":"Bad"}', '{"type":"abort","code":""}', '{"type":"abort"}', '{"type":"abort","code":"x","code":"x"}', '{"type":"hello","code":"x"}']) {
    assert.throws(() => seal.parseAbort(bad), (e) => e.code === 'malformed', bad);
  }
});
