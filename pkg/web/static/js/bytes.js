// Byte helpers of the seal, frames and tips: hex, unpadded base64url, UTF-8, big-endian integers.

const enc = new TextEncoder();
const dec = new TextDecoder(); // invalid UTF-8 becomes U+FFFD, as in Go

/** UTF-8 bytes of a string. */
export const utf8 = (s) => enc.encode(s);
/** A string from UTF-8 bytes. */
export const fromUtf8 = (b) => dec.decode(b);

/** Concatenates byte arrays. */
export function concat(...parts) {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let o = 0;
	for (const p of parts) out.set(p, (o += p.length) - p.length);
	return out;
}

/** Lower-case hex of bytes. */
export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Bytes of hex (either case, no prefix); throws on anything else. */
export function fromHex(s) {
	if (s.length % 2 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('bytes: not hex');
	return Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
}

/** Unpadded base64url (RFC 4648 §5). */
export const b64u = (b) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join('')).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Canonical unpadded base64url only (it must re-encode to the same text, as Go checks); null otherwise. */
export function fromB64u(s) {
	if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
	const b = Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
	return b64u(b) === s ? b : null;
}

/** u32 big-endian. */
export function u32be(n) {
	const b = new Uint8Array(4);
	new DataView(b.buffer).setUint32(0, n);
	return b;
}

/** u64 big-endian of a bigint. */
export function u64be(n) {
	const b = new Uint8Array(8);
	new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n));
	return b;
}

/** A big-endian u64 at off, as a bigint. */
export const readU64 = (b, off) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);

/** lp(x) = u32be(len(x)) || x. */
export const lp = (x) => concat(u32be(x.length), x);

/** Constant-time equality (lengths are not secret). */
export function equalBytes(a, b) {
	if (a.length !== b.length) return false;
	let d = 0;
	for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
	return d === 0;
}

/** Zeroes bytes. */
export const wipe = (b) => b && b.fill(0);
/** Random bytes from the CSPRNG. */
export const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));
/** A bigint from big-endian bytes. */
export const bytesToBig = (b) => (b.length ? BigInt('0x' + toHex(b)) : 0n);
/** Big-endian bytes of a bigint, left-padded to n bytes. */
export const bigToBytes = (v, n) => fromHex(v.toString(16).padStart(2 * n, '0'));
