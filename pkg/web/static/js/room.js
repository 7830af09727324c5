// The room session (the page's pkg/app): signaling + the peer node + chat, tips and receipts.

import { SignalClient } from './signal.js';
import { Node } from './peer.js';
import * as tips from './tips.js';
import { parseUserAddress } from './eth.js';
import { utf8, fromUtf8 } from './bytes.js';

/** Events (onEvent): status, log, peers, chat, tip, receipt, alert, error, joined. */
export class Room {
	constructor(o) {
		this.o = o;
		this.room = o.room;
		this.identity = o.identity;
		this.onEvent = o.onEvent;
		this.sentTips = new Map(); // messageHash → {peer, to, amountVery}
		this.seenChat = new Set();
		this.changed = new Map(); // peer → the SAS before it changed
	}

	emit(ev) {
		this.onEvent(ev);
	}
	log(text) {
		this.emit({ type: 'log', text });
	}

	async start() {
		this.node = await Node.create({
			room: this.room,
			via: this.o.via,
			p2pTimeoutMs: this.o.p2pTimeoutMs,
			identity: this.identity,
			debug: this.o.debug,
			signal: { send: (to, type, data) => this.signal.send(to, type, data) },
			onEvent: (ev) => this.onNodeEvent(ev),
			log: (t) => this.log(t),
		});
		this.signal = new SignalClient(this.o.signalURL, this.room, {
			onJoined: ({ peerId, peers, iceServers }) => {
				this.emit({ type: 'joined', peerId, peers });
				this.emit({ type: 'status', text: `joined ${this.room} as ${peerId}; ${peers.length ? peers.length + ' peer(s) here, connecting' : 'waiting for a peer'}` });
				this.node.joined(peerId, peers, iceServers);
				this.peersChanged();
			},
			onPeerJoined: (id) => {
				this.log(`peer ${id} joined the room`);
				this.node.peerJoined(id);
				this.peersChanged();
			},
			onPeerLeft: (id) => {
				this.log(`peer ${id} left the room`);
				this.node.peerLeft(id);
				this.peersChanged();
			},
			onSignal: (from, type, data) => this.node.handleSignal(from, type, data),
			onError: (e) => this.emit({ type: 'error', peer: '', code: e.code, message: `signaling server: ${e.error}` }),
			onReconnecting: (why) => this.emit({ type: 'status', text: `signaling server lost (${why}), reconnecting; open chats go on` }),
		}, { log: (t) => this.log(t) });
		this.emit({ type: 'status', text: `connecting to ${this.o.signalURL}` });
		this.signal.start();
	}

	peersChanged() {
		this.emit({ type: 'peers', list: this.node.list().map((p) => ({ ...p, oldSAS: this.changed.get(p.id) || '' })) });
	}

	retry(peer) {
		this.changed.delete(peer);
		this.log(`retrying ${peer}: a new session has a new SAS — compare it again`);
		this.node.retry(peer);
		this.peersChanged();
	}

	onNodeEvent(ev) {
		switch (ev.type) {
			case 'connected':
				this.log(`sealed session with ${ev.peer} over ${ev.path}, SAS ${ev.sas}${ev.address ? ', proves ' + ev.address : ''}`);
				break;
			case 'path':
				this.log(`session with ${ev.peer} moved from ${ev.from} to ${ev.to}, continued: same SAS ${ev.sas}`);
				break;
			case 'sas-changed':
				this.changed.set(ev.peer, ev.old);
				this.emit({ type: 'alert', peer: ev.peer, text: `The numbers changed for ${ev.address || ev.peer}: ${ev.old} → ${ev.new}. This is a new session — compare all six digits again.` });
				break;
			case 'handshake-failed':
				this.emit({ type: 'error', peer: ev.peer, code: 'handshake_failed', message: `handshake ${ev.count} with ${ev.peer} did not finish (${ev.reason})${ev.capped ? '; stopped: possibly someone in the middle — press Retry to try again' : ''}` });
				break;
			case 'undelivered':
				this.emit({ type: 'alert', peer: ev.peer, text: `${ev.count} message(s) to ${ev.peer} not delivered yet: kept for its return while this tab stays open.` });
				break;
			case 'left':
				this.log(`session with ${ev.peer} ended (${ev.reason})`);
				break;
			case 'error':
				this.emit(ev);
				break;
			case 'message':
				this.onMessage(ev.peer, ev.kind, ev.body).catch((e) => this.emit({ type: 'error', peer: ev.peer, code: 'internal', message: e.message }));
				return;
		}
		this.peersChanged();
	}

