// Ethereum account primitives WebCrypto lacks: secp256k1 recovery and Keccak-256 (vendored @noble).

import * as secp from './vendor/noble-secp256k1/index.js';
import { keccak_256 } from './vendor/noble-hashes/sha3.js';
import { concat, utf8, toHex, fromHex, bytesToBig } from './bytes.js';

/** A refused tip or signature: `code` is one of pkg/tips' codes, `reason` a sentence safe to show and send. */
export class TipError extends Error {
	constructor(code, reason) {
		super(`tips: ${reason} (${code})`);
		this.name = 'TipError';
		this.code = code;
		this.reason = reason;
	}
}

const N = secp.CURVE.n;
const HALF_N = N >> 1n;

/** Keccak-256 (the Ethereum hash, not SHA3-256). */
export function keccak256(b) {
	return keccak_256(b);
}

/** The EIP-191 personal_sign digest: keccak256("\x19Ethereum Signed Message:\n" + len + msg). */
export function eip191Hash(msg) {
	return keccak256(concat(utf8('\x19Ethereum Signed Message:\n' + msg.length), msg));
}

/** EIP-55 checksummed form of a 20-byte address given as hex (any case, with 0x). */
export function checksumAddress(addr) {
	const lower = addr.slice(2).toLowerCase();
	const h = toHex(keccak256(utf8(lower)));
	let out = '0x';
	for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
	return out;
}

/** Is s a 0x-prefixed (or 0X) 20-byte hex address in any case? */
export function isAddress(s) {
	return typeof s === 'string' && /^0[xX][0-9a-fA-F]{40}$/.test(s);
}

/** Parses an address typed by a user; a mixed-case one must match its EIP-55 checksum. */
export function parseUserAddress(s) {
	s = s.trim();
	if (!isAddress(s)) throw new Error(`address ${JSON.stringify(s.slice(0, 80))} is not a 20-byte 0x-prefixed hex address`);
	const hex = s.slice(2);
	const sum = checksumAddress(s);
	if (hex !== hex.toLowerCase() && hex !== hex.toUpperCase() && sum.slice(2) !== hex) {
		throw new Error(`address ${s} fails its EIP-55 checksum: check it for a typo (or write it all in lower case)`);
	}
	return sum;
}

/** The address of an uncompressed public key (65 bytes, 0x04 prefix). */
export function pubToAddress(pub) {
	return checksumAddress('0x' + toHex(keccak256(pub.subarray(1)).subarray(12)));
}

/** The address of a private key. */
export function privToAddress(priv) {
	return pubToAddress(secp.getPublicKey(priv, false));
}

/** Recovers the signer of a 32-byte digest from a 65-byte r||s||v signature, with pkg/tips' checks. */
export function recoverDigest(digest, sig) {
	if (sig.length !== 65) throw new TipError('bad_signature_length', `signature is ${sig.length} bytes, want 65`);
	let v = sig[64];
	if (v === 27 || v === 28) v -= 27;
	else if (v !== 0 && v !== 1) throw new TipError('bad_signature_v', `signature V is ${sig[64]}, want 27 or 28`);
	const r = bytesToBig(sig.subarray(0, 32));
	const s = bytesToBig(sig.subarray(32, 64));
	if (r === 0n || s === 0n || r >= N || s >= N) throw new TipError('bad_signature', 'signature r or s out of range');
	if (s > HALF_N) throw new TipError('high_s', 'signature s is not in the lower half of the curve order (EIP-2)');
	let point;
	try {
		point = new secp.Signature(r, s, v).recoverPublicKey(digest);
	} catch {
		throw new TipError('bad_signature', 'no public key recovers from the signature');
	}
	return pubToAddress(point.toRawBytes(false));
}

/** Recovers the signer of an EIP-191 personal_sign over msg. */
export function recoverPersonal(msg, sig) {
	return recoverDigest(eip191Hash(msg), sig);
}

/** personal_sign with a private key held in the page: RFC 6979, low s, V 27/28 (what ethers' signMessage returns). */
export async function personalSignWithKey(priv, msg) {
	const sig = await secp.signAsync(eip191Hash(msg), priv);
	return concat(sig.toCompactRawBytes(), Uint8Array.of(27 + sig.recovery));
}

/** A fresh random secp256k1 private key. */
export function randomPrivateKey() {
	return secp.utils.randomPrivateKey();
}

/** Bytes of a 0x-hex string (either case) or throws. */
export function from0x(s) {
	if (typeof s !== 'string' || !/^0[xX]/.test(s)) throw new Error('not 0x-prefixed hex');
	return fromHex(s.slice(2));
}
