// The vtpeer signaling client (docs/PROTOCOL.md "Signaling protocol"; pkg/signal/client.go).

import { parseJSON } from './json.js';
import { randomBytes, toHex } from './bytes.js';

/** Signaling frame types that the server sends and that are not relayed peer frames. */
const SERVER_TYPES = new Set(['joined', 'peer-joined', 'peer-left', 'error', 'mailed', 'mail']);

/** The default signaling URL: the page's own server (ws:// or wss:// like the page), path /ws. */
export function defaultSignalURL(loc, path = '/ws') {
	return (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host + path;
}

/**
 * A signaling client that stays joined to one room. url may list the nodes of a cluster, comma-separated:
 * a lost connection moves on to the next one, with the same peerId and resume (docs/PROTOCOL.md "Client
 * failover"). Handlers (all optional):
 */
export class SignalClient {
	constructor(url, room, handlers, opts = {}) {
		this.urls = String(url).split(',').map((u) => u.trim()).filter(Boolean);
		this.i = this.tried = 0;
		this.room = room;
		this.h = handlers;
		this.peerId = opts.peerId || 'web-' + toHex(randomBytes(8));
		this.resume = toHex(randomBytes(16));
		this.log = opts.log || (() => {});
		this.ws = null;
		this.closed = false;
		this.backoff = 100;
		this.joined = false;
		this.queue = [];
	}

	start() {
		this.connect();
	}

	get url() {
		return this.urls[this.i];
	}

	connect() {
		if (this.closed) return;
		let ws;
		try {
			ws = new WebSocket(this.url);
		} catch (e) {
			this.h.onError?.({ code: 'dial', error: `cannot open ${this.url}: ${e.message}` });
			this.retry('dial failed');
			return;
		}
		this.ws = ws;
		ws.onopen = () => {
			this.backoff = 100;
			ws.send(JSON.stringify({ type: 'join', v: 1, room: this.room, peerId: this.peerId, resume: this.resume }));
		};
		ws.onmessage = (ev) => {
			if (typeof ev.data !== 'string') {
				this.log('signaling: binary frame from the server ignored');
				return;
			}
			let f;
			try {
				f = parseJSON(ev.data);
			} catch (e) {
				this.log('signaling: unparsable frame ignored: ' + e.message);
				return;
			}
			this.dispatch(f);
		};
		ws.onclose = (ev) => {
			if (this.ws !== ws) return;
			this.ws = null;
			this.joined = false;
			if (this.closed) return;
			const why = ev.code === 4000 ? 'replaced by another connection with this peer id' : `connection closed (${ev.code})`;
			this.h.onReconnecting?.(why);
			if (ev.code === 4000) {
				this.closed = true;
				return;
			}
			this.retry(why);
		};
	}

	retry(why) {
		this.i = (this.i + 1) % this.urls.length;
		if (++this.tried < this.urls.length) {
			this.log(`signaling: ${why}; trying ${this.url}`);
			setTimeout(() => this.connect(), 0);
			return;
		}
		this.tried = 0;
		const wait = Math.min(this.backoff, 10000) * (0.5 + Math.random() / 2);
		this.backoff = Math.min(this.backoff * 2, 10000);
		this.log(`signaling: ${why}; reconnecting in ${Math.round(wait)} ms`);
		setTimeout(() => this.connect(), wait);
	}

	dispatch(f) {
		if (!f || typeof f !== 'object' || typeof f.type !== 'string') {
			this.log('signaling: frame without type ignored');
			return;
		}
		switch (f.type) {
			case 'joined': {
				this.joined = true;
				this.tried = 0;
				this.peerId = f.peerId || this.peerId;
				const q = this.queue;
				this.queue = [];
				this.h.onJoined?.({ peerId: this.peerId, peers: Array.isArray(f.peers) ? f.peers : [], iceServers: Array.isArray(f.iceServers) ? f.iceServers : [] });
				for (const s of q) this.ws?.send(s);
				return;
			}
			case 'peer-joined':
				this.h.onPeerJoined?.(f.peerId);
				return;
			case 'peer-left':
				this.h.onPeerLeft?.(f.peerId);
				return;
			case 'error':
				// A node that lost its cluster: move on to the next.
				if (f.code === 'unavailable' && !this.joined && this.urls.length > 1) return this.ws?.close(1000);
				this.h.onError?.({ code: String(f.code || ''), error: String(f.error || '') });
				return;
			case 'mailed':
			case 'mail':
				this.log(`signaling: ${f.type} frame ignored (the page keeps no mailbox)`);
				return;
		}
		if (typeof f.from !== 'string') {
			this.log(`signaling: ${f.type} frame without from ignored`);
			return;
		}
		this.h.onSignal?.(f.from, f.type, f.data);
	}

	/** Sends a frame to one peer of the room. dataJSON is the `data` value as JSON text, inserted as is. */
	send(to, type, dataJSON) {
		if (SERVER_TYPES.has(type)) throw new Error(`signal: ${type} is a server frame type`);
		const s = `{"type":${JSON.stringify(type)},"room":${JSON.stringify(this.room)},"to":${JSON.stringify(to)},"data":${dataJSON}}`;
		if (this.ws && this.joined && this.ws.readyState === WebSocket.OPEN) this.ws.send(s);
		else this.queue.push(s);
	}

	get buffered() {
		return this.ws ? this.ws.bufferedAmount : 0;
	}

	close() {
		this.closed = true;
		if (this.ws) {
			try {
				this.ws.send('{"type":"leave"}');
			} catch {
				/* closing anyway */
			}
			this.ws.close(1000);
		}
		this.ws = null;
	}
}
