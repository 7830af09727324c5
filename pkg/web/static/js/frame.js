// Application frames inside the seal (docs/PROTOCOL.md "Application frames", pkg/peer/frame.go).

import { concat, u64be, readU64, utf8 } from './bytes.js';

export const START = 1;
export const DATA = 2;
export const ACK = 3;
export const DATA_HEADER = 18;
export const START_HEADER = 19;
export const MAX_KIND = 255;

export function encodeStart(instance, base, identity) {
	const n = new Uint8Array(2);
	new DataView(n.buffer).setUint16(0, identity.length);
	return concat(Uint8Array.of(START), u64be(instance), u64be(base), n, identity);
}

/** A data frame; its ack field is filled in just before sealing (setAck). */
export function encodeData(seq, kind, body) {
	const k = utf8(kind);
	if (k.length > MAX_KIND) throw new Error('peer: kind longer than 255 bytes');
	return concat(Uint8Array.of(DATA), u64be(seq), new Uint8Array(8), Uint8Array.of(k.length), k, body);
}

export function setAck(frame, ack) {
	frame.set(u64be(ack), 9);
}

export function encodeAck(seq) {
	return concat(Uint8Array.of(ACK), u64be(seq));
}

/** Parses one opened frame; throws an Error naming the problem. */
export function decodeFrame(b) {
	if (!b.length) throw new Error('bad frame: empty');
	switch (b[0]) {
		case START: {
			if (b.length < START_HEADER) throw new Error('bad frame: short start');
			const n = new DataView(b.buffer, b.byteOffset + 17, 2).getUint16(0);
			if (b.length !== START_HEADER + n) throw new Error('bad frame: start length');
			const base = readU64(b, 9);
			if (base === 0n) throw new Error('bad frame: zero base');
			return { type: START, instance: readU64(b, 1), base, identity: b.subarray(START_HEADER) };
		}
		case DATA: {
			if (b.length < DATA_HEADER) throw new Error('bad frame: short data');
			const k = b[17];
			if (b.length < DATA_HEADER + k) throw new Error('bad frame: kind length');
			const seq = readU64(b, 1);
			if (seq === 0n) throw new Error('bad frame: zero seq');
			const kind = String.fromCharCode(...b.subarray(DATA_HEADER, DATA_HEADER + k));
			return { type: DATA, seq, ack: readU64(b, 9), kind, body: b.subarray(DATA_HEADER + k) };
		}
		case ACK:
			if (b.length !== 9) throw new Error('bad frame: ack length');
			return { type: ACK, seq: readU64(b, 1) };
		default:
			throw new Error(`bad frame: type 0x${b[0].toString(16).padStart(2, '0')}`);
	}
}
