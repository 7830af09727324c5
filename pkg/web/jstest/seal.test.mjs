// The page's seal against the Go implementation's known-answer vectors
// (testdata/seal/vectors.json) and the strictness rules of docs/PROTOCOL.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as seal from '../static/js/seal.js';
import * as frame from '../static/js/frame.js';
import { fromHex, toHex, utf8, fromUtf8, b64u } from '../static/js/bytes.js';

const vectors = JSON.parse(readFileSync(new URL('../../../testdata/seal/vectors.json', import.meta.url))).vectors;
const hexOrNull = (h) => (h ? fromHex(h) : null);
const PKCS8_X25519 = fromHex('302e020100300506032b656e04220420');

// The key pair of a given scalar (the page itself only ever generates keys).
async function keyPair(scalarHex) {
  const privateKey = await crypto.subtle.importKey('pkcs8', new Uint8Array([...PKCS8_X25519, ...fromHex(scalarHex)]), { name: 'X25519' }, true, ['deriveBits']);
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  return { privateKey, pub: new Uint8Array(Buffer.from(jwk.x, 'base64url')) };
}

async function pair(v) {
  const common = { room: v.room, noChannelBinding: v.noChannelBinding, extractable: true };
  const fo = hexOrNull(v.offererFingerprint);
  const fa = hexOrNull(v.answererFingerprint);
  const o = new seal.Handshake({ ...common, role: seal.OFFERER, localFingerprint: fo, remoteFingerprint: fa, keyPair: await keyPair(v.offererPrivate) });
  const a = new seal.Handshake({ ...common, role: seal.ANSWERER, localFingerprint: fa, remoteFingerprint: fo, keyPair: await keyPair(v.answererPrivate) });
  return { o, a };
}

for (const v of vectors) {
  test(`vector: ${v.name}`, async () => {
    const { o, a } = await pair(v);
    const hello1 = await o.start();
    assert.equal(await a.start(), null, 'the answerer speaks only after the offerer hello');
    assert.equal(hello1, v.offererHello);
    assert.equal(toHex(o.pub), v.offererPublic);
    assert.equal(toHex(await seal.commitment(o.pub)), v.commit);
    const r1 = await a.handle(hello1);
    assert.equal(r1.reply, v.answererHello);
    assert.equal(r1.session, null);
    assert.equal(toHex(a.pub), v.answererPublic);
    const r2 = await o.handle(r1.reply);
    assert.equal(r2.reply, v.reveal);
    const so = r2.session;
    const r3 = await a.handle(r2.reply);
    assert.equal(r3.reply, null);
    const sa = r3.session;
    for (const s of [so, sa]) {
      assert.equal(toHex(s.raw.shared), v.sharedSecret);
      assert.equal(toHex(s.th), v.transcriptHash);
      assert.equal(toHex(s.raw.oa), v.keyOffererToAnswerer);
      assert.equal(toHex(s.raw.ao), v.keyAnswererToOfferer);
      assert.equal(toHex(s.raw.sas), v.sasKey);
      assert.equal(s.sas, v.sas);
    }
    const pt = (k, fallback) => (v[k] !== undefined ? fromHex(v[k]) : utf8(fallback));
    const p0 = pt('plaintextOffererToAnswerer0Hex', v.plaintextOffererToAnswerer);
    const p1 = pt('plaintextOffererToAnswerer1Hex', v.plaintextOffererToAnswerer);
    const q0 = pt('plaintextAnswererToOfferer0Hex', v.plaintextAnswererToOfferer);
    const f0 = await so.seal(p0);
    const f1 = await so.seal(p1);
    const g0 = await sa.seal(q0);
    assert.equal(toHex(f0), v.frameOffererToAnswerer0);
    assert.equal(toHex(f1), v.frameOffererToAnswerer1);
    assert.equal(toHex(g0), v.frameAnswererToOfferer0);
    assert.equal(toHex(await sa.open(f0)), toHex(p0));
    assert.equal(toHex(await sa.open(f1)), toHex(p1));
    assert.equal(toHex(await so.open(g0)), toHex(q0));
    if (v.appFrames) {
      // The first application frames of a session, as the page's frame.js writes and reads them.
      const a = v.appFrames;
      const start = (x) => frame.encodeStart(BigInt('0x' + x.instance), BigInt(x.base), fromHex(x.identity));
      assert.equal(toHex(start(a.offererToAnswerer0)), toHex(p0));
      assert.equal(toHex(start(a.answererToOfferer0)), toHex(q0));
      const d = a.offererToAnswerer1;
      const data = frame.encodeData(BigInt(d.seq), d.kind, utf8(d.body));
      frame.setAck(data, BigInt(d.ack));
      assert.equal(toHex(data), toHex(p1));
      const got = frame.decodeFrame(p1);
      assert.deepEqual([got.type, got.seq, got.ack, got.kind, fromUtf8(got.body)], [frame.DATA, 1n, 0n, d.kind, d.body]);
      assert.equal(frame.decodeFrame(p0).base, 1n);
    }
    assert.equal(seal.identityMessage(v.room, seal.OFFERER, so.th), v.identityMessageOfferer);
  });
}

