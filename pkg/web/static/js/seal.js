// The vtpeer seal in WebCrypto (docs/PROTOCOL.md "Seal (DataChannel) protocol", "Continuity"); mirrors pkg/seal.

import { parseFlat, JSONNumber } from './json.js';
import { b64u, fromB64u, concat, lp, utf8, toHex, equalBytes, wipe, u64be, readU64 } from './bytes.js';

/** Hello versions: 1 (no retained secret), 2 (continuity). */
export const VERSION = 2;
const T1 = 'vtpeer/seal/v1';
const T2 = 'vtpeer/seal/v2';
const labels = (v) => ['key offerer->answerer', 'key answerer->offerer', 'sas'].map((l) => (v === 1 ? T1 : T2) + ' ' + l);
export const MAX_MESSAGE = 4096;
export const MAX_ROOM = 1024;
export const OVERHEAD = 25; // 9-byte header + 16-byte tag
const MAX_FRAMES = 2n ** 32n;
const MAX_BYTES = 2n ** 38n;
const EMPTY = new Uint8Array(0);

export const OFFERER = 'offerer';
export const ANSWERER = 'answerer';
export const peerRole = (r) => (r === OFFERER ? ANSWERER : OFFERER);

/** A seal error with a `code` (malformed, version, role, fingerprint, commit, bad_key, continuity, auth, …). */
export class SealError extends Error {
	constructor(code, msg) {
		super('seal: ' + msg);
		this.code = code;
	}
}
const malformed = (m) => new SealError('malformed', 'malformed handshake message: ' + m);
const ErrAuth = () => new SealError('auth', 'message authentication failed');

const subtle = () => globalThis.crypto.subtle;

