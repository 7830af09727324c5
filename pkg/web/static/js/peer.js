// The page's member of a room (pkg/peer): one sealed, reliable session per peer id over replaceable transports.

import { Link, RELAY_MAX_FRAME } from './link.js';
import { encodeData, setAck, encodeAck, MAX_KIND, DATA_HEADER } from './frame.js';
import { OVERHEAD } from './seal.js';
import { utf8, fromB64u, randomBytes, readU64, fromHex } from './bytes.js';
import { recoverPersonal } from './eth.js';

export const VIA = ['auto', 'direct', 'turn', 'server'];
const MAX_EARLY_ICE = 64;
const MAX_OUTBOX_BYTES = 64 << 20;

/** A transport generation from the string or number the wire carries; null when unusable. */
export function parseGen(v) {
	let g = null;
	if (typeof v === 'bigint') g = v;
	else if (typeof v === 'number' && Number.isSafeInteger(v)) g = BigInt(v);
	else if (typeof v === 'string' && /^[1-9][0-9]{0,19}$/.test(v)) g = BigInt(v);
	return g !== null && g > 0n && g < 2n ** 64n ? g : null;
}

/** The page's peer node. Options: */
export class Node {
	static async create(o) {
		const cert = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' });
		const fp = cert.getFingerprints().find((f) => f.algorithm === 'sha-256');
		if (!fp) throw new Error('peer: the browser gives no sha-256 certificate fingerprint');
		return new Node(o, cert, fromHex(fp.value.replace(/:/g, '')));
	}

	constructor(o, cert, fingerprint) {
		this.room = o.room;
		this.signal = o.signal;
		this.via = o.via || 'auto';
		if (!VIA.includes(this.via)) throw new Error(`peer: via ${this.via} is not one of ${VIA.join(', ')}`);
		this.p2pTimeoutMs = o.p2pTimeoutMs || 10000;
		this.restartWaitMs = 4000;
		this.relayReadyMs = 5000;
		this.relayStallMs = 10000;
		this.iceRetryMs = Math.max(3 * this.p2pTimeoutMs, 30000);
		this.hsBackoffMs = 1000;
		this.maxMessage = 256 << 10;
		this.identity = o.identity || null;
		this.onEvent = o.onEvent || (() => {});
		this.logf = o.log || (() => {});
		this.debugOn = !!o.debug;
		this.cert = cert;
		this.fingerprint = fingerprint;
		this.instance = readU64(randomBytes(8), 0) | 1n;
		this.selfId = '';
		this.ice = [];
		this.peers = new Map();
		this.lastGen = 0n;
		this.accountSAS = new Map(); // account → the SAS its session showed
		this.closed = false;
		this.recoverText = (text, sig) => recoverPersonal(utf8(text), fromHex(sig.slice(2)));
	}

	emit(ev) {
		if (!this.closed) this.onEvent(ev);
	}
	log(t) {
		this.logf(t);
	}
	debug(t) {
		if (this.debugOn) this.logf(t);
	}

	signalSend(to, type, dataJSON) {
		if (!this.closed || type === 'relay') this.signal.send(to, type, dataJSON);
	}

	iceServersForVia() {
		if (this.via !== 'direct') return this.ice;
		return this.ice.map((s) => ({ urls: [].concat(s.urls).filter((u) => !/^turns?:/.test(u)) })).filter((s) => s.urls.length);
	}

	nextGen() {
		let g = BigInt(Date.now()) * 1000n; // microseconds: at most 2^53-1, like pkg/peer
		if (g <= this.lastGen) g = this.lastGen + 1n;
		this.lastGen = g;
		return g;
	}

	peer(id) {
		let p = this.peers.get(id);
		if (!p) {
			p = new PeerState(this, id);
			this.peers.set(id, p);
		}
		return p;
	}

	joined(selfId, peers, iceServers) {
		this.selfId = selfId;
		if (Array.isArray(iceServers)) this.ice = iceServers;
		for (const id of peers) {
			if (id === selfId) continue;
			const p = this.peer(id);
			p.left = false;
			if (!p.link && (!p.ice || p.ice.dead) && (!p.srv || p.srv.dead)) p.connect();
		}
	}

	peerJoined(id) {
		const p = this.peer(id);
		p.left = false;
	}

	peerLeft(id) {
		const p = this.peers.get(id);
		if (!p) return;
		p.left = p.departed = true; // a process that rejoins under this id may start a new session
		if (p.srv) p.srv.close('peer left the signaling room');
		if (!p.link && !p.connected && !p.announcedLeft) {
			p.announcedLeft = true;
			p.emitLeft('left');
		}
		p.leftKick();
	}

