// The vtpeer seal (docs/PROTOCOL.md "Seal (DataChannel) protocol", docs/SECURITY.md) in WebCrypto:
// X25519 ECDH, HKDF-SHA256, AES-256-GCM, SHA-256. Mirrors pkg/seal: a Handshake (hello/commit,
// hello, reveal) yields a Session (SAS, sealed frames with counter nonces, strict next-frame open).
//
// The key schedule is one function (keySchedule) fed by the handshake's shared secret and
// transcript hash, so that later protocol versions can mix more input (e.g. a continuity secret
// of an earlier session with the same peer) in one place.

import { parseFlat, JSONNumber } from './json.js';
import { b64u, fromB64u, concat, lp, utf8, toHex, equalBytes, wipe, u64be, readU64 } from './bytes.js';

/** Protocol constants (PROTOCOL.md "Constants"). */
export const VERSION = 1;
export const TAG = 'vtpeer/seal/v1';
const COMMIT_LABEL = TAG + ' commit';
const INFO_OA = TAG + ' key offerer->answerer';
const INFO_AO = TAG + ' key answerer->offerer';
const INFO_SAS = TAG + ' sas';
export const MAX_MESSAGE = 4096;
export const MAX_ROOM = 1024;
export const FRAME_VERSION = 1;
export const HEADER_SIZE = 9;
export const TAG_SIZE = 16;
export const OVERHEAD = HEADER_SIZE + TAG_SIZE;
const MAX_FRAMES = 2n ** 32n;
const MAX_BYTES = 2n ** 38n;

/** Roles: the WebRTC offerer and answerer (or, on the relay, the newer and older member). */
export const OFFERER = 'offerer';
export const ANSWERER = 'answerer';

export function peerRole(r) {
	return r === OFFERER ? ANSWERER : OFFERER;
}

/** A seal error; `code`: malformed, version, role, fingerprint, commit, bad_key, auth, state, exhausted, closed, identity or config. */
export class SealError extends Error {
	constructor(code, msg) {
		super('seal: ' + msg);
		this.name = 'SealError';
		this.code = code;
	}
}
const malformed = (m) => new SealError('malformed', 'malformed handshake message: ' + m);
export const ErrAuth = () => new SealError('auth', 'message authentication failed');

const subtle = () => globalThis.crypto.subtle;

/** SHA-256 of bytes. */
export async function sha256(b) {
	return new Uint8Array(await subtle().digest('SHA-256', b));
}

/** The offerer's commitment C = SHA-256(lp("vtpeer/seal/v1 commit") || lp(kO)). */
export function commitment(offererKey) {
	return sha256(concat(lp(utf8(COMMIT_LABEL)), lp(offererKey)));
}

/** TH = SHA-256(lp(TAG) || lp(room) || lp(kO) || lp(fpO) || lp(kA) || lp(fpA)). */
export function transcriptHash(room, kO, fpO, kA, fpA) {
	return sha256(concat(lp(utf8(TAG)), lp(utf8(room)), lp(kO), lp(fpO), lp(kA), lp(fpA)));
}

/** The SAS: u64be(kS[0:8]) mod 10^6 as exactly 6 digits. */
export function sasDigits(sasKey) {
	return (readU64(sasKey, 0) % 1000000n).toString().padStart(6, '0');
}

/** Canonical X25519 u-coordinate: 32 bytes, bit 255 clear, u < 2^255 - 19. */
export function canonicalKey(k) {
	if (k.length !== 32 || k[31] & 0x80) return false;
	if (k[31] !== 0x7f || k[0] < 0xed) return true;
	for (let i = 1; i < 31; i++) if (k[i] !== 0xff) return true;
	return false;
}

// ---- handshake messages

function bytesField(o, key, n, required) {
	const v = o.get(key);
	if (v === undefined) {
		if (required) throw malformed(`missing field ${JSON.stringify(key)}`);
		return null;
	}
	if (typeof v !== 'string') throw malformed(`field ${JSON.stringify(key)} must be a string`);
	const b = fromB64u(v);
	if (!b || b.length !== n) throw malformed(`field ${JSON.stringify(key)} must be ${n} bytes of base64url`);
	return b;
}

function strField(o, key) {
	const v = o.get(key);
	if (v === undefined) throw malformed(`missing field ${JSON.stringify(key)}`);
	if (typeof v !== 'string') throw malformed(`field ${JSON.stringify(key)} must be a string`);
	return v;
}

function flat(text, allowed) {
	if (utf8(text).length > MAX_MESSAGE) throw malformed(`more than ${MAX_MESSAGE} bytes`);
	try {
		return parseFlat(text, allowed);
	} catch (e) {
		throw malformed(e.message);
	}
}

