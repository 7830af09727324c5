// Byte helpers shared by the seal, the frames and the tips: hex, unpadded base64url,
// UTF-8, big-endian integers and constant-time comparison. No secrets are logged here.

const enc = new TextEncoder();
const dec = new TextDecoder(); // replaces invalid UTF-8 with U+FFFD, as Go's decoders do

/**
 * UTF-8 bytes of a string.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function utf8(s) {
  return enc.encode(s);
}

/**
 * A string from UTF-8 bytes (invalid sequences become U+FFFD).
 * @param {Uint8Array} b
 * @returns {string}
 */
export function fromUtf8(b) {
  return dec.decode(b);
}

/**
 * Concatenates byte arrays.
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Lower-case hex of bytes.
 * @param {Uint8Array} b
 * @returns {string}
 */
export function toHex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * Bytes of a hex string (either case, no prefix). Throws on odd length or a non-hex digit.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function fromHex(s) {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('bytes: not hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64U_INDEX = new Map([...B64U].map((c, i) => [c, i]));

/**
 * Unpadded base64url (RFC 4648 §5) of bytes.
 * @param {Uint8Array} b
 * @returns {string}
 */
export function b64u(b) {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += B64U[n >> 18] + B64U[(n >> 12) & 63] + B64U[(n >> 6) & 63] + B64U[n & 63];
  }
  if (b.length - i === 1) {
    const n = b[i] << 16;
    s += B64U[n >> 18] + B64U[(n >> 12) & 63];
  } else if (b.length - i === 2) {
    const n = (b[i] << 16) | (b[i + 1] << 8);
    s += B64U[n >> 18] + B64U[(n >> 12) & 63] + B64U[(n >> 6) & 63];
  }
  return s;
}

/**
 * Decodes canonical unpadded base64url: no padding, no other characters (line breaks included),
 * zero trailing bits. Returns null on any deviation, as the seal's strict parsing requires.
 * @param {string} s
 * @returns {Uint8Array|null}
 */
export function fromB64u(s) {
  if (s.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const c of s) {
    const v = B64U_INDEX.get(c);
    if (v === undefined) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return null; // non-zero trailing bits: not canonical
  return out.subarray(0, o);
}

/**
 * 4 bytes big-endian.
 * @param {number} n
 * @returns {Uint8Array}
 */
export function u32be(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/**
 * 8 bytes big-endian of a bigint.
 * @param {bigint} n
 * @returns {Uint8Array}
 */
export function u64be(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n));
  return b;
}

/**
 * Reads a big-endian u64 as a bigint.
 * @param {Uint8Array} b
 * @param {number} off
 * @returns {bigint}
 */
export function readU64(b, off) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);
}

/**
 * lp(x) = u32be(len(x)) || x.
 * @param {Uint8Array} x
 * @returns {Uint8Array}
 */
export function lp(x) {
  return concat(u32be(x.length), x);
}

/**
 * Constant-time equality of two byte arrays (lengths are not secret).
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/**
 * Overwrites bytes with zeros.
 * @param {Uint8Array|null|undefined} b
 */
export function wipe(b) {
  if (b) b.fill(0);
}

/**
 * Cryptographically random bytes.
 * @param {number} n
 * @returns {Uint8Array}
 */
export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/**
 * A bigint from big-endian bytes.
 * @param {Uint8Array} b
 * @returns {bigint}
 */
export function bytesToBig(b) {
  return b.length ? BigInt('0x' + toHex(b)) : 0n;
}

/**
 * Big-endian bytes of a non-negative bigint, left-padded to n bytes.
 * @param {bigint} v
 * @param {number} n
 * @returns {Uint8Array}
 */
export function bigToBytes(v, n) {
  return fromHex(v.toString(16).padStart(2 * n, '0'));
}
