// Tips as pkg/tips does them (docs/PROTOCOL.md "Application messages"); pure: store and signer are passed in.

import { parseJSON, JSONNumber } from './json.js';
import { keccak256, eip191Hash, checksumAddress, isAddress, recoverDigest, recoverPersonal, TipError, from0x } from './eth.js';
import { concat, utf8, toHex, fromHex, bigToBytes, randomBytes, bytesToBig } from './bytes.js';

/** Defaults of the verifier (pkg/tips). */
export const DEFAULT_MAX_AGE_MS = 10 * 60 * 1000;
export const DEFAULT_MAX_FUTURE_MS = 2 * 60 * 1000;
/** A queued tip (kind tip-queued) may be this old: the server mailbox's TTL. */
export const QUEUED_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const MAX_SIGNED_META = 16 << 10;
export const MAX_CID = 4096;
export const MAX_RECEIPT = 8 << 10;
const MIN_NONCE_TS = 1577836800000n; // 2020-01-01
const MAX_NONCE_TS = 32503680000000n; // 3000-01-01
const UINT256_MAX = (1n << 256n) - 1n;
const WEI_PER_VERY = 10n ** 18n;
const ZERO_HASH = '0x' + '00'.repeat(32);

export { TipError };
const terr = (code, reason) => new TipError(code, reason);
const trunc = (s) => (s.length > 80 ? s.slice(0, 80) + '…' : s);


/** Parses a VERY amount ("5", "0.5", up to 18 decimals, no sign or exponent) into wei, exactly. */
export function parseAmount(very) {
	const s = very.trim();
	const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(s);
	if (!m) throw terr('bad_amount', `${JSON.stringify(very)} is not a decimal number`);
	const frac = m[2] || '';
	if (frac.length > 18) throw terr('bad_amount', `${JSON.stringify(very)} has more than 18 decimals`);
	const wei = BigInt(m[1] + frac.padEnd(18, '0'));
	if (wei <= 0n) throw terr('bad_amount', 'amount must be greater than zero');
	if (wei > UINT256_MAX) throw terr('bad_amount', 'amount exceeds uint256');
	return wei;
}

/** Writes wei as VERY without trailing zeros (1500000000000000000 → "1.5"). */
export function formatAmount(wei) {
	const q = wei / WEI_PER_VERY;
	const r = wei % WEI_PER_VERY;
	if (r === 0n) return q.toString();
	return q.toString() + '.' + r.toString().padStart(18, '0').replace(/0+$/, '');
}


/** keccak256(utf8(cid)), keccak256("") for an empty cid, as 0x hex. */
export function cidHashOf(cid) {
	return '0x' + toHex(keccak256(utf8(cid)));
}

/** TipRouter's getMessageHash: keccak256(abi.encodePacked(from, to, amount, cidHash, nonce)). */
export function messageHash(m) {
	const packed = concat(from0x(m.from), from0x(m.to), bigToBytes(m.amount, 32), from0x(m.cidHash), bigToBytes(m.nonce, 32));
	return '0x' + toHex(keccak256(packed));
}

/** vtpeer's nonce: (unix ms << 128) | 128 random bits, so the signing time is signed. */
export function newNonce(nowMs) {
	return (BigInt(nowMs) << 128n) | bytesToBig(randomBytes(16));
}

/** The unix-ms timestamp inside a vtpeer nonce, or null when the nonce is not of that form. */
export function nonceTimestamp(nonce) {
	const hi = nonce >> 128n;
	return hi >= MIN_NONCE_TS && hi < MAX_NONCE_TS ? hi : null;
}


function parseUint256(v, code, field) {
	let s;
	if (typeof v === 'string') s = v;
	else if (v instanceof JSONNumber) s = v.text;
	else throw terr(code, `${field} is not a decimal integer`);
	if (s.startsWith('-')) throw terr(code, `${field} is negative, want a non-negative uint256`);
	if (!s || s.length > 80 || !/^[0-9]+$/.test(s)) throw terr(code, `${field} is not a decimal integer`);
	const n = BigInt(s);
	if (n > UINT256_MAX) throw terr(code, `${field} exceeds uint256`);
	return n;
}

function parseAddr(field, v) {
	if (v === undefined || v === null) throw terr('bad_address', `no ${field} address`);
	if (typeof v !== 'string' || !isAddress(v)) throw terr('bad_address', `${field} ${JSON.stringify(trunc(String(v)))} is not a 20-byte 0x-prefixed hex address`);
	return checksumAddress(v);
}