test('frames: replay, reorder, gap, truncation, bit flips, reflection all fail and poison the session', async () => {
  const v = vectors[0];
  const cases = {
    replay: async (so, sa) => { const f = await so.seal(utf8('a')); await sa.open(f); return [f]; },
    reorder: async (so) => { await so.seal(utf8('a')); return [await so.seal(utf8('b'))]; },
    truncated: async (so) => [(await so.seal(utf8('a'))).subarray(0, 24)],
    'flipped header': async (so) => { const f = await so.seal(utf8('a')); f[0] ^= 2; return [f]; },
    'flipped seq': async (so) => { const f = await so.seal(utf8('a')); f[8] ^= 1; return [f]; },
    'flipped ciphertext': async (so) => { const f = await so.seal(utf8('abc')); f[10] ^= 1; return [f]; },
    'flipped tag': async (so) => { const f = await so.seal(utf8('a')); f[f.length - 1] ^= 1; return [f]; },
    reflected: async (so, sa) => [await sa.seal(utf8('own'))],
  };
  for (const [name, make] of Object.entries(cases)) {
    const { o, a } = await pair(v);
    await a.start();
    const r1 = await a.handle(await o.start());
    const r2 = await o.handle(r1.reply);
    const sa = (await a.handle(r2.reply)).session;
    const bad = await make(r2.session, sa);
    await assert.rejects(sa.open(bad[0]), (e) => e.code === 'auth' && e.message === 'seal: message authentication failed', name);
    const good = await r2.session.seal(utf8('later'));
    await assert.rejects(sa.open(good), (e) => e.code === 'auth', `${name}: later frames refused`);
  }
});

test('session: open is serialized in call order', async () => {
  const v = vectors[1];
  const { o, a } = await pair(v);
  await a.start();
  const r1 = await a.handle(await o.start());
  const r2 = await o.handle(r1.reply);
  const sa = (await a.handle(r2.reply)).session;
  const frames = [];
  for (let i = 0; i < 50; i++) frames.push(await r2.session.seal(utf8('m' + i)));
  const out = await Promise.all(frames.map((f) => sa.open(f)));
  assert.deepEqual(out.map(fromUtf8), frames.map((_, i) => 'm' + i));
});