	async onMessage(peer, kind, body) {
		switch (kind) {
			case 'chat': {
				let c;
				try {
					c = JSON.parse(fromUtf8(body));
				} catch {
					c = null;
				}
				if (!c || typeof c.text !== 'string') return this.emit({ type: 'error', peer, code: 'bad_message', message: `undecodable chat message from ${peer}` });
				if (typeof c.id === 'string' && c.id) {
					const key = peer + '/' + c.id;
					if (this.seenChat.has(key)) return this.log(`duplicate chat ${c.id} from ${peer} dropped`);
					this.seenChat.add(key);
				}
				return this.emit({ type: 'chat', peer, text: c.text, own: false });
			}
			case 'tip':
			case 'tip-queued': {
				const { event, receipt } = await tips.judge(fromUtf8(body), { store: this.o.store, signer: this.identity, queued: kind === 'tip-queued' });
				if (!(kind === 'tip-queued' && event.code === 'already_accepted')) this.emit({ type: 'tip', peer, event });
				await this.node.send(peer, 'receipt', utf8(receipt)).catch((e) => this.log(`receipt to ${peer} not sent: ${e.message}`));
				return;
			}
			case 'receipt': {
				let r;
				try {
					r = tips.parseReceipt(fromUtf8(body));
				} catch (e) {
					return this.emit({ type: 'error', peer, code: 'bad_receipt', message: e.message });
				}
				return this.emit({ type: 'receipt', peer, receipt: r, sent: this.sentTips.get(r.messageHash) || null });
			}
			default:
				this.log(`message of unknown kind ${JSON.stringify(kind)} from ${peer} ignored`);
		}
	}

	connected() {
		return this.node ? this.node.list().filter((p) => p.connected) : [];
	}

	async chat(text) {
		const peers = this.connected();
		if (!peers.length) throw new Error('no peer is connected yet');
		const body = utf8(JSON.stringify({ text }));
		await Promise.all(peers.map((p) => this.node.send(p.id, 'chat', body)));
		this.emit({ type: 'chat', peer: '', text, own: true });
		return peers.length;
	}

	async tip(t) {
		const to = parseUserAddress(t.to);
		const amount = tips.parseAmount(t.amount);
		if (to.toLowerCase() === this.identity.address.toLowerCase()) throw new Error('that is your own address');
		const target = this.connected().find((p) => p.address && p.address.toLowerCase() === to.toLowerCase());
		if (!target) {
			const proven = this.connected().filter((p) => p.address).map((p) => p.address);
			throw new Error(`no connected peer proves ${to}${proven.length ? ' (present: ' + proven.join(', ') + ')' : ''}: a tip goes only to the peer proving its recipient`);
		}
		const signed = await tips.signTip(this.identity, { to, amount, cid: (t.cid || '').trim() });
		this.sentTips.set(signed.hash, { peer: target.id, to, amountVery: tips.formatAmount(amount) });
		await this.node.send(target.id, 'tip', utf8(signed.json));
		this.log(`tip ${signed.hash} of ${tips.formatAmount(amount)} VERY sent to ${target.id} (${to})`);
		return signed.hash;
	}

	close() {
		this.node?.close();
		this.signal?.close();
	}
}