/** Parses a hello strictly (PROTOCOL.md "Handshake messages"). */
export function parseHello(text) {
	const o = flat(text, ['type', 'v', 'role', 'key', 'commit', 'fp']);
	if (strField(o, 'type') !== 'hello') throw malformed('type is not hello');
	const v = o.get('v');
	if (v === undefined) throw malformed('missing field "v"');
	if (!(v instanceof JSONNumber) || !/^[1-9][0-9]{0,2}$/.test(v.text) || Number(v.text) > 255) {
		throw malformed(`bad version ${typeof v === 'string' ? JSON.stringify(v) : v.text}`);
	}
	const role = strField(o, 'role');
	if (role !== OFFERER && role !== ANSWERER) throw malformed('bad role');
	const h = {
		v: Number(v.text),
		role,
		key: bytesField(o, 'key', 32, false),
		commit: bytesField(o, 'commit', 32, false),
		fp: bytesField(o, 'fp', 32, false),
	};
	if (role === OFFERER && (!h.commit || h.key)) throw malformed('offerer hello needs commit and no key');
	if (role === ANSWERER && (!h.key || h.commit)) throw malformed('answerer hello needs key and no commit');
	return h;
}

/** Parses a reveal strictly. */
export function parseReveal(text) {
	const o = flat(text, ['type', 'key']);
	if (strField(o, 'type') !== 'reveal') throw malformed('type is not reveal');
	return bytesField(o, 'key', 32, true);
}

/** Encodes a hello exactly as the Go encoder does (field order type, v, role, commit|key, fp). */
export function marshalHello(h) {
	let s = `{"type":"hello","v":${VERSION},"role":"${h.role}"`;
	if (h.commit) s += `,"commit":"${b64u(h.commit)}"`;
	if (h.key) s += `,"key":"${b64u(h.key)}"`;
	if (h.fp && h.fp.length) s += `,"fp":"${b64u(h.fp)}"`;
	return s + '}';
}

export function marshalReveal(key) {
	return `{"type":"reveal","key":"${b64u(key)}"}`;
}

// ---- keys

/** A fresh X25519 key pair; the private key is not extractable. */
export async function x25519KeyPair() {
	const kp = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
	return { privateKey: kp.privateKey, pub: new Uint8Array(await subtle().exportKey('raw', kp.publicKey)) };
}

/** Z = X25519(own private, peer public), refusing non-canonical and low-order keys. */
async function sharedSecret(privateKey, peerKey) {
	if (!canonicalKey(peerKey)) throw new SealError('bad_key', 'bad peer key: non-canonical encoding');
	let z;
	try {
		const pk = await subtle().importKey('raw', peerKey, { name: 'X25519' }, false, []);
		z = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: pk }, privateKey, 256));
	} catch {
		throw new SealError('bad_key', 'bad peer key');
	}
	if (z.every((b) => b === 0)) throw new SealError('bad_key', 'bad peer key: low order');
	return z;
}

/** The key schedule (PROTOCOL.md "Key derivation"): PRK = HKDF-Extract(salt TH, ikm Z); kOA, kAO and the SAS key are HKDF-Expand(PRK, label, 32). */
export async function keySchedule(z, th, extractable = false) {
	const ikm = await subtle().importKey('raw', z, 'HKDF', false, ['deriveBits']);
	const expand = async (info) =>
		new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: th, info: utf8(info) }, ikm, 256));
	const raw = { oa: await expand(INFO_OA), ao: await expand(INFO_AO), sas: await expand(INFO_SAS) };
	const aes = (b) => subtle().importKey('raw', b, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
	const out = { oa: await aes(raw.oa), ao: await aes(raw.ao), sasKey: raw.sas };
	if (extractable) out.raw = { oa: raw.oa.slice(), ao: raw.ao.slice() };
	wipe(raw.oa);
	wipe(raw.ao);
	return out;
}

// ---- handshake

/** One side of the seal handshake. Feed it the peer's text messages in arrival order, one at a time (await each handle before the next). */
export class Handshake {
	constructor(cfg) {
		const room = cfg.room;
		if (typeof room !== 'string' || !room || utf8(room).length > MAX_ROOM) {
			throw new SealError('config', `room must be 1..${MAX_ROOM} bytes of UTF-8`);
		}
		if (cfg.role !== OFFERER && cfg.role !== ANSWERER) throw new SealError('config', 'bad role');
		const lf = cfg.localFingerprint || null;
		const rf = cfg.remoteFingerprint || null;
		if (cfg.noChannelBinding ? lf || rf : !lf || !rf || lf.length !== 32 || rf.length !== 32) {
			throw new SealError('config', 'fingerprints must be 32 bytes (or noChannelBinding without them)');
		}
		this.cfg = { ...cfg, localFingerprint: lf, remoteFingerprint: rf };
		this.state = 'new';
	}

