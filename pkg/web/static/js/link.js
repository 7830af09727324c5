// One transport to one peer (pkg/peer/link.go, handshake.go, relay.go): a PeerConnection or the server relay, and its seal.

import * as seal from './seal.js';
import { encodeStart, decodeFrame, START, DATA } from './frame.js';
import { utf8, fromUtf8, b64u, fromHex } from './bytes.js';

export const LABEL = 'verytippers-data';
export const RELAY_MAX_FRAME = 40 << 10;
const RELAY_WINDOW = 256 << 10;
const HIGH_WATER = 1 << 20;
const LOW_WATER = 512 << 10;
const MAX_PENDING_WRITES = 256;

/** Parses the sha-256 a=fingerprint of an SDP into 32 bytes (null when absent). */
export function sdpFingerprint(sdp) {
	const m = /^a=fingerprint:sha-256 ([0-9A-Fa-f:]{95})\s*$/m.exec(sdp || '');
	return m ? fromHex(m[1].replace(/:/g, '')) : null;
}

export class Link {
	constructor(ps, gen, offerer, relay) {
		this.ps = ps;
		this.n = ps.n;
		this.gen = gen;
		this.offerer = offerer;
		this.relay = relay;
		this.created = performance.now();
		this.dead = false;
		this.ready = false;
		this.everReady = false;
		this.startSeen = false;
		this.hs = null;
		this.sess = null;
		this.inChain = Promise.resolve();
		this.outChain = Promise.resolve();
		this.pendingWrites = 0;
		this.waiters = [];
		this.timers = new Set();
		this.peerClosed = false;
		this.inflight = [];
		this.inflightBytes = 0;
		this.progress = 0;
		this.pc = null;
		this.dc = null;
		this.remoteSet = false;
		this.pendingICE = [];
		if (!relay) this.setupPC();
	}

	get role() {
		return this.offerer ? seal.OFFERER : seal.ANSWERER;
	}

	timer(ms, f) {
		const t = setTimeout(() => {
			this.timers.delete(t);
			f();
		}, ms);
		this.timers.add(t);
		return t;
	}


	setupPC() {
		const n = this.n;
		const cfg = { iceServers: n.iceServersForVia(), certificates: [n.cert] };
		if (n.via === 'turn') cfg.iceTransportPolicy = 'relay';
		const pc = new RTCPeerConnection(cfg);
		this.pc = pc;
		pc.onicecandidate = (e) => {
			if (!e.candidate || !e.candidate.candidate || this.dead) return;
			n.signalSend(this.ps.id, 'ice', `{"gen":${this.gen},"candidate":${JSON.stringify(e.candidate.toJSON())}}`);
		};
		pc.onconnectionstatechange = () => {
			if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.close('peer connection ' + pc.connectionState);
		};
		pc.oniceconnectionstatechange = () => {
			const s = pc.iceConnectionState;
			n.debug(`ice ${s} with ${this.ps.id}`);
			if ((s === 'disconnected' || s === 'failed') && !this.iceTimer) {
				this.iceTimer = this.timer(n.restartWaitMs, () => this.close('ice did not recover in time'));
				if (this.offerer) this.offer(true).catch((e) => n.debug('ice restart: ' + e.message));
			} else if ((s === 'connected' || s === 'completed') && this.iceTimer) {
				clearTimeout(this.iceTimer);
				this.timers.delete(this.iceTimer);
				this.iceTimer = null;
			}
		};
		if (this.offerer) {
			this.setupDC(pc.createDataChannel(LABEL, { ordered: true }));
		} else {
			pc.ondatachannel = (e) => {
				if (e.channel.label === LABEL) this.setupDC(e.channel);
				else n.log(`datachannel ${JSON.stringify(e.channel.label)} from ${this.ps.id} ignored`);
			};
		}
	}