/** SHA-256 of bytes. */
export const sha256 = async (b) => new Uint8Array(await subtle().digest('SHA-256', b));
const hmacKey = (k) => subtle().importKey('raw', k, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
const hmac = async (k, m) => new Uint8Array(await subtle().sign('HMAC', k, m));

/** C = SHA-256(lp("vtpeer/seal/v1 commit") || lp(kO)). */
export const commitment = (kO) => sha256(concat(lp(utf8(T1 + ' commit')), lp(kO)));

/** TH (v1) or TH2 (v2, contID = the continued secret's id, empty for none). */
export function transcriptHash(room, kO, fpO, kA, fpA, contID) {
	const f = [lp(utf8(contID ? T2 : T1)), lp(utf8(room)), lp(kO), lp(fpO), lp(kA), lp(fpA)];
	if (contID) f.push(lp(contID));
	return sha256(concat(...f));
}

/** id(CS) = HMAC-SHA256(CS, "vtpeer/seal/v2 continuity id" || 0x01)[0:16]. */
export const continuityID = async (cs) => (await hmac(await hmacKey(cs), concat(utf8(T2 + ' continuity id'), Uint8Array.of(1)))).slice(0, 16);

/** The SAS: u64be(kS[0:8]) mod 10^6 as exactly 6 digits. */
export const sasDigits = (k) => (readU64(k, 0) % 1000000n).toString().padStart(6, '0');

/** Canonical X25519 u-coordinate: 32 bytes, bit 255 clear, u < 2^255 - 19. */
export function canonicalKey(k) {
	if (k.length !== 32 || k[31] & 0x80) return false;
	if (k[31] !== 0x7f || k[0] < 0xed) return true;
	for (let i = 1; i < 31; i++) if (k[i] !== 0xff) return true;
	return false;
}


function bytesField(o, key, n, required) {
	const v = o.get(key);
	if (v === undefined) {
		if (required) throw malformed(`missing field "${key}"`);
		return null;
	}
	if (typeof v !== 'string') throw malformed(`field "${key}" must be a string`);
	const b = fromB64u(v);
	if (!b || b.length !== n) throw malformed(`field "${key}" must be ${n} bytes of base64url`);
	return b;
}

function strField(o, key) {
	const v = o.get(key);
	if (typeof v !== 'string') throw malformed(v === undefined ? `missing field "${key}"` : `field "${key}" must be a string`);
	return v;
}

function flat(text, type, allowed) {
	if (utf8(text).length > MAX_MESSAGE) throw malformed(`more than ${MAX_MESSAGE} bytes`);
	let o;
	try {
		o = parseFlat(text, ['type', ...allowed]);
	} catch (e) {
		throw malformed(e.message);
	}
	if (strField(o, 'type') !== type) throw malformed('type is not ' + type);
	return o;
}

/** Parses a hello strictly (PROTOCOL.md "Handshake messages", "Continuity"). */
export function parseHello(text) {
	const o = flat(text, 'hello', ['v', 'role', 'key', 'commit', 'fp', 'rs1', 'rs2', 'rs']);
	const v = o.get('v');
	if (v === undefined) throw malformed('missing field "v"');
	if (!(v instanceof JSONNumber) || !/^[1-9][0-9]{0,2}$/.test(v.text) || Number(v.text) > 255) {
		throw malformed(`bad version ${typeof v === 'string' ? JSON.stringify(v) : v.text}`);
	}
	const role = strField(o, 'role');
	if (role !== OFFERER && role !== ANSWERER) throw malformed('bad role');
	const f = (k, n = 32) => bytesField(o, k, n, false);
	const h = { v: Number(v.text), role, key: f('key'), commit: f('commit'), fp: f('fp'), rs: f('rs', 16) };
	const rs1 = f('rs1', 16);
	const rs2 = f('rs2', 16);
	if (rs2 && !rs1) throw malformed('rs2 without rs1');
	h.ids = [rs1, rs2].filter(Boolean);
	const off = role === OFFERER;
	if (off && (!h.commit || h.key)) throw malformed('offerer hello needs commit and no key');
	if (!off && (!h.key || h.commit)) throw malformed('answerer hello needs key and no commit');
	if (h.v === 1 && (h.ids.length || h.rs)) throw malformed('a version 1 hello has no continuity ids');
	if (off && h.v >= 2 && !h.ids.length) throw malformed('a version 2 offerer hello needs rs1 (and at most rs2)');
	if ((off && h.rs) || (!off && h.ids.length)) throw malformed('rs1/rs2 belong to the offerer, rs to the answerer');
	return h;
}

/** Parses a reveal strictly; returns the key. */
export const parseReveal = (text) => bytesField(flat(text, 'reveal', ['key']), 'key', 32, true);

/** Parses an abort ({"type":"abort","code":…}); returns its code. */
export function parseAbort(text) {
	const c = strField(flat(text, 'abort', ['code']), 'code');
	if (!/^[a-z0-9_]{1,64}$/.test(c)) throw malformed('abort code must be 1..64 of [a-z0-9_]');
	return c;
}

/** Encodes a hello exactly as the Go encoder does (type, v, role, commit|key, fp, rs1, rs2, rs). */
export function marshalHello(h) {
	let s = `{"type":"hello","v":${h.v || 1},"role":"${h.role}"`;
	const add = (k, b) => b && b.length && (s += `,"${k}":"${b64u(b)}"`);
	add('commit', h.commit);
	add('key', h.key);
	add('fp', h.fp);
	(h.ids || []).forEach((id, i) => add('rs' + (i + 1), id));
	add('rs', h.rs);
	return s + '}';
}

export const marshalReveal = (key) => `{"type":"reveal","key":"${b64u(key)}"}`;
export const marshalAbort = (code) => `{"type":"abort","code":"${code}"}`;


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

/** The key schedule (PROTOCOL.md "Key derivation", "Continuity"): keys, SAS, next continuity secret, close key. */
export async function keySchedule(version, z, cs, th, extractable = false) {
	const ikm = await subtle().importKey('raw', version === 1 ? z : concat(z, cs || EMPTY), 'HKDF', false, ['deriveBits']);
	const x = async (info) => new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: th, info: utf8(info) }, ikm, 256));
	const [oa, ao, sas] = labels(version);
	const raw = { oa: await x(oa), ao: await x(ao), sas: await x(sas), next: await x(T2 + ' continuity'), close: await x(T2 + ' close') };
	const aes = (b) => subtle().importKey('raw', b, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
	const k = { oa: await aes(raw.oa), ao: await aes(raw.ao), sas: sasDigits(raw.sas), next: raw.next, close: await hmacKey(raw.close) };
	if (extractable) k.raw = raw;
	else [raw.oa, raw.ao, raw.sas, raw.close].forEach(wipe);
	return k;
}