function parseHash(v) {
	if (typeof v !== 'string' || !/^0[xX][0-9a-fA-F]{64}$/.test(v)) return null;
	return '0x' + v.slice(2).toLowerCase();
}

function checkFields(o, allowed, what) {
	for (const k of Object.keys(o)) if (!allowed.includes(k)) throw terr('malformed', `invalid JSON: unknown field ${JSON.stringify(trunc(k))} in ${what}`);
}

/** Parses a signed-meta JSON like pkg/tips.ParseSignedMeta (also the old browser client's form). */
export function parseSignedMeta(text) {
	if (utf8(text).length > MAX_SIGNED_META) throw terr('malformed', `signed meta larger than ${MAX_SIGNED_META} bytes`);
	let w;
	try {
		w = parseJSON(text, { keepNumbers: true });
	} catch (e) {
		throw terr('malformed', 'invalid JSON: ' + e.message);
	}
	if (!w || typeof w !== 'object' || Array.isArray(w)) throw terr('malformed', 'invalid JSON: not an object');
	checkFields(w, ['type', 'meta', 'signature', 'messageHash'], 'signed meta');
	if (w.type != null && w.type !== 'signed-meta') throw terr('malformed', `type ${JSON.stringify(trunc(String(w.type)))} is not "signed-meta"`);
	const wm = w.meta;
	if (wm == null) throw terr('malformed', 'no meta');
	if (typeof wm !== 'object' || Array.isArray(wm)) throw terr('malformed', 'invalid JSON: field meta has the wrong type');
	checkFields(wm, ['from', 'to', 'amount', 'timestamp', 'cid', 'cidHash', 'nonce'], 'meta');
	if (w.signature == null) throw terr('malformed', 'no signature');
	if (typeof w.signature !== 'string') throw terr('malformed', 'invalid JSON: field signature has the wrong type');
	const meta = {};
	meta.from = parseAddr('from', wm.from);
	meta.to = parseAddr('to', wm.to);
	if (wm.amount == null) throw terr('bad_amount', 'no amount');
	meta.amount = parseUint256(wm.amount, 'bad_amount', 'amount');
	meta.nonce = wm.nonce == null ? 0n : parseUint256(wm.nonce, 'bad_nonce', 'nonce');
	meta.timestamp = 0;
	if (wm.timestamp != null) {
		let ts;
		try {
			ts = parseUint256(wm.timestamp, 'malformed', 'timestamp');
		} catch {
			ts = -1n;
		}
		if (ts < 0n || ts > 2n ** 63n - 1n) throw terr('malformed', 'timestamp is not a non-negative integer of milliseconds');
		meta.timestamp = Number(ts);
	}
	if (wm.cid != null && typeof wm.cid !== 'string') throw terr('malformed', 'invalid JSON: field meta.cid has the wrong type');
	meta.cid = wm.cid || '';
	meta.cidHash = null;
	if (wm.cidHash != null) {
		meta.cidHash = parseHash(wm.cidHash);
		if (!meta.cidHash) throw terr('malformed', 'cidHash is not a 32-byte 0x-prefixed hex value');
	}
	let signature;
	try {
		signature = from0x(w.signature);
	} catch {
		throw terr('malformed', 'signature is not 0x-prefixed hex');
	}
	let mh = null;
	if (w.messageHash != null) {
		mh = parseHash(w.messageHash);
		if (!mh) throw terr('malformed', 'messageHash is not a 32-byte 0x-prefixed hex value');
	}
	return { meta, signature, messageHash: mh };
}

/** The cidHash that is signed: the explicit one, else keccak256(utf8(cid)). */
function cidHashValue(meta) {
	return meta.cidHash || cidHashOf(meta.cid);
}

