// The page's DOM: renders the room session's events and turns form submissions into calls.

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props)) {
		if (k === 'class') e.className = v;
		else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v);
		else e[k] = v;
	}
	for (const c of children) if (c !== null && c !== undefined) e.append(c);
	return e;
}

/** The UI bound to the page's elements. */
export class UI {
	constructor() {
		this.names = new Map(); // peer id → proven address
		this.logCount = 0;
	}

	status(text) {
		$('status').textContent = text;
	}

	log(text, error = false) {
		const list = $('log');
		const t = new Date().toISOString().slice(11, 23);
		(error ? console.warn : console.info)('vtpeer: ' + text);
		list.append(el('li', { class: error ? 'error' : '' }, `${t} ${text}`));
		if (++this.logCount > 500) list.firstChild.remove();
		list.scrollTop = list.scrollHeight;
	}

	identity(id, canUseWallet) {
		$('own-address').textContent = id.address;
		const label = $('identity-label');
		label.textContent = id.label;
		label.className = 'note ' + id.kind;
		$('wallet-button').hidden = !canUseWallet || id.kind === 'wallet';
		const keep = $('keep-key');
		keep.parentElement.hidden = id.kind === 'wallet';
		keep.checked = id.kind === 'kept';
	}

	joined(room, via) {
		$('join-form').hidden = true;
		const line = $('room-line');
		line.hidden = false;
		line.textContent = `Room ${JSON.stringify(room)} · path policy ${via}`;
		document.title = `${room} — VeryTippers P2P`;
	}

	name(id) {
		return this.names.get(id) || id;
	}

	peers(list) {
		const ul = $('peers');
		ul.replaceChildren();
		for (const p of list) {
			if (p.address) this.names.set(p.id, p.address);
			const li = el('li', { 'data-peer': p.id, 'data-stopped': String(!!p.stopped), 'data-old-sas': p.oldSAS || '', 'data-connected': String(p.connected), 'data-path': p.path, 'data-sas': p.sas, 'data-address': p.address });
			li.append(el('div', {}, el('code', {}, p.id), p.connected ? el('span', { class: 'path ' + p.path, 'aria-label': 'path ' + p.path }, p.path) : el('span', { class: 'muted' }, p.stopped ? ' stopped' : ' connecting…')));
			if (p.stopped) li.append(el('button', { type: 'button', 'data-retry': p.id, 'aria-label': 'Retry ' + p.id }, 'Retry'));
			if (p.connected) {
				if (p.oldSAS) li.append(el('div', { class: 'changed', role: 'alert' }, `The numbers changed (were ${p.oldSAS}) — compare again`));
				li.append(el('div', { class: 'sas', 'aria-label': `SAS with ${p.id}: ${p.sas.split('').join(' ')}` }, p.sas));
				li.append(el('div', {}, p.address ? el('span', {}, 'proves ', el('code', {}, p.address)) : el('span', { class: 'muted' }, 'proves no account')));
			}
			ul.append(li);
		}
	}

	alert(text) {
		$('alerts').prepend(el('li', {}, text));
		this.log(text, true);
	}

	chat(peer, text, own) {
		const ol = $('chat-log');
		ol.append(el('li', { class: own ? 'own' : '', 'data-from': own ? 'me' : peer }, el('span', { class: 'from' }, own ? 'me' : this.name(peer) + ':'), text));
		ol.scrollTop = ol.scrollHeight;
	}

	tipReceived(peer, ev) {
		const ok = ev.verified;
		const line = ok
			? `received ${ev.amountVery} VERY from ${ev.from}${ev.cid ? ' (cid ' + ev.cid + ')' : ''}: verified, receipt sent`
			: `refused a tip from ${ev.from || peer}: ${ev.code} — ${ev.reason}`;
		$('tips').append(el('li', { 'data-kind': 'received', 'data-hash': ev.messageHash, 'data-verified': String(ok), 'data-code': ev.code }, el('span', { class: ok ? 'ok' : 'bad' }, ok ? '✓ ' : '✗ '), line));
	}

	receipt(peer, r, sent) {
		const who = r.signer ? `signed by ${r.signer}` : 'unsigned';
		const what = sent ? `${sent.amountVery} VERY to ${sent.to}` : r.messageHash;
		const line = r.accepted ? `receipt: ${what} accepted (${who})` : `receipt: ${what} refused: ${r.code} — ${r.reason} (${who})`;
		$('tips').append(el('li', { 'data-kind': 'receipt', 'data-hash': r.messageHash, 'data-accepted': String(r.accepted), 'data-code': r.code, 'data-signer': r.signer }, el('span', { class: r.accepted ? 'ok' : 'bad' }, r.accepted ? '✓ ' : '✗ '), line));
	}

	tipSent(hash, to, amount) {
		$('tips').append(el('li', { 'data-kind': 'sent', 'data-hash': hash }, `sent ${amount} VERY to ${to}, waiting for the receipt…`));
	}

	bind(h) {
		const guard = (f) => (e) => {
			e.preventDefault();
			Promise.resolve()
				.then(f)
				.catch((err) => this.log(err.message, true));
		};
		$('join-form').addEventListener('submit', guard(() => h.join($('room-input').value.trim(), $('via-select').value)));
		$('chat-form').addEventListener('submit', guard(async () => {
			const input = $('chat-input');
			const text = input.value;
			if (!text.trim()) return;
			await h.chat(text);
			input.value = '';
		}));
		$('tip-form').addEventListener('submit', guard(async () => {
			const to = $('tip-to').value;
			const amount = $('tip-amount').value;
			await h.tip({ to, amount, cid: $('tip-cid').value });
		}));
		$('wallet-button').addEventListener('click', guard(() => h.wallet()));
		$('peers').addEventListener('click', (e) => e.target.dataset.retry && guard(() => h.retry(e.target.dataset.retry))(e));
		$('keep-key').addEventListener('change', guard(() => h.keep($('keep-key').checked)));
	}

	prefill(room, via) {
		$('room-input').value = room;
		$('via-select').value = via;
	}
}