	handleSignal(from, type, data) {
		if (this.closed) return;
		const drop = (why) => this.log(`${type} from ${from} dropped: ${why}`);
		if (!['offer', 'answer', 'ice', 'restart', 'relay'].includes(type)) return drop('unknown frame type');
		if (!data || typeof data !== 'object' || Array.isArray(data)) return drop('data is not an object');
		const gen = parseGen(data.gen);
		if (gen === null) return drop('missing or bad gen');
		const p = this.peer(from);
		const run = (f) => f().catch((e) => this.log(`${type} from ${from}: ${e.message}`));
		switch (type) {
			case 'offer':
				if (typeof data.sdp !== 'string') return drop('no sdp');
				return run(() => p.handleOffer(gen, data.sdp));
			case 'answer':
				if (typeof data.sdp !== 'string') return drop('no sdp');
				return run(() => p.handleAnswer(gen, data.sdp));
			case 'ice':
				if (!data.candidate || typeof data.candidate.candidate !== 'string') return drop('ice without candidate');
				return run(() => p.handleICE(gen, data.candidate));
			case 'restart':
				return p.handleRestart(gen);
			default: {
				const d = parseRelay(data);
				if (typeof d === 'string') return drop(d);
				return p.handleRelay(gen, d);
			}
		}
	}

	/** Queues one message for a peer, sealed, reliable and ordered; rejects when too big (before taking a seq). */
	send(peer, kind, body) {
		if (utf8(kind).length > MAX_KIND) return Promise.reject(new Error('peer: kind longer than 255 bytes'));
		const p = this.peers.get(peer);
		if (!p) return Promise.reject(new Error(`peer: send to ${peer}: unknown peer`));
		return p.send(kind, body);
	}

	/** The user's go-ahead after a refusal or the failure cap: the next session may be new (sas-changed). */
	retry(peer) {
		const p = this.peers.get(peer);
		if (!p) throw new Error(`peer: retry ${peer}: unknown peer`);
		p.hsFailures = 0;
		p.capped = p.rejected = false;
		p.departed = true;
		p.connect();
	}

	sendLimit(transport) {
		return this.via === 'auto' || this.via === 'server' ? Math.min(transport, RELAY_MAX_FRAME) : transport;
	}

	/** Known peers: {id, connected, sas, address, path, unacked}. */
	list() {
		return [...this.peers.values()].map((p) => ({ id: p.id, connected: p.connected, sas: p.conn.sas || '', address: p.conn.address || '', path: p.conn.path || '', unacked: p.outbox.length, stopped: p.rejected || p.capped, failures: p.hsFailures }));
	}

	/** Closes every transport; unacknowledged messages are dropped. */
	close() {
		for (const p of this.peers.values()) p.shutdown();
		this.closed = true;
	}
}

/** Checks a relay frame's data as pkg/peer does; returns the frame or the reason it is refused. */
function parseRelay(d) {
	for (const k of Object.keys(d)) if (!['gen', 't', 'b'].includes(k)) return `relay: unknown field ${JSON.stringify(k)}`;
	if (d.t === 'close' && d.b === undefined) return { t: 'close' };
	const limit = { hello: 4096, sealed: RELAY_MAX_FRAME, close: 32 }[d.t];
	if (!limit) return `relay: type ${JSON.stringify(String(d.t))}`;
	if (typeof d.b !== 'string' || Math.floor((d.b.length * 3) / 4) > limit) return `relay: ${d.t} longer than ${limit} bytes`;
	const b = fromB64u(d.b);
	if (!b || !b.length || (d.t === 'close' && b.length !== 32)) return 'relay: bad base64 body';
	return { t: d.t, body: b };
}

/** The sealed, reliable session with one peer id; it outlives transports. */
export class PeerState {
	constructor(n, id) {
		this.n = n;
		this.id = id;
		this.link = null; // active (ready) transport
		this.ice = null; // current PeerConnection transport
		this.srv = null; // current relay transport
		this.closed = this.left = this.rejected = this.recovering = this.handover = false;
		this.connected = false;
		this.conn = {};
		this.nextSeq = 0n;
		this.outbox = [];
		this.outBytes = 0;
		this.remoteInst = null;
		this.delivered = 0n;
		this.ackSent = 0n;
		this.forceAck = false;
		this.ackTimer = null;
		this.maxFrame = n.sendLimit(n.maxMessage);
		this.sendLock = Promise.resolve();
		this.earlyICE = new Map();
		this.readyWaiters = [];
		this.fallbackTimer = this.iceRetryTimer = null;
		this.cont = { secrets: [], verified: false, confirmed: false, sas: '', address: '' };
		this.departed = this.capped = false;
		this.hsFailures = 0;
	}

