// The page's tips, receipts and account primitives against the ethers-made vectors
// (testdata/vectors/tips-ethers.json) and testdata/seal/offline.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tips from '../static/js/tips.js';
import * as eth from '../static/js/eth.js';
import { MemoryReplayStore } from '../static/js/replay.js';
import { fromHex, toHex, utf8 } from '../static/js/bytes.js';

const ethers = JSON.parse(readFileSync(new URL('../../../testdata/vectors/tips-ethers.json', import.meta.url)));
const offline = JSON.parse(readFileSync(new URL('../../../testdata/seal/offline.json', import.meta.url)));

// The code pkg/tips gives each case (pkg/tips/vectors_test.go expectedCode); '' = valid.
const expectedCode = {
  'small-amount-no-cid': '', 'one-token-with-cid': '', 'fractional-amount': '', 'max-uint256-nonce': '',
  'timestamp-nonce': '', 'zero-cidhash-orchestrator-draft': '', 'unicode-cid': '', 'lowercase-addresses': '',
  'v-zero-one': '', 'tampered-amount': 'signer_mismatch', 'tampered-recipient': 'signer_mismatch',
  'tampered-nonce': 'signer_mismatch', 'tampered-cid': 'cid_hash_mismatch', 'wrong-signer': 'signer_mismatch',
  'high-s-malleated': 'high_s', 'short-signature': 'bad_signature_length', 'zero-signature': 'bad_signature',
  'negative-amount': 'bad_amount', 'malformed-from': 'bad_address',
};

const codeOf = (fn) => {
  try {
    fn();
    return '';
  } catch (e) {
    if (!(e instanceof tips.TipError)) throw e;
    assert.ok(e.reason, 'a refusal has a reason');
    return e.code;
  }
};

test('ethers vectors: every case verifies or fails with pkg/tips code', () => {
  assert.equal(ethers.cases.length, Object.keys(expectedCode).length, 'a new case needs an expected code');
  for (const c of ethers.cases) {
    const want = expectedCode[c.name];
    assert.equal(want === '', c.valid, c.name);
    const wire = JSON.stringify({ type: 'signed-meta', meta: c.meta, signature: c.signature });
    let res;
    const got = codeOf(() => { res = tips.verify(tips.parseSignedMeta(wire)); });
    assert.equal(got, want, `${c.name}: ${c.why}`);
    if (want === '') {
      assert.equal(res.hash, c.messageHash.toLowerCase(), c.name);
      assert.equal(res.signer.toLowerCase(), c.meta.from.toLowerCase(), c.name);
      assert.equal(res.timestampSigned, false);
    }
  }
});

test('ethers vectors with the stored messageHash: tampered metas are message_hash_mismatch', () => {
  for (const c of ethers.cases) {
    const wire = JSON.stringify({ type: 'signed-meta', meta: c.meta, signature: c.signature, messageHash: c.messageHash });
    const got = codeOf(() => tips.verify(tips.parseSignedMeta(wire)));
    if (['tampered-amount', 'tampered-recipient', 'tampered-nonce'].includes(c.name)) assert.equal(got, 'message_hash_mismatch', c.name);
    else assert.equal(got === '', c.valid, `${c.name}: ${got}`);
  }
});

test('old browser client form: no type, numbers, no nonce', () => {
  const c = ethers.cases[0];
  const wire = `{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":5,"cid":"","nonce":1},"signature":"${c.signature}"}`;
  assert.equal(tips.verify(tips.parseSignedMeta(wire)).hash, c.messageHash);
  for (const [bad, code] of [
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":5e0,"nonce":1},"signature":"${c.signature}"}`, 'bad_amount'],
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":"5","nonce":"1"},"signature":"${c.signature}","x":1}`, 'malformed'],
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":"5"},"signature":"${c.signature}"} x`, 'malformed'],
    [`{"type":"tip","meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":"5"},"signature":"${c.signature}"}`, 'malformed'],
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.from}","amount":"5"},"signature":"${c.signature}"}`, 'same_from_to'],
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":"0"},"signature":"${c.signature}"}`, 'bad_amount'],
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":"5","nonce":"-1"},"signature":"${c.signature}"}`, 'bad_nonce'],
    [`{"meta":{"from":"${c.meta.from}","to":"${c.meta.to}","amount":"5"},"signature":"${c.signature.slice(0, -2)}1f"}`, 'bad_signature_v'],
  ]) {
    assert.equal(codeOf(() => tips.verify(tips.parseSignedMeta(bad))), code, bad);
  }
});

const alice = { address: ethers.accounts[0].address, key: fromHex(ethers.accounts[0].privateKey.slice(2)) };
const bob = { address: ethers.accounts[1].address, key: fromHex(ethers.accounts[1].privateKey.slice(2)) };
const signerOf = (a) => ({ address: a.address, personalSign: (m) => eth.personalSignWithKey(a.key, m) });