/** One side of the seal handshake; cfg as pkg/seal.Config (retained, requireContinuity). Await each handle. */
export class Handshake {
	constructor(cfg) {
		const { room, role, retained = [] } = cfg;
		if (typeof room !== 'string' || !room || utf8(room).length > MAX_ROOM) throw new SealError('config', `room must be 1..${MAX_ROOM} bytes of UTF-8`);
		if (role !== OFFERER && role !== ANSWERER) throw new SealError('config', 'bad role');
		const lf = cfg.localFingerprint || null;
		const rf = cfg.remoteFingerprint || null;
		if (cfg.noChannelBinding ? lf || rf : !lf || !rf || lf.length !== 32 || rf.length !== 32) {
			throw new SealError('config', 'fingerprints must be 32 bytes (or noChannelBinding without them)');
		}
		if (retained.length > 2 || retained.some((r) => r.length !== 32) || (cfg.requireContinuity && !retained.length)) throw new SealError('config', 'bad retained secrets');
		this.cfg = { ...cfg, localFingerprint: lf, remoteFingerprint: rf };
		this.retained = retained.map((r) => r.slice());
		this.version = retained.length ? 2 : 1;
		this.contIndex = -1;
		this.peerV = 0;
		this.state = 'new';
	}

	get role() {
		return this.cfg.role;
	}

	/** Draws the ephemeral key; returns the offerer's hello, or null for the answerer. */
	async start() {
		if (this.state !== 'new') throw new SealError('state', 'handshake used out of order');
		this.state = 'busy';
		try {
			const kp = this.cfg.keyPair || (await x25519KeyPair()); // keyPair: known-answer tests only
			this.sk = kp.privateKey;
			this.pub = kp.pub;
			this.ids = await Promise.all(this.retained.map(continuityID));
			this.state = 'waitHello';
			if (this.cfg.role === ANSWERER) return null;
			return marshalHello({ v: this.version, role: OFFERER, commit: await commitment(this.pub), fp: this.cfg.localFingerprint, ids: this.ids });
		} catch (e) {
			throw this.fail(e);
		}
	}

	/** Processes one message from the peer: {reply (send it first, or null), session (once complete, else null)}. */
	async handle(text) {
		const st = this.state;
		if (st !== 'waitHello' && st !== 'waitReveal') throw new SealError('state', 'handshake used out of order');
		this.state = 'busy';
		try {
			const fp = this.cfg.localFingerprint;
			if (st === 'waitHello') {
				const h = parseHello(text);
				this.checkHello(h);
				this.checkContinuity(h);
				if (this.cfg.role === ANSWERER) {
					this.commit = h.commit;
					this.peerFP = h.fp;
					this.state = 'waitReveal';
					return { reply: marshalHello({ v: this.version, role: ANSWERER, key: this.pub, fp, rs: this.ids[this.contIndex] }), session: null };
				}
				return { reply: marshalReveal(this.pub), session: await this.finish(this.pub, fp, h.key, h.fp) };
			}
			const key = parseReveal(text);
			if (!equalBytes(await commitment(key), this.commit)) throw new SealError('commit', 'commitment mismatch');
			return { reply: null, session: await this.finish(key, this.peerFP, this.pub, fp) };
		} catch (e) {
			throw this.fail(e);
		}
	}

	checkHello(h) {
		this.peerV = h.v;
		if (this.cfg.role === ANSWERER && (h.v === 1 || h.v === 2)) this.version = h.v;
		else if (h.v !== this.version) throw new SealError('version', `unsupported version: peer speaks v${h.v}, we speak v${this.version}`);
		if (h.role !== peerRole(this.cfg.role)) throw new SealError('role', `role: both sides are ${this.cfg.role}`);
		if (this.cfg.noChannelBinding) {
			if (h.fp) throw new SealError('fingerprint', 'fingerprint mismatch: peer binds a DTLS fingerprint on a path without one');
		} else if (!h.fp || !equalBytes(h.fp, this.cfg.remoteFingerprint)) throw new SealError('fingerprint', 'fingerprint mismatch');
	}

	checkContinuity(h) {
		const find = (id) => this.ids.findIndex((x) => equalBytes(x, id));
		if (this.cfg.role === ANSWERER) {
			for (const id of h.ids) if (this.contIndex < 0) this.contIndex = find(id);
		} else if (h.rs && (this.contIndex = find(h.rs)) < 0) {
			throw new SealError('continuity', 'continuity: the peer continues a secret we never offered');
		}
		if (this.cfg.requireContinuity && this.contIndex < 0) {
			throw new SealError('continuity', h.v === 1 ? 'continuity: the peer started afresh (version 1 hello)' : 'continuity: the peer holds none of our continuity secrets');
		}
	}