const k32 = b64u(new Uint8Array(32).fill(7));
const helloCases = [
  ['ok offerer', `{"type":"hello","v":1,"role":"offerer","commit":"${k32}"}`, null],
  ['ok with white space and other order', ` { "commit" : "${k32}" ,"role":"offerer", "v":1,"type":"hello" } \n`, null],
  ['escaped key', `{"typ\\u0065":"hello","v":1,"role":"offerer","commit":"${k32}"}`, null],
  ['duplicate field', `{"type":"hello","v":1,"v":1,"role":"offerer","commit":"${k32}"}`, 'duplicate'],
  ['duplicate via escape', `{"type":"hello","v":1,"\\u0076":1,"role":"offerer","commit":"${k32}"}`, 'duplicate'],
  ['unknown field', `{"type":"hello","v":1,"role":"offerer","commit":"${k32}","x":"y"}`, 'unknown'],
  ['trailing data', `{"type":"hello","v":1,"role":"offerer","commit":"${k32}"}{}`, 'trailing'],
  ['not an object', `["hello"]`, 'expected'],
  ['null value', `{"type":"hello","v":null,"role":"offerer","commit":"${k32}"}`, 'wrong type'],
  ['bool value', `{"type":"hello","v":true,"role":"offerer","commit":"${k32}"}`, 'wrong type'],
  ['array value', `{"type":"hello","v":[1],"role":"offerer","commit":"${k32}"}`, 'wrong type'],
  ['v as string', `{"type":"hello","v":"1","role":"offerer","commit":"${k32}"}`, 'bad version'],
  ['v fraction', `{"type":"hello","v":1.0,"role":"offerer","commit":"${k32}"}`, 'bad version'],
  ['v exponent', `{"type":"hello","v":1e0,"role":"offerer","commit":"${k32}"}`, 'bad version'],
  ['v negative', `{"type":"hello","v":-1,"role":"offerer","commit":"${k32}"}`, 'bad version'],
  ['v zero', `{"type":"hello","v":0,"role":"offerer","commit":"${k32}"}`, 'bad version'],
  ['v 256', `{"type":"hello","v":256,"role":"offerer","commit":"${k32}"}`, 'bad version'],
  ['v leading zero', `{"type":"hello","v":01,"role":"offerer","commit":"${k32}"}`, 'trailing|expected'],
  ['type number', `{"type":1,"v":1,"role":"offerer","commit":"${k32}"}`, 'must be a string'],
  ['wrong type', `{"type":"reveal","v":1,"role":"offerer","commit":"${k32}"}`, 'not hello'],
  ['bad role', `{"type":"hello","v":1,"role":"Offerer","commit":"${k32}"}`, 'bad role'],
  ['padded b64', `{"type":"hello","v":1,"role":"offerer","commit":"${k32}="}`, 'base64url'],
  ['std b64 chars', `{"type":"hello","v":1,"role":"offerer","commit":"${k32.slice(0, -1)}+"}`, 'base64url'],
  ['line break in b64', `{"type":"hello","v":1,"role":"offerer","commit":"${k32.slice(0, 20)}\\n${k32.slice(20)}"}`, 'base64url'],
  ['non-zero trailing bits', `{"type":"hello","v":1,"role":"offerer","commit":"${k32.slice(0, -1)}9"}`, 'base64url'],
  ['31 bytes', `{"type":"hello","v":1,"role":"offerer","commit":"${b64u(new Uint8Array(31))}"}`, 'base64url'],
  ['offerer with key', `{"type":"hello","v":1,"role":"offerer","commit":"${k32}","key":"${k32}"}`, 'needs commit'],
  ['offerer without commit', `{"type":"hello","v":1,"role":"offerer"}`, 'needs commit'],
  ['answerer with commit', `{"type":"hello","v":1,"role":"answerer","key":"${k32}","commit":"${k32}"}`, 'needs key'],
  ['too big', `{"type":"hello","v":1,"role":"offerer","commit":"${k32}"}` + ' '.repeat(4096), 'more than'],
  ['control character', `{"type":"hel\u0001lo","v":1,"role":"offerer","commit":"${k32}"}`, 'control'],
];

test('parseHello strictness (PROTOCOL.md "Handshake messages")', () => {
  for (const [name, text, want] of helloCases) {
    if (want === null) {
      assert.doesNotThrow(() => seal.parseHello(text), name);
    } else {
      assert.throws(() => seal.parseHello(text), (e) => e.code === 'malformed' && new RegExp(want).test(e.message), name);
    }
  }
});