	setupDC(dc) {
		if (this.dc) return;
		this.dc = dc;
		dc.binaryType = 'arraybuffer';
		dc.bufferedAmountLowThreshold = LOW_WATER;
		dc.onbufferedamountlow = () => this.wake();
		dc.onopen = () => this.enqueue(() => this.onOpen());
		dc.onmessage = (e) => this.enqueue(() => this.onMessage(e.data));
		dc.onclose = () => this.close('datachannel closed');
		if (dc.readyState === 'open') this.enqueue(() => this.onOpen());
	}

	async offer(restart) {
		const o = await this.pc.createOffer(restart ? { iceRestart: true } : undefined);
		await this.pc.setLocalDescription(o);
		this.n.signalSend(this.ps.id, 'offer', `{"gen":${this.gen},"sdp":${JSON.stringify(this.pc.localDescription.sdp)}}`);
	}

	async answer(sdp) {
		await this.setRemote({ type: 'offer', sdp });
		const a = await this.pc.createAnswer();
		await this.pc.setLocalDescription(a);
		this.n.signalSend(this.ps.id, 'answer', `{"gen":${this.gen},"sdp":${JSON.stringify(this.pc.localDescription.sdp)}}`);
	}

	async setRemote(desc) {
		await this.pc.setRemoteDescription(desc);
		this.remoteSet = true;
		const pend = this.pendingICE;
		this.pendingICE = [];
		for (const c of pend) await this.addCandidate(c);
	}

	async addCandidate(c) {
		if (this.n.via === 'direct' && / typ relay( |$)/.test(c.candidate || '')) return; // direct: never pair with TURN
		if (!this.remoteSet) {
			this.pendingICE.push(c);
			return;
		}
		const init = { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0 };
		if (c.sdpMid) init.sdpMid = c.sdpMid;
		if (c.usernameFragment) init.usernameFragment = c.usernameFragment;
		try {
			await this.pc.addIceCandidate(init);
		} catch (e) {
			this.n.log(`candidate from ${this.ps.id} refused: ${e.message}`);
		}
	}

	async remoteFingerprint() {
		const t = this.pc.sctp && this.pc.sctp.transport;
		const certs = t && typeof t.getRemoteCertificates === 'function' ? t.getRemoteCertificates() : [];
		if (certs && certs.length) return seal.sha256(new Uint8Array(certs[0]));
		const fp = sdpFingerprint(this.pc.remoteDescription && this.pc.remoteDescription.sdp);
		if (!fp) throw new Error('no remote certificate');
		return fp;
	}