	/** The handshake's continuity: retained secrets, required once the chain is confirmed unless the peer left or Retry. */
	sealConfig(cfg) {
		const c = this.cont;
		return { ...cfg, retained: c.secrets.map((x) => x.slice()), requireContinuity: c.secrets.length > 0 && c.confirmed && !this.departed };
	}

	/** Records a verified session: {sas} to show, {changed} for a new session's new SAS, or {code, err} to refuse it. */
	sessionVerified(sess, addr) {
		const c = this.cont;
		if (c.verified && c.address && addr.toLowerCase() !== c.address.toLowerCase()) return { code: 'account_changed', err: `peer ${this.id} proved ${c.address} before, now ${addr || 'no account'}` };
		if (sess.continued && !c.verified) return { code: 'continuity_failed', err: `${this.id} continues a session we do not hold` };
		this.departed = false;
		this.hsFailures = 0;
		if (sess.continued) {
			c.secrets = [sess.next, c.secrets[0]];
			return { sas: c.sas };
		}
		let changed = c.verified && c.sas !== sess.sas ? { old: c.sas, new: sess.sas } : null;
		if (!c.verified && addr) {
			const k = addr.toLowerCase();
			const old = this.n.accountSAS.get(k);
			this.n.accountSAS.set(k, sess.sas);
			if (old && old !== sess.sas) changed = { old, new: sess.sas };
		}
		this.cont = { secrets: [sess.next], verified: true, confirmed: false, sas: sess.sas, address: addr };
		return { sas: sess.sas, changed };
	}

	confirm() {
		if (this.cont.verified) this.cont.confirmed = true;
	}

	baseSeq() {
		return this.outbox.length ? this.outbox[0].seq : this.nextSeq + 1n;
	}


	connect() {
		if (this.closed || this.rejected || this.capped) return;
		if (this.n.via === 'server') return this.connectRelay();
		const l = new Link(this, this.n.nextGen(), true, false);
		if (!this.install(l)) return;
		l.offer(false).catch((e) => {
			this.n.emit({ type: 'error', peer: this.id, code: 'transport', message: 'offer: ' + e.message });
			l.close(e.message);
		});
		if (this.n.via === 'auto') this.armFallback();
	}

	connectRelay() {
		const l = new Link(this, this.n.nextGen(), true, true);
		if (!this.install(l)) return;
		l.armRelayDeadline();
		l.enqueue(() => l.onOpen());
	}

	/** Makes l the current PeerConnection or relay transport (closing the one it replaces); false: l is closed. */
	install(l) {
		if (this.closed || this.rejected || this.capped) return l.close(null), false;
		const slot = l.relay ? 'srv' : 'ice';
		const old = this[slot];
		this[slot] = l;
		if (old) old.close(null);
		if (l.relay) return true;
		const early = this.earlyICE.get(l.gen) || [];
		for (const g of [...this.earlyICE.keys()]) if (g <= l.gen) this.earlyICE.delete(g);
		for (const c of early) l.addCandidate(c);
		return true;
	}

	async handleOffer(gen, sdp) {
		if (this.n.via === 'server') return this.n.log(`offer from ${this.id} ignored: this page uses the server relay only`);
		const cur = this.ice;
		if (cur && gen === cur.gen && !cur.dead) return cur.answer(sdp); // ICE restart
		if (cur && !cur.dead) {
			if (gen < cur.gen) return this.n.log(`stale offer from ${this.id} ignored`);
			if (cur.offerer && !cur.ready && this.n.selfId < this.id) return; // glare: the lower id keeps offering
		}
		if (this.rejected) return;
		const l = new Link(this, gen, false, false);
		if (!this.install(l)) return;
		try {
			await l.answer(sdp);
		} catch (e) {
			l.close(e.message);
			throw new Error('answer: ' + e.message);
		}
	}

	async handleAnswer(gen, sdp) {
		const cur = this.ice;
		if (!cur || cur.gen !== gen || !cur.offerer || cur.dead) return this.n.log(`stale answer from ${this.id} ignored`);
		await cur.setRemote({ type: 'answer', sdp });
	}

	async handleICE(gen, c) {
		const cur = this.ice;
		if (!cur || gen > cur.gen) {
			const list = this.earlyICE.get(gen) || [];
			if (this.earlyICE.size < MAX_EARLY_ICE && list.length < MAX_EARLY_ICE) this.earlyICE.set(gen, [...list, c]);
			return;
		}
		if (gen !== cur.gen) return; // a replaced transport's late candidate
		await cur.addCandidate(c);
	}