test('handshake checks: version, role, fingerprint, commitment, bad keys', async () => {
  const v = vectors[0];
  const fo = fromHex(v.offererFingerprint);
  const fa = fromHex(v.answererFingerprint);
  const mk = (role, extra = {}) => new seal.Handshake({ room: 'r', role, localFingerprint: role === seal.OFFERER ? fo : fa, remoteFingerprint: role === seal.OFFERER ? fa : fo, ...extra });
  // same role twice
  let o = mk(seal.OFFERER);
  let o2 = mk(seal.OFFERER);
  await o2.start();
  await assert.rejects(o2.handle(await o.start()), (e) => e.code === 'role');
  // fingerprint rewritten
  o = mk(seal.OFFERER, { localFingerprint: fromHex(v.sasKey) });
  let a = mk(seal.ANSWERER);
  await a.start();
  await assert.rejects(a.handle(await o.start()), (e) => e.code === 'fingerprint');
  // binding stripped: a relay-side offerer talking to a binding answerer and vice versa
  o = new seal.Handshake({ room: 'r', role: seal.OFFERER, noChannelBinding: true });
  a = mk(seal.ANSWERER);
  await a.start();
  await assert.rejects(a.handle(await o.start()), (e) => e.code === 'fingerprint');
  o = mk(seal.OFFERER);
  a = new seal.Handshake({ room: 'r', role: seal.ANSWERER, noChannelBinding: true });
  await a.start();
  await assert.rejects(a.handle(await o.start()), (e) => e.code === 'fingerprint');
  // version 3
  a = mk(seal.ANSWERER);
  await a.start();
  await assert.rejects(a.handle(`{"type":"hello","v":3,"role":"offerer","commit":"${k32}","fp":"${b64u(fo)}","rs1":"${b64u(new Uint8Array(16))}"}`), (e) => e.code === 'version');
  // commitment mismatch
  o = mk(seal.OFFERER);
  a = mk(seal.ANSWERER);
  await a.start();
  const r1 = await a.handle(await o.start());
  await o.handle(r1.reply);
  await assert.rejects(a.handle(seal.marshalReveal(fromHex(v.answererPublic))), (e) => e.code === 'commit');
  // low-order and non-canonical answerer keys
  const bad = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
    '4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7',
    'd9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  ];
  for (const k of bad) {
    o = mk(seal.OFFERER);
    await o.start();
    await assert.rejects(o.handle(seal.marshalHello({ role: seal.ANSWERER, key: fromHex(k), fp: fa })), (e) => e.code === 'bad_key' || e.code === 'malformed', k);
  }
});

test('parseIdentity strictness and sign/verify round trip', async () => {
  const addr = '0x2c7536E3605D9C16a7a3D7b1898e529396a65c23';
  const sig = '0x' + 'ab'.repeat(65);
  assert.deepEqual(seal.parseIdentity(`{"type":"identity","address":"${addr}","signature":"${sig}"}`), { address: addr, signature: sig, staticKey: null });
  for (const bad of [
    `{"type":"identity","address":"${addr}","signature":"${sig}","signature":"${sig}"}`,
    `{"type":"identity","address":"${addr.slice(2)}","signature":"${sig}"}`,
    `{"type":"identity","address":"0X${addr.slice(2)}","signature":"${sig}"}`,
    `{"type":"identity","address":"${addr}","signature":"${sig.slice(0, -2)}"}`,
    `{"type":"identity","address":"${addr}"}`,
    `{"type":"identity","address":"${addr}","signature":"${sig}","staticKey":"${k32}="}`,
    `{"type":"hello","address":"${addr}","signature":"${sig}"}`,
  ]) {
    assert.throws(() => seal.parseIdentity(bad), (e) => e.code === 'malformed', bad);
  }
});