	get role() {
		return this.cfg.role;
	}

	/** Draws the ephemeral key and returns the first message to send: the offerer's hello, or null for the answerer (which speaks only after the offerer's hello). */
	async start() {
		if (this.state !== 'new') throw new SealError('state', 'handshake used out of order');
		this.state = 'busy';
		try {
			const kp = this.cfg.keyPair || (await x25519KeyPair()); // keyPair: known-answer tests only
			this.sk = kp.privateKey;
			this.pub = kp.pub;
			this.state = 'waitHello';
			if (this.cfg.role === ANSWERER) return null;
			return marshalHello({ role: OFFERER, commit: await commitment(this.pub), fp: this.cfg.localFingerprint });
		} catch (e) {
			throw this.fail(e);
		}
	}

	/** Processes one message from the peer. Returns the reply to send first (or null) and, once complete, the Session. */
	async handle(text) {
		const st = this.state;
		if (st !== 'waitHello' && st !== 'waitReveal') throw new SealError('state', 'handshake used out of order');
		this.state = 'busy';
		try {
			if (st === 'waitHello') {
				const h = parseHello(text);
				this.checkHello(h);
				const fp = this.cfg.localFingerprint;
				if (this.cfg.role === ANSWERER) {
					this.commit = h.commit;
					this.peerFP = h.fp;
					this.state = 'waitReveal';
					return { reply: marshalHello({ role: ANSWERER, key: this.pub, fp }), session: null };
				}
				const session = await this.finish(this.pub, fp, h.key, h.fp);
				return { reply: marshalReveal(this.pub), session };
			}
			const key = parseReveal(text);
			if (!equalBytes(await commitment(key), this.commit)) throw new SealError('commit', 'commitment mismatch');
			const session = await this.finish(key, this.peerFP, this.pub, this.cfg.localFingerprint);
			return { reply: null, session };
		} catch (e) {
			throw this.fail(e);
		}
	}

	checkHello(h) {
		if (h.v !== VERSION) throw new SealError('version', `unsupported version: peer speaks v${h.v}, we speak v${VERSION}`);
		if (h.role !== peerRole(this.cfg.role)) throw new SealError('role', `role: both sides are ${this.cfg.role}`);
		if (this.cfg.noChannelBinding) {
			if (h.fp) throw new SealError('fingerprint', 'fingerprint mismatch: peer binds a DTLS fingerprint on a path without one');
			return;
		}
		if (!h.fp || !equalBytes(h.fp, this.cfg.remoteFingerprint)) throw new SealError('fingerprint', 'fingerprint mismatch');
	}

	async finish(kO, fpO, kA, fpA) {
		const peerKey = this.cfg.role === OFFERER ? kA : kO;
		if (equalBytes(peerKey, this.pub)) throw new SealError('bad_key', 'bad peer key: equals ours');
		const sk = this.sk;
		this.sk = null;
		const z = await sharedSecret(sk, peerKey);
		const empty = new Uint8Array(0);
		try {
			const th = await transcriptHash(this.cfg.room, kO, fpO || empty, kA, fpA || empty);
			const k = await keySchedule(z, th, this.cfg.extractable);
			if (this.cfg.extractable) k.raw.shared = z.slice();
			const s = new Session(this.cfg.role, this.cfg.room, th, k);
			this.state = 'done';
			this.commit = this.peerFP = null;
			return s;
		} finally {
			wipe(z);
		}
	}

	fail(e) {
		this.state = 'failed';
		this.sk = null;
		return e instanceof SealError ? e : new SealError('malformed', e && e.message ? e.message : String(e));
	}
}

// ---- session

/** A sealed session: frames `0x01 | seq u64 | AES-256-GCM(ciphertext || tag)`, nonce `0^32 || u64be(seq)`, AAD the 9-byte header. */
export class Session {
	constructor(role, room, th, k) {
		this.role = role;
		this.room = room;
		this.th = th;
		this.sas = sasDigits(k.sasKey);
		this.sasKey = k.sasKey; // kept for tests and a later continuity extension; never logged
		this.raw = k.raw; // known-answer tests only
		const [send, recv] = role === OFFERER ? [k.oa, k.ao] : [k.ao, k.oa];
		this.send = { key: send, seq: 0n, bytes: 0n };
		this.recv = { key: recv, seq: 0n, failed: false, chain: Promise.resolve() };
		this.closed = false;
	}