	handleRestart(gen) {
		const cur = this.ice;
		if (this.closed || this.rejected || (cur && cur.gen > gen) || this.n.via === 'server') return;
		this.connect();
	}

	handleRelay(gen, d) {
		const cur = this.srv;
		if (this.closed || this.rejected) return;
		if (cur && gen === cur.gen) {
			if (d.t === 'hello') cur.enqueue(() => cur.onHandshakeMessage(new TextDecoder().decode(d.body)));
			else if (d.t === 'sealed') cur.enqueue(() => cur.onBinary(d.body));
			else cur.enqueue(() => cur.onRelayClose(d.body));
			return;
		}
		if (d.t !== 'hello' || (cur && gen < cur.gen)) return this.n.log(`stale relay ${d.t} from ${this.id} ignored`);
		if (this.n.via === 'direct' || this.n.via === 'turn') return this.n.log(`relay from ${this.id} refused: via ${this.n.via}`);
		if (cur && cur.offerer && !cur.ready && this.n.selfId < this.id) return; // glare
		const l = new Link(this, gen, false, true);
		if (!this.install(l)) return;
		l.armRelayDeadline();
		l.enqueue(() => l.onHandshakeMessage(new TextDecoder().decode(d.body)));
	}

	armFallback() {
		if (this.closed || this.fallbackTimer) return;
		this.fallbackTimer = setTimeout(() => {
			this.fallbackTimer = null;
			if (this.closed || this.rejected || this.left || this.link || this.srv) return;
			this.n.log(`no ICE path to ${this.id} in ${this.n.p2pTimeoutMs / 1000} s: falling back to the server relay`);
			this.connectRelay();
		}, this.n.p2pTimeoutMs);
	}

	armICERetry() {
		if (this.closed || this.iceRetryTimer) return;
		this.iceRetryTimer = setTimeout(() => {
			this.iceRetryTimer = null;
			if (this.closed || this.rejected || this.left || this.ice || (this.link && !this.link.relay)) return;
			this.connect();
		}, this.n.iceRetryMs);
	}


	send(kind, body) {
		const p = this.sendLock.then(() => this.sendNow(kind, body));
		this.sendLock = p.catch(() => {});
		return p;
	}

	async sendNow(kind, body) {
		if (this.closed) throw new Error('peer: closed');
		let l = this.link;
		const ready = l && l.ready && !l.dead;
		const limit = ready ? this.n.sendLimit(l.maxFrame()) : this.maxFrame;
		const size = OVERHEAD + DATA_HEADER + utf8(kind).length + body.length;
		if (size > limit) throw new Error(`peer: message too big: ${size} byte frame, limit ${limit}`);
		if (ready) await l.waitWritable().catch(() => {});
		if (this.outBytes + body.length > MAX_OUTBOX_BYTES && this.outbox.length) throw new Error(`peer: send to ${this.id}: outbox full`);
		this.nextSeq += 1n;
		const m = { seq: this.nextSeq, frame: encodeData(this.nextSeq, kind, body) };
		this.outbox.push(m);
		this.outBytes += m.frame.length;
		l = this.link;
		if (l && l.ready && !l.dead) this.writeData(l, m.frame);
	}

	writeData(l, frame) {
		if (l.relay) l.track(readU64(frame, 1), frame.length + OVERHEAD);
		l.writeSealed(frame, () => {
			this.ackSent = this.delivered;
			setAck(frame, this.delivered);
		});
	}

	onStart(instance, base) {
		if (instance !== this.remoteInst) {
			this.remoteInst = instance;
			this.delivered = base - 1n;
		}
		this.forceAck = true;
		this.kickAck();
	}

	onData(l, f) {
		if (f.seq <= this.delivered) return null; // resent after a transport change
		if (f.seq !== this.delivered + 1n) return `seq ${f.seq}, want ${this.delivered + 1n}`;
		this.delivered = f.seq;
		this.n.emit({ type: 'message', peer: this.id, kind: f.kind, body: f.body });
		this.kickAck();
		return null;
	}

	onAck(seq) {
		let i = 0;
		while (i < this.outbox.length && this.outbox[i].seq <= seq) this.outBytes -= this.outbox[i++].frame.length;
		if (i) this.outbox = this.outbox.slice(i);
	}

	kickAck() {
		if (this.ackTimer) return;
		this.ackTimer = setTimeout(() => {
			this.ackTimer = null;
			const l = this.link;
			if (!l || !l.ready || l.dead) return;
			const d = this.delivered;
			const need = d > this.ackSent || this.forceAck;
			this.ackSent = d;
			this.forceAck = false;
			if (need) l.writeSealed(encodeAck(d));
		}, 2);
	}