	async finish(kO, fpO, kA, fpA) {
		const peerKey = this.cfg.role === OFFERER ? kA : kO;
		if (equalBytes(peerKey, this.pub)) throw new SealError('bad_key', 'bad peer key: equals ours');
		const sk = this.sk;
		this.sk = null;
		const z = await sharedSecret(sk, peerKey);
		const v = this.version;
		const c = this.contIndex;
		try {
			const th = await transcriptHash(this.cfg.room, kO, fpO || EMPTY, kA, fpA || EMPTY, v === 1 ? null : c < 0 ? EMPTY : this.ids[c]);
			const k = await keySchedule(v, z, c < 0 ? null : this.retained[c], th, this.cfg.extractable);
			if (k.raw) k.raw.shared = z.slice();
			const s = new Session(this.cfg.role, this.cfg.room, th, k);
			s.version = v;
			s.contIndex = c;
			s.continued = c >= 0;
			this.state = 'done';
			this.commit = this.peerFP = null;
			return s;
		} finally {
			wipe(z);
			this.retained.forEach(wipe);
		}
	}

	fail(e) {
		this.state = 'failed';
		this.sk = null;
		this.retained.forEach(wipe);
		return e instanceof SealError ? e : new SealError('malformed', e && e.message ? e.message : String(e));
	}
}


const header = (seq) => concat(Uint8Array.of(1), u64be(seq));
const nonce = (seq) => concat(new Uint8Array(4), u64be(seq));
const gcm = (hdr, seq) => ({ name: 'AES-GCM', iv: nonce(seq), additionalData: hdr });

/** A sealed session (PROTOCOL.md "Sealed frames"). */
export class Session {
	constructor(role, room, th, k) {
		this.role = role;
		this.room = room;
		this.th = th;
		this.sas = k.sas;
		this.next = k.next; // the continuity secret for the next handshake: never logged
		this.closeKey = k.close;
		this.raw = k.raw; // known-answer tests only
		this.version = 1;
		this.contIndex = -1;
		this.continued = false;
		const [send, recv] = role === OFFERER ? [k.oa, k.ao] : [k.ao, k.oa];
		this.send = { key: send, seq: 0n, bytes: 0n };
		this.recv = { key: recv, seq: 0n, failed: false, chain: Promise.resolve() };
		this.closed = false;
	}

	/** Seals one plaintext as the next frame of this direction. */
	async seal(pt) {
		if (this.closed) throw new SealError('closed', 'session closed');
		const d = this.send;
		if (d.seq >= MAX_FRAMES || BigInt(pt.length) > MAX_BYTES - d.bytes) throw new SealError('exhausted', 'session exhausted: a new handshake is needed');
		const seq = d.seq++;
		d.bytes += BigInt(pt.length);
		const hdr = header(seq);
		return concat(hdr, new Uint8Array(await subtle().encrypt(gcm(hdr, seq), d.key, pt)));
	}

	/** Opens the peer's next frame, in call order: exactly the next seq, authenticated. */
	open(frame) {
		const d = this.recv;
		const p = d.chain.then(async () => {
			if (this.closed) throw new SealError('closed', 'session closed');
			if (d.failed) throw ErrAuth();
			try {
				if (frame.length < OVERHEAD || frame[0] !== 1 || d.seq >= MAX_FRAMES || readU64(frame, 1) !== d.seq) throw 0;
				const pt = await subtle().decrypt(gcm(frame.subarray(0, 9), d.seq), d.key, frame.subarray(9));
				d.seq++;
				return new Uint8Array(pt);
			} catch {
				d.failed = true;
				throw ErrAuth();
			}
		});
		d.chain = p.catch(() => {});
		return p;
	}

	/** The relay close tag of this side for gen: HMAC-SHA256(kC, u8(role: 1 offerer, 2 answerer) || u64be(gen)). */
	closeTag(gen, role = this.role) {
		return hmac(this.closeKey, concat(Uint8Array.of(role === OFFERER ? 1 : 2), u64be(gen)));
	}

	/** Whether tag is the peer's close tag for gen (constant time). */
	verifyCloseTag(gen, tag) {
		return subtle().verify('HMAC', this.closeKey, tag, concat(Uint8Array.of(this.role === OFFERER ? 2 : 1), u64be(gen)));
	}

	/** Drops the keys; later seal/open fail with `closed`. */
	close() {
		this.closed = true;
		this.send.key = this.recv.key = null;
	}
}



/** The text an identity signs (EIP-191 personal_sign). */
export function identityMessage(room, signerRole, th, staticKey) {
	let s = `vtpeer handshake v1\nroom: ${JSON.stringify(room)}\nrole: ${signerRole}\ntranscript: ${toHex(th)}\n`;
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
	const o = flat(text, 'identity', ['address', 'signature', 'staticKey']);
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

/** Verifies the peer's identity JSON against this session; returns the proven address. */
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