/** pkg/tips.checkMeta: the checks that need no signature. */
function checkMeta(m) {
	const zero = '0x' + '0'.repeat(40);
	if (m.from.toLowerCase() === zero) throw terr('bad_address', 'meta.from is the zero address');
	if (m.to.toLowerCase() === zero) throw terr('bad_address', 'meta.to is the zero address');
	if (m.from.toLowerCase() === m.to.toLowerCase()) throw terr('same_from_to', `meta.from and meta.to are both ${m.from}`);
	if (m.amount <= 0n || m.amount > UINT256_MAX) throw terr('bad_amount', `amount ${m.amount} is not a uint256 greater than zero`);
	if (m.nonce < 0n || m.nonce > UINT256_MAX) throw terr('bad_nonce', 'nonce is not a uint256');
	if (utf8(m.cid).length > MAX_CID) throw terr('malformed', `cid longer than ${MAX_CID} bytes`);
	if (m.cidHash && m.cid !== '') {
		const got = cidHashOf(m.cid);
		if (got !== m.cidHash) throw terr('cid_hash_mismatch', `cid hashes to ${got}, not the given cidHash ${m.cidHash}`);
	}
}

const fmtDur = (ms) => `${Math.floor(Number(ms) / 1000)}s`;

/** Verifies a parsed signed meta exactly as pkg/tips.Verifier (same codes, same order). */
export function verify(sm, opts = {}) {
	const m = sm.meta;
	checkMeta(m);
	const hash = messageHash({ ...m, cidHash: cidHashValue(m) });
	if (sm.messageHash && sm.messageHash !== hash) {
		throw terr('message_hash_mismatch', `messageHash ${sm.messageHash} does not match the meta (recomputed ${hash})`);
	}
	const signer = recoverDigest(eip191Hash(fromHex(hash.slice(2))), sm.signature);
	if (signer.toLowerCase() !== m.from.toLowerCase()) throw terr('signer_mismatch', `signer ${signer} is not meta.from ${m.from}`);
	const res = { signer, hash, timestampSigned: false, timestamp: 0 };
	const ts = nonceTimestamp(m.nonce);
	if (ts === null) return res;
	if (m.timestamp !== 0 && BigInt(m.timestamp) !== ts) {
		throw terr('timestamp_mismatch', `meta.timestamp ${m.timestamp} differs from the signed timestamp ${ts}`);
	}
	const now = BigInt(Math.floor(opts.nowMs ?? Date.now()));
	const maxAge = BigInt(opts.maxAgeMs || DEFAULT_MAX_AGE_MS);
	const maxFuture = BigInt(opts.maxFutureMs || DEFAULT_MAX_FUTURE_MS);
	if (now - ts > maxAge) throw terr('expired', `tip signed ${fmtDur(now - ts)} ago, max age ${fmtDur(maxAge)}`);
	if (ts - now > maxFuture) throw terr('future', `tip signed ${fmtDur(ts - now)} in the future, max ${fmtDur(maxFuture)}`);
	res.timestampSigned = true;
	res.timestamp = Number(ts);
	return res;
}

/** Builds and signs a tip as `vtpeer tip` does (timestamped nonce) and returns its wire JSON. */
export async function signTip(signer, t) {
	const now = t.nowMs ?? Date.now();
	const meta = { from: checksumAddress(signer.address), to: checksumAddress(t.to), amount: t.amount, timestamp: now, cid: t.cid || '', cidHash: null, nonce: newNonce(now) };
	checkMeta(meta);
	const cidHash = cidHashValue(meta);
	const hash = messageHash({ ...meta, cidHash });
	const sig = await signer.personalSign(fromHex(hash.slice(2)));
	const json =
		`{"type":"signed-meta","meta":{"from":"${meta.from}","to":"${meta.to}","amount":"${meta.amount}","timestamp":${meta.timestamp},` +
		`"cid":${JSON.stringify(meta.cid)},"cidHash":"${cidHash}","nonce":"${meta.nonce}"},"signature":"0x${toHex(sig)}","messageHash":"${hash}"}`;
	return { json, hash, meta };
}


/** Go's strconv.Quote of a printable-ASCII receipt field ("\"" and "\\" escaped). */
export const goQuote = (s) => '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';

/** The signed digest text of a receipt (PROTOCOL.md; vector in testdata/seal/offline.json). */
export function receiptDigest(r) {
	return (
		`vtpeer receipt v1\nmessageHash:${r.messageHash.toLowerCase()}\naccepted:${r.accepted ? 'true' : 'false'}\n` +
		`code:${goQuote(r.code || '')}\nreason:${goQuote(r.reason || '')}\nforwarded:${goQuote(r.forwarded || '')}\n`
	);
}

/** Printable ASCII only, so both ends quote the same bytes. */
const ascii = (s) => (s || '').replace(/[^\x20-\x7e]/g, '?');