	onLinkReady(l, ev) {
		if ((this.ice !== l && this.srv !== l) || l.dead || this.closed) return;
		const old = this.link;
		if (l.relay && old && !old.relay) return l.close(null); // a PeerConnection is active already
		const moved = !!old || this.handover;
		const from = this.conn.path;
		const pending = [...this.outbox];
		this.maxFrame = this.n.sendLimit(l.maxFrame());
		l.ready = l.everReady = true;
		this.link = l;
		this.connected = true;
		this.announcedLeft = false;
		this.conn = ev;
		this.recovering = this.handover = false;
		if (!l.relay && this.fallbackTimer) {
			clearTimeout(this.fallbackTimer);
			this.fallbackTimer = null;
		}
		const retryICE = l.relay && l.offerer && !this.ice && this.n.via === 'auto';
		const waiters = this.readyWaiters;
		this.readyWaiters = [];
		waiters.forEach((r) => r());
		if (moved) this.n.emit({ type: 'path', peer: this.id, from, to: ev.path, sas: ev.sas, address: ev.address });
		else this.n.emit({ type: 'connected', peer: this.id, ...ev });
		if (retryICE) this.armICERetry();
		if (l.relay) l.relayWatch();
		for (const m of pending) {
			if (m.frame.length + OVERHEAD > l.maxFrame()) {
				l.fail('transport', `resend to ${this.id}: message too big for this path`);
				return;
			}
			this.writeData(l, m.frame);
		}
		this.kickAck();
		if (old && old !== l) old.close(null);
	}

	onLinkDead(l, reason) {
		if (!this.closed && l.started && !l.verified) {
			this.hsFailures++;
			if (this.hsFailures >= 5) this.capped = true;
			this.n.emit({ type: 'handshake-failed', peer: this.id, count: this.hsFailures, reason: reason || 'transport replaced', capped: this.capped });
		}
		const wasActive = this.link === l;
		if (wasActive) this.link = null;
		let current = false;
		if (this.ice === l) (this.ice = null), (current = true);
		if (this.srv === l) (this.srv = null), (current = true);
		if (!current) {
			if (wasActive) this.connected = false;
			return;
		}
		if (!wasActive && this.link) {
			if (!l.relay && l.offerer && this.n.via === 'auto' && !this.closed && !this.rejected) this.armICERetry();
			return;
		}
		const was = this.connected && wasActive;
		if (wasActive && l.relay && this.ice && this.ice.sess) {
			this.handover = true; // the peer moved to the PeerConnection first
			this.connected = false;
			return;
		}
		this.connected = this.handover = false;
		if (this.closed || this.rejected) {
			if (was && !this.closed) this.emitLeft('closed');
			return;
		}
		if (this.left) {
			if (was) this.emitLeft('left');
			return;
		}
		if (reason) this.n.log(`transport to ${this.id} lost (${reason}), renegotiating`);
		if (!this.recovering) {
			this.recovering = true;
			this.recover(l.offerer, l.relay, l.gen);
		}
	}

	leftKick() {
		const w = this.readyWaiters;
		this.readyWaiters = [];
		w.forEach((r) => r(false));
	}

	async recover(offerer, relay, deadGen) {
		for (let i = 0; i < 5; i++) {
			const f = this.hsFailures;
			if (f) await new Promise((r) => setTimeout(r, Math.min(this.n.hsBackoffMs << (f - 1), 30000))); // failed handshakes: slow down
			if (this.closed || this.rejected || this.capped || this.left || (this.link && this.link.ready)) break;
			if (offerer && relay) this.connectRelay();
			else if (offerer) this.connect();
			else if (!relay) this.n.signalSend(this.id, 'restart', `{"gen":${deadGen}}`);
			const ok = await new Promise((r) => {
				const t = setTimeout(() => r(false), 2 * this.n.restartWaitMs);
				this.readyWaiters.push((v = true) => {
					clearTimeout(t);
					r(v);
				});
			});
			if (ok) return;
		}
		this.recovering = false;
		if (!this.closed && !this.connected && !this.handover) this.emitLeft(this.left ? 'left' : 'timeout');
	}

	emitLeft(reason) {
		this.n.emit({ type: 'left', peer: this.id, reason });
		if (this.outbox.length) this.n.emit({ type: 'undelivered', peer: this.id, count: this.outbox.length });
	}

	shutdown() {
		this.closed = true;
		clearTimeout(this.fallbackTimer);
		clearTimeout(this.iceRetryTimer);
		for (const l of [this.link, this.ice, this.srv]) if (l) l.close(null);
	}
}
