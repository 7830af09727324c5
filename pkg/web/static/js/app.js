// The page's entry: room from the URL fragment or the form, signaling URL, identity, replay store, UI wiring.

import { UI } from './ui.js';
import { Room } from './room.js';
import { defaultSignalURL } from './signal.js';
import { loadKeyIdentity, connectWallet, hasWallet } from './identity.js';
import { openReplayStore } from './replay.js';
import { VIA } from './peer.js';

const ui = new UI();
const params = new URLSearchParams(location.search);
let identity = loadKeyIdentity();
let room = null;

async function signalURL() {
	if (params.get('signal')) return params.get('signal');
	try {
		const res = await fetch('/config.json', { cache: 'no-store' });
		const cfg = await res.json();
		if (typeof cfg.signal === 'string' && cfg.signal) return cfg.signal; // the cluster's nodes, in order
		return defaultSignalURL(location, typeof cfg.signalPath === 'string' ? cfg.signalPath : '/ws');
	} catch {
		return defaultSignalURL(location);
	}
}

const times = (window.vtpeerTimes = {}); // ms since navigation, for the benchmarks
function onEvent(ev) {
	if (!times[ev.type]) times[ev.type] = performance.now();
	switch (ev.type) {
		case 'status':
			ui.status(ev.text);
			ui.log(ev.text);
			return;
		case 'log':
			return ui.log(ev.text);
		case 'error':
			return ui.log(`${ev.peer ? ev.peer + ': ' : ''}${ev.message}${ev.code ? ' (' + ev.code + ')' : ''}`, true);
		case 'peers': {
			if (!times.connected && ev.list.some((p) => p.connected)) times.connected = performance.now();
			ui.peers(ev.list);
			const n = ev.list.filter((p) => p.connected).length;
			if (room && room.signal && room.signal.joined) ui.status(`room ${room.room}: ${n} peer(s) connected, sealed end to end`);
			return;
		}
		case 'chat':
			return ui.chat(ev.peer, ev.text, ev.own);
		case 'alert':
			return ui.alert(ev.text);
		case 'tip':
			return ui.tipReceived(ev.peer, ev.event);
		case 'receipt':
			return ui.receipt(ev.peer, ev.receipt, ev.sent);
	}
}

async function join(name, via) {
	if (room) throw new Error('already in a room: reload the page to change');
	if (!name) throw new Error('a room name is needed');
	if (!window.isSecureContext || !crypto.subtle) throw new Error('this page needs a secure context (https, or http://localhost) for WebCrypto');
	if (!VIA.includes(via)) via = 'auto';
	if (location.hash.slice(1) !== encodeURIComponent(name)) history.replaceState(null, '', `${location.pathname}${location.search}#${encodeURIComponent(name)}`);
	ui.joined(name, via);
	const store = await openReplayStore();
	if (!store.persistent) ui.log('IndexedDB unavailable: tip replay records last only as long as this tab', true);
	const p2p = Number(params.get('p2pTimeout')) || undefined;
	room = new Room({ room: name, signalURL: await signalURL(), via, p2pTimeoutMs: p2p, identity, store, onEvent, debug: params.has('debug') });
	window.vtpeerRoom = room; // for the console and the benchmarks
	await room.start();
}

ui.bind({
	join,
	chat: async (text) => {
		if (!room) throw new Error('join a room first');
		await room.chat(text);
	},
	tip: async (t) => {
		if (!room) throw new Error('join a room first');
		const hash = await room.tip(t);
		ui.tipSent(hash, t.to, t.amount);
	},
	retry: async (id) => room && room.retry(id),
	wallet: async () => {
		if (room) throw new Error('choose the wallet before joining a room (reload the page)');
		identity = await connectWallet();
		ui.identity(identity, hasWallet());
		ui.log(`identity: wallet account ${identity.address}`);
	},
	keep: async (on) => {
		if (identity.kind === 'wallet') return;
		if (on) {
			identity.keep();
			ui.log('the in-page key is now kept in this browser\'s localStorage (not encrypted); untick to forget it');
		} else {
			identity.forget();
			ui.log('the in-page key is forgotten by this browser; it lasts until this tab closes');
		}
		ui.identity(identity, hasWallet());
	},
});

ui.identity(identity, hasWallet());
const via = VIA.includes(params.get('via')) ? params.get('via') : 'auto';
const fromHash = decodeURIComponent(location.hash.slice(1));
ui.prefill(fromHash, via);
if (fromHash) {
	join(fromHash, via).catch((e) => ui.log(e.message, true));
} else {
	ui.status('Choose a room to join.');
}