/** A receipt JSON in pkg/tips' form (empty fields omitted), signed when a signer is given. */
export async function makeReceipt(r, signer) {
	const rr = { messageHash: r.messageHash.toLowerCase(), accepted: !!r.accepted, code: ascii(r.code), reason: ascii(r.reason), forwarded: ascii(r.forwarded) };
	let s = `{"type":"receipt","messageHash":"${rr.messageHash}","accepted":${rr.accepted}`;
	for (const k of ['code', 'reason', 'forwarded']) if (rr[k]) s += `,"${k}":${JSON.stringify(rr[k])}`;
	if (signer) {
		const sig = await signer.personalSign(utf8(receiptDigest(rr)));
		s += `,"signer":"${checksumAddress(signer.address)}","signature":"0x${toHex(sig)}"`;
	}
	return s + '}';
}

/** Parses a receipt and checks its signature when it has one. */
export function parseReceipt(text) {
	if (utf8(text).length > MAX_RECEIPT) throw new Error(`receipt larger than ${MAX_RECEIPT} bytes`);
	const w = parseJSON(text);
	if (!w || typeof w !== 'object' || w.type !== 'receipt') throw new Error('not a receipt');
	const messageHash = parseHash(w.messageHash);
	if (!messageHash) throw new Error('receipt messageHash');
	const r = { messageHash, accepted: w.accepted === true, code: str(w.code), reason: str(w.reason), forwarded: str(w.forwarded), signer: '' };
	if (w.signature || w.signer) {
		if (typeof w.signer !== 'string' || !isAddress(w.signer) || typeof w.signature !== 'string') throw new Error('invalid receipt signature: unsigned');
		let got;
		try {
			got = recoverPersonal(utf8(receiptDigest(r)), from0x(w.signature));
		} catch (e) {
			throw new Error('invalid receipt signature: ' + e.message);
		}
		if (got.toLowerCase() !== w.signer.toLowerCase()) throw new Error(`invalid receipt signature: signed by ${got}, not ${w.signer}`);
		r.signer = got;
	}
	return r;
}
const str = (v) => (typeof v === 'string' ? v : '');


/** Judges one received tip like vtpeer's tip desk: verify, recipient, replay, signed receipt. */
export async function judge(body, d) {
	const ev = { verified: false, code: '', reason: '', from: '', to: '', amount: '', amountVery: '', cid: '', messageHash: '', timestampSigned: false };
	const done = async (hash) => ({ event: ev, receipt: await makeReceipt({ messageHash: hash, accepted: ev.verified || ev.code === 'already_accepted', code: ev.code, reason: ev.reason }, d.signer) });
	let sm;
	try {
		sm = parseSignedMeta(body);
	} catch (e) {
		if (!(e instanceof TipError)) throw e;
		ev.code = e.code;
		ev.reason = e.reason;
		return done(ZERO_HASH);
	}
	const m = sm.meta;
	Object.assign(ev, { from: m.from, to: m.to, cid: m.cid, amount: m.amount.toString(), amountVery: formatAmount(m.amount) });
	const hash = messageHash({ ...m, cidHash: cidHashValue(m) });
	ev.messageHash = hash;
	let res;
	try {
		res = verify(sm, { nowMs: d.nowMs, maxAgeMs: d.queued ? Math.max(d.maxAgeMs || DEFAULT_MAX_AGE_MS, QUEUED_MAX_AGE_MS) : d.maxAgeMs });
	} catch (e) {
		if (!(e instanceof TipError)) throw e;
		ev.code = e.code;
		ev.reason = e.reason;
		return done(hash);
	}
	ev.timestampSigned = res.timestampSigned;
	if (d.signer && m.to.toLowerCase() !== d.signer.address.toLowerCase()) {
		ev.code = 'wrong_recipient';
		ev.reason = `this tip is for ${m.to}, not for this account ${checksumAddress(d.signer.address)}`;
		return done(hash);
	}
	let fresh;
	try {
		fresh = await d.store.record(hash, d.nowMs ?? Date.now());
	} catch {
		ev.code = 'store';
		ev.reason = 'the receiver could not record the tip';
		return done(hash);
	}
	if (!fresh) {
		ev.code = d.queued ? 'already_accepted' : 'replay';
		ev.reason = d.queued ? 'this queued tip was delivered and accepted before' : 'this tip was already accepted';
		return done(hash);
	}
	ev.verified = true;
	return done(hash);
}