	/** Seals one plaintext as the next frame of this direction. */
	async seal(plaintext) {
		if (this.closed) throw new SealError('closed', 'session closed');
		const d = this.send;
		if (d.seq >= MAX_FRAMES || BigInt(plaintext.length) > MAX_BYTES - d.bytes) throw new SealError('exhausted', 'session exhausted: a new handshake is needed');
		const seq = d.seq++;
		d.bytes += BigInt(plaintext.length);
		const hdr = concat(Uint8Array.of(FRAME_VERSION), u64be(seq));
		const nonce = concat(new Uint8Array(4), u64be(seq));
		const ct = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: hdr, tagLength: 128 }, d.key, plaintext));
		return concat(hdr, ct);
	}

	/** Opens the next frame of the peer's direction: it must carry exactly the next seq and authenticate. */
	open(frame) {
		const d = this.recv;
		const p = d.chain.then(() => this.openNow(frame));
		d.chain = p.catch(() => {});
		return p;
	}

	async openNow(frame) {
		if (this.closed) throw new SealError('closed', 'session closed');
		const d = this.recv;
		if (d.failed) throw ErrAuth();
		if (frame.length < OVERHEAD || frame[0] !== FRAME_VERSION || d.seq >= MAX_FRAMES || readU64(frame, 1) !== d.seq) {
			d.failed = true;
			throw ErrAuth();
		}
		const hdr = frame.subarray(0, HEADER_SIZE);
		const nonce = concat(new Uint8Array(4), hdr.subarray(1));
		try {
			const pt = await subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: hdr, tagLength: 128 }, d.key, frame.subarray(HEADER_SIZE));
			d.seq++;
			return new Uint8Array(pt);
		} catch {
			d.failed = true;
			throw ErrAuth();
		}
	}

	/** Drops the keys; later seal/open fail with `closed`. */
	close() {
		this.closed = true;
		this.send.key = this.recv.key = null;
		wipe(this.sasKey);
	}
}

// ---- identity

/** "room as a JSON string": ECMAScript JSON.stringify of the room (PROTOCOL.md "Identity"). */
export function quoteRoom(room) {
	return JSON.stringify(room);
}

/** The text an identity signs (EIP-191 personal_sign). */
export function identityMessage(room, signerRole, th, staticKey) {
	let s = `vtpeer handshake v1\nroom: ${quoteRoom(room)}\nrole: ${signerRole}\ntranscript: ${toHex(th)}\n`;
	if (staticKey && staticKey.length) s += `static-key: ${toHex(staticKey)}\n`;
	return s;
}

const HEX0X = (n) => new RegExp(`^0x[0-9a-fA-F]{${2 * n}}$`);
const ADDRESS_RE = HEX0X(20);
const SIG_RE = HEX0X(65);

/** Encodes an identity message {"type":"identity","address","signature","staticKey"?}. */
export function marshalIdentity(id) {
	if (!ADDRESS_RE.test(id.address) || !SIG_RE.test(id.signature)) throw malformed('bad identity');
	let s = `{"type":"identity","address":"${id.address}","signature":"${id.signature}"`;
	if (id.staticKey && id.staticKey.length) s += `,"staticKey":"${b64u(id.staticKey)}"`;
	return s + '}';
}

/** Parses an identity message with the hello's strictness (hex of either case). */
export function parseIdentity(text) {
	const o = flat(text, ['type', 'address', 'signature', 'staticKey']);
	if (strField(o, 'type') !== 'identity') throw malformed('type is not identity');
	const address = strField(o, 'address');
	const signature = strField(o, 'signature');
	if (!ADDRESS_RE.test(address)) throw malformed('address must be 0x and 40 hex digits');
	if (!SIG_RE.test(signature)) throw malformed('signature must be 0x and 130 hex digits');
	return { address, signature, staticKey: bytesField(o, 'staticKey', 32, false) };
}

/** Signs this side's identity for a session. */
export async function signIdentity(s, address, personalSign, staticKey) {
	const sig = await personalSign(identityMessage(s.room, s.role, s.th, staticKey));
	return marshalIdentity({ address, signature: sig, staticKey });
}

/** Verifies the peer's identity JSON against this session (the peer's role, our TH and room); returns the proven address. recoverAddress(text, sigBytes) recovers an EIP-191 signer. */
export function verifyIdentity(s, text, recoverAddress) {
	const id = parseIdentity(text);
	let addr;
	try {
		addr = recoverAddress(identityMessage(s.room, peerRole(s.role), s.th, id.staticKey), id.signature);
	} catch (e) {
		throw new SealError('identity', 'identity signature invalid: ' + e.message);
	}
	if (addr.toLowerCase() !== id.address.toLowerCase()) throw new SealError('identity', 'identity signature invalid');
	return { address: addr, staticKey: id.staticKey };
}