test('signTip: vtpeer form, timestamped nonce, verified with freshness', async () => {
  const now = 1764201600000;
  const t = await tips.signTip(signerOf(alice), { to: bob.address, amount: tips.parseAmount('5'), cid: 'bafy', nowMs: now });
  const w = JSON.parse(t.json);
  assert.deepEqual(Object.keys(w), ['type', 'meta', 'signature', 'messageHash']);
  assert.deepEqual(Object.keys(w.meta), ['from', 'to', 'amount', 'timestamp', 'cid', 'cidHash', 'nonce']);
  assert.equal(w.meta.amount, '5000000000000000000');
  assert.equal(BigInt(w.meta.nonce) >> 128n, BigInt(now));
  assert.equal(w.meta.cidHash, tips.cidHashOf('bafy'));
  const sm = tips.parseSignedMeta(t.json);
  const res = tips.verify(sm, { nowMs: now + 1000 });
  assert.equal(res.signer, alice.address);
  assert.equal(res.timestampSigned, true);
  assert.equal(res.timestamp, now);
  assert.equal(codeOf(() => tips.verify(sm, { nowMs: now + 11 * 60 * 1000 })), 'expired');
  assert.equal(codeOf(() => tips.verify(sm, { nowMs: now - 3 * 60 * 1000 })), 'future');
  assert.equal(tips.verify(sm, { nowMs: now + 11 * 60 * 1000, maxAgeMs: tips.QUEUED_MAX_AGE_MS }).timestampSigned, true);
  const lied = t.json.replace(`"timestamp":${now}`, `"timestamp":${now + 1}`);
  assert.equal(codeOf(() => tips.verify(tips.parseSignedMeta(lied), { nowMs: now })), 'timestamp_mismatch');
});

test('judge: accepted once, then replay; wrong_recipient; malformed; signed receipts verify', async () => {
  const store = new MemoryReplayStore();
  const t = await tips.signTip(signerOf(alice), { to: bob.address, amount: 1n });
  const desk = { store, signer: signerOf(bob) };
  const first = await tips.judge(t.json, desk);
  assert.equal(first.event.verified, true, first.event.reason);
  let r = tips.parseReceipt(first.receipt);
  assert.deepEqual([r.accepted, r.code, r.messageHash, r.signer], [true, '', t.hash, bob.address]);
  const again = await tips.judge(t.json, desk);
  r = tips.parseReceipt(again.receipt);
  assert.deepEqual([r.accepted, r.code], [false, 'replay']);
  const queued = await tips.judge(t.json, { ...desk, queued: true });
  r = tips.parseReceipt(queued.receipt);
  assert.deepEqual([r.accepted, r.code], [true, 'already_accepted']);
  const carol = { address: eth.privToAddress(fromHex('11'.repeat(32))), key: fromHex('11'.repeat(32)) };
  const wrong = await tips.judge(t.json, { store: new MemoryReplayStore(), signer: signerOf(carol) });
  assert.equal(tips.parseReceipt(wrong.receipt).code, 'wrong_recipient');
  const bad = await tips.judge('{"meta":', desk);
  r = tips.parseReceipt(bad.receipt);
  assert.deepEqual([r.accepted, r.code, r.messageHash], [false, 'malformed', '0x' + '00'.repeat(32)]);
  // a tampered receipt does not verify
  assert.throws(() => tips.parseReceipt(first.receipt.replace('"accepted":true', '"accepted":false')), /invalid receipt signature/);
});

test('offline.json: receipt digest, its signature, identity text hash (PROTOCOL.md vectors)', async () => {
  const rv = offline.receipt;
  assert.equal(tips.receiptDigest(rv), rv.digest);
  assert.equal(toHex(eth.eip191Hash(utf8(rv.digest))), rv.eip191Hash);
  const key = fromHex(offline.signerPrivate);
  assert.equal(eth.privToAddress(key), offline.signerAddress);
  assert.equal(toHex(await eth.personalSignWithKey(key, utf8(rv.digest))), rv.signature);
  const r = tips.parseReceipt(rv.json);
  assert.deepEqual([r.accepted, r.code, r.reason, r.signer], [rv.accepted, rv.code, rv.reason, offline.signerAddress]);
  const made = await tips.makeReceipt(rv, { address: offline.signerAddress, personalSign: (m) => eth.personalSignWithKey(key, m) });
  assert.equal(made, rv.json);
  const id = offline.identity;
  assert.equal(toHex(eth.eip191Hash(utf8(id.text))), id.eip191Hash);
  assert.equal(eth.recoverPersonal(utf8(id.text), fromHex(id.signature)), offline.signerAddress);
});

test('amounts and addresses as pkg/tips parses them', () => {
  assert.equal(tips.parseAmount('0.000123456789012345'), 123456789012345n);
  assert.equal(tips.formatAmount(1500000000000000000n), '1.5');
  assert.equal(tips.formatAmount(5n), '0.000000000000000005');
  for (const bad of ['', '-1', '1e3', '0', '0.0', '1.', '.5', '1.0000000000000000001']) assert.throws(() => tips.parseAmount(bad), bad);
  assert.equal(eth.parseUserAddress(alice.address.toLowerCase()), alice.address);
  assert.throws(() => eth.parseUserAddress(alice.address.replace('D4be', 'd4Be')), /EIP-55/);
  assert.throws(() => eth.parseUserAddress('0x1234'), /not a 20-byte/);
  assert.equal(toHex(eth.keccak256(new Uint8Array(0))), 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
});