	async path() {
		if (this.relay) return 'server';
		try {
			const stats = await this.pc.getStats();
			let pair = null;
			stats.forEach((s) => {
				if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
			});
			if (!pair) stats.forEach((s) => { if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
			if (!pair) return 'direct';
			const l = stats.get(pair.localCandidateId);
			const r = stats.get(pair.remoteCandidateId);
			return (l && l.candidateType === 'relay') || (r && r.candidateType === 'relay') ? 'turn' : 'direct';
		} catch {
			return 'direct';
		}
	}

	maxFrame() {
		const m = this.n.maxMessage;
		if (this.relay) return Math.min(m, RELAY_MAX_FRAME);
		const r = this.pc.sctp && this.pc.sctp.maxMessageSize;
		return r > 0 && r < m ? r : m;
	}


	enqueue(f) {
		this.inChain = this.inChain.then(() => (this.dead ? undefined : f())).catch((e) => this.fail('protocol', 'internal: ' + e.message));
	}

	async onOpen() {
		if (this.opened) return;
		this.opened = true;
		this.n.debug(`transport open to ${this.ps.id} (gen ${this.gen})`);
		const first = await this.ensureHandshake();
		if (first) {
			this.started = true;
			this.writeText(first);
		}
	}

	async ensureHandshake() {
		if (this.hs) return null;
		const cfg = { room: this.n.room, role: this.role };
		if (this.relay) cfg.noChannelBinding = true;
		else {
			cfg.localFingerprint = this.n.fingerprint;
			cfg.remoteFingerprint = await this.remoteFingerprint();
		}
		this.hs = new seal.Handshake(this.ps.sealConfig(cfg));
		return this.hs.start();
	}

	async onMessage(data) {
		if (typeof data === 'string') return this.onHandshakeMessage(data);
		return this.onBinary(new Uint8Array(data));
	}

	async onHandshakeMessage(text) {
		this.started = true;
		let abort;
		try {
			abort = seal.parseAbort(text);
		} catch {
			/* not an abort */
		}
		if (abort) return this.fail('refused', `${this.ps.id} refused the handshake: ${abort}`);
		try {
			await this.ensureHandshake();
		} catch (e) {
			return this.fail('handshake', 'seal handshake: ' + e.message);
		}
		if (this.sess) return this.fail('protocol', 'text frame after handshake');
		let r;
		try {
			r = await this.hs.handle(text);
		} catch (e) {
			const code = { fingerprint: 'fingerprint_mismatch', continuity: 'continuity_failed' }[e.code] || 'handshake';
			if (this.hs.peerV >= 2) this.sendNow(seal.marshalAbort(code)); // a v2 peer learns why
			return this.fail(code, `seal handshake with ${this.ps.id}: ${e.message}`);
		}
		if (r.reply) this.writeText(r.reply);
		if (!r.session) return;
		let start;
		try {
			start = await this.startFrame(r.session);
		} catch (e) {
			return this.fail('handshake', 'identity: ' + e.message);
		}
		this.sess = r.session;
		this.writeSealed(start);
	}

	async startFrame(sess) {
		let id = new Uint8Array(0);
		const ident = this.n.identity;
		if (ident) id = utf8(await seal.signIdentity(sess, ident.address, (t) => ident.signText(t)));
		return encodeStart(this.n.instance, this.ps.baseSeq(), id);
	}

	async onBinary(bytes) {
		if (!this.sess) {
			if (this.relay) return this.close('relay frame before handshake');
			return this.fail('protocol', 'binary frame before handshake');
		}
		let pt;
		try {
			pt = await this.sess.open(bytes);
		} catch (e) {
			const m = `first frame from ${this.ps.id} does not open`;
			if (!this.startSeen && this.sess.continued) return this.fail('continuity_failed', m + ': the peer does not hold the continuity secret');
			if (!this.startSeen && !this.relay) return this.fail('possible_mitm', m + ' although DTLS was bound: possibly someone in the middle');
			if (this.relay && this.startSeen) return this.close(`relay frame from ${this.ps.id} lost or damaged`);
			return this.fail('seal', `open frame from ${this.ps.id}: ${e.message}`);
		}
		let f;
		try {
			f = decodeFrame(pt);
		} catch (e) {
			return this.fail('protocol', e.message);
		}
		if (f.type === START) return this.onStart(f);
		if (!this.startSeen) return this.fail('protocol', 'frame before start');
		if (!this.confirmed) {
			this.confirmed = true; // the peer processed our start frame: it holds the continuity secret
			this.ps.confirm();
		}
		if (f.type === DATA) {
			this.onAck(f.ack);
			const err = this.ps.onData(this, f);
			if (err) this.fail('protocol', err);
		} else {
			this.onAck(f.seq);
		}
	}

	async onStart(f) {
		if (this.startSeen) return this.fail('protocol', 'second start frame');
		this.startSeen = true;
		let address = '';
		if (f.identity.length) {
			try {
				address = seal.verifyIdentity(this.sess, fromUtf8(f.identity), this.n.recoverText).address;
			} catch (e) {
				return this.fail('identity_invalid', 'peer identity invalid: ' + e.message);
			}
		}
		const v = this.ps.sessionVerified(this.sess, address);
		if (v.err) return this.fail(v.code, v.err);
		this.verified = true;
		if (v.changed) this.n.emit({ type: 'sas-changed', peer: this.ps.id, ...v.changed, address });
		this.ps.onStart(f.instance, f.base);
		const path = await this.path();
		if (this.dead) return;
		this.ps.onLinkReady(this, { sas: v.sas, address, path });
	}

	onAck(seq) {
		if (this.relay) this.acked(seq);
		this.ps.onAck(seq);
	}


	out(f) {
		this.pendingWrites++;
		const p = this.outChain.then(() => (this.dead ? undefined : f()));
		this.outChain = p
			.catch((e) => this.close('send: ' + e.message))
			.finally(() => {
				this.pendingWrites--;
				this.wake();
			});
		return p;
	}

	writeText(s) {
		return this.out(() => this.sendNow(s));
	}

	sendNow(s) {
		try {
			if (this.relay) this.writeRelay('hello', utf8(s));
			else this.dc.send(s);
		} catch {
			/* closed */
		}
	}

	/** Seals at once (the seq is taken now: encryptions overlap) and sends in call order. */
	writeSealed(pt, prepare) {
		if (prepare) prepare();
		const sealed = this.sess.seal(pt);
		sealed.catch(() => {}); // reported by the chain below
		return this.out(async () => {
			const f = await sealed;
			if (this.dead) return;
			if (this.relay) this.writeRelay('sealed', f);
			else this.dc.send(f);
		});
	}

	wake() {
		const w = this.waiters;
		this.waiters = [];
		for (const r of w) r();
	}

	async waitWritable() {
		for (;;) {
			if (this.dead) throw new Error('transport closed');
			const full = this.pendingWrites > MAX_PENDING_WRITES || (this.relay ? this.inflightBytes > RELAY_WINDOW : this.dc && this.dc.bufferedAmount > HIGH_WATER);
			if (!full) return;
			await new Promise((r) => {
				this.waiters.push(r);
				if (!this.relay) setTimeout(r, 50); // bufferedamountlow may have fired before we listened
			});
		}
	}


	async onRelayClose(tag) {
		const s = this.sess;
		if (!tag || !s || !(await s.verifyCloseTag(this.gen, tag))) return this.n.log(`unauthenticated relay close from ${this.ps.id} ignored`);
		this.peerClosed = true;
		this.close('relay transport closed by the peer');
	}

	writeRelay(t, bytes) {
		this.n.signalSend(this.ps.id, 'relay', `{"gen":${this.gen},"t":"${t}","b":"${b64u(bytes)}"}`);
	}

	track(seq, size) {
		if (!this.inflight.length) this.progress = performance.now();
		this.inflight.push({ seq, size });
		this.inflightBytes += size;
	}

	acked(seq) {
		let i = 0;
		while (i < this.inflight.length && this.inflight[i].seq <= seq) this.inflightBytes -= this.inflight[i++].size;
		if (i) {
			this.inflight = this.inflight.slice(i);
			this.progress = performance.now();
			this.wake();
		}
	}

	armRelayDeadline() {
		this.timer(this.n.relayReadyMs, () => {
			if (!this.ready) this.close('relay transport not ready in time');
		});
	}

	relayWatch() {
		const stall = this.n.relayStallMs;
		const tick = () => {
			if (this.dead) return;
			if (this.inflight.length && performance.now() - this.progress > stall) return this.close('relay transport stalled: no acknowledgement in time');
			this.timer(stall / 4, tick);
		};
		this.timer(stall / 4, tick);
	}


	close(reason) {
		if (this.dead) return;
		this.dead = true;
		for (const t of this.timers) clearTimeout(t);
		this.timers.clear();
		this.wake();
		const s = this.sess;
		if (this.relay) {
			const send = (b) => this.n.signalSend(this.ps.id, 'relay', `{"gen":${this.gen},"t":"close"${b ? `,"b":"${b64u(b)}"` : ''}}`);
			if (!this.peerClosed) (async () => {
				if (s) send(await s.closeTag(this.gen));
				if (!s || s.version === 1) send();
			})().catch(() => {});
		} else {
			try {
				this.pc.close();
			} catch {
				/* already closed */
			}
		}
		if (s) s.close();
		this.ps.onLinkDead(this, reason);
	}

	fail(code, message) {
		if (this.dead) return;
		this.ps.rejected = true;
		this.n.emit({ type: 'error', peer: this.ps.id, code, message });
		this.close(message);
	}
}
