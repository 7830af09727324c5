// A small JSON tokenizer: strict parsing of the seal's messages, and exact 64-bit integers (PROTOCOL.md §7).

/** Thrown on any JSON the parsers refuse; the message names the problem, never a secret. */
export class JSONError extends Error {
	constructor(msg) {
		super('json: ' + msg);
		this.name = 'JSONError';
	}
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** A JSON number as written: `text` is the literal, `value` a number or (large integer) bigint. */
export class JSONNumber {
	constructor(text) {
		this.text = text;
		const isInt = /^-?[0-9]+$/.test(text);
		const n = Number(text);
		this.value = isInt && !Number.isSafeInteger(n) ? BigInt(text) : n;
	}
}

class Tokenizer {
	constructor(s) {
		this.s = s;
		this.i = 0;
	}

	ws() {
		while (this.i < this.s.length && WS.has(this.s[this.i])) this.i++;
	}

	peek() {
		this.ws();
		return this.s[this.i];
	}

	expect(c) {
		if (this.peek() !== c) throw new JSONError(`expected ${JSON.stringify(c)} at offset ${this.i}`);
		this.i++;
	}

	string() {
		this.expect('"');
		let out = '';
		for (;;) {
			if (this.i >= this.s.length) throw new JSONError('unterminated string');
			const c = this.s[this.i++];
			if (c === '"') return out;
			if (c < ' ') throw new JSONError('control character in string');
			if (c !== '\\') {
				out += c;
				continue;
			}
			const e = this.s[this.i++];
			if (e === 'u') {
				const h = this.s.slice(this.i, this.i + 4);
				if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new JSONError('bad \\u escape');
				out += String.fromCharCode(parseInt(h, 16));
				this.i += 4;
			} else if (e in ESCAPES) {
				out += ESCAPES[e];
			} else {
				throw new JSONError('bad escape');
			}
		}
	}

	number() {
		NUMBER.lastIndex = this.i;
		const m = NUMBER.exec(this.s);
		if (!m) throw new JSONError(`bad value at offset ${this.i}`);
		this.i += m[0].length;
		return new JSONNumber(m[0]);
	}

	literal(word, v) {
		if (this.s.startsWith(word, this.i)) {
			this.i += word.length;
			return v;
		}
		throw new JSONError(`bad value at offset ${this.i}`);
	}

	list(close, item) {
		this.i++;
		if (this.peek() === close) return this.i++;
		do item();
		while (this.peek() === ',' && ++this.i);
		this.expect(close);
	}

	value(depth) {
		if (depth > 64) throw new JSONError('nested too deeply');
		const c = this.peek();
		switch (c) {
			case '"':
				return this.string();
			case '{': {
				const o = {};
				this.list('}', () => {
					const k = this.string();
					this.expect(':');
					Object.defineProperty(o, k, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
				});
				return o;
			}
			case '[': {
				const a = [];
				this.list(']', () => a.push(this.value(depth + 1)));
				return a;
			}
			case 't':
				return this.literal('true', true);
			case 'f':
				return this.literal('false', false);
			case 'n':
				return this.literal('null', null);
			default:
				return this.number();
		}
	}

	end() {
		this.ws();
		if (this.i !== this.s.length) throw new JSONError('trailing data');
	}
}

function unwrapNumbers(v) {
	if (v instanceof JSONNumber) return v.value;
	if (Array.isArray(v)) return v.map(unwrapNumbers);
	if (v && typeof v === 'object') {
		for (const k of Object.keys(v)) v[k] = unwrapNumbers(v[k]);
	}
	return v;
}

/** JSON.parse, except that integers outside ±2^53 come back as exact bigints (keepNumbers: every number a JSONNumber). */
export function parseJSON(text, opts = {}) {
	const t = new Tokenizer(text);
	const v = t.value(0);
	t.end();
	return opts.keepNumbers ? v : unwrapNumbers(v);
}

/** Parses a flat JSON object strictly (hello, reveal, abort, identity): string or number values, allowed keys once each. */
export function parseFlat(text, allowed) {
	const t = new Tokenizer(text);
	const out = new Map();
	if (t.peek() !== '{') t.expect('{');
	t.list('}', () => {
		const k = t.string();
		if (out.has(k)) throw new JSONError(`duplicate field ${JSON.stringify(k)}`);
		if (!allowed.includes(k)) throw new JSONError(`unknown field ${JSON.stringify(k)}`);
		t.expect(':');
		const c = t.peek();
		if (c === '"') out.set(k, t.string());
		else if (c === '-' || (c >= '0' && c <= '9')) out.set(k, t.number());
		else throw new JSONError(`field ${JSON.stringify(k)} has the wrong type`);
	});
	t.end();
	return out;
}
