// Who the page is: an injected EIP-1193 wallet when the user picks it, else a throwaway in-page key.

import { personalSignWithKey, privToAddress, randomPrivateKey, checksumAddress, isAddress, from0x } from './eth.js';
import { utf8, toHex, fromHex } from './bytes.js';

const KEY_ITEM = 'vtpeer.throwawayKey';

/** An identity: {kind, label, address, signText(text) → '0x…', personalSign(bytes) → Uint8Array}. */
class Identity {
	async signText(text) {
		return '0x' + toHex(await this.personalSign(utf8(text)));
	}
}

class KeyIdentity extends Identity {
	constructor(priv, kept) {
		super();
		this.priv = priv;
		this.address = privToAddress(priv);
		this.kind = kept ? 'kept' : 'throwaway';
	}
	get label() {
		return this.kind === 'kept'
			? 'in-page key kept in this browser (localStorage, not encrypted): for small tips and tests only'
			: 'throwaway in-page key: it lives only as long as this tab';
	}
	personalSign(msg) {
		if (!this.priv) return Promise.reject(new Error('identity: key forgotten'));
		return personalSignWithKey(this.priv, msg);
	}
	keep() {
		localStorage.setItem(KEY_ITEM, toHex(this.priv));
		this.kind = 'kept';
	}
	forget() {
		localStorage.removeItem(KEY_ITEM);
		this.kind = 'throwaway';
	}
}

class WalletIdentity extends Identity {
	constructor(provider, address) {
		super();
		this.provider = provider;
		this.address = checksumAddress(address);
		this.kind = 'wallet';
	}
	get label() {
		return 'your wallet (each signature is asked of it)';
	}
	async personalSign(msg) {
		const sig = await this.provider.request({ method: 'personal_sign', params: ['0x' + toHex(msg), this.address.toLowerCase()] });
		const b = from0x(sig);
		if (b.length !== 65) throw new Error(`wallet returned a ${b.length}-byte signature`);
		if (b[64] < 27) b[64] += 27;
		return b;
	}
}

/** Is an EIP-1193 wallet injected? */
export function hasWallet() {
	return !!(globalThis.ethereum && typeof globalThis.ethereum.request === 'function');
}

/** Asks the injected wallet for an account. */
export async function connectWallet() {
	if (!hasWallet()) throw new Error('identity: no wallet in this browser');
	const accounts = await globalThis.ethereum.request({ method: 'eth_requestAccounts' });
	if (!Array.isArray(accounts) || !isAddress(accounts[0])) throw new Error('identity: the wallet gave no account');
	return new WalletIdentity(globalThis.ethereum, accounts[0]);
}

/** The in-page key: the one the user kept earlier, else a new throwaway key. */
export function loadKeyIdentity() {
	let kept = null;
	try {
		kept = globalThis.localStorage && localStorage.getItem(KEY_ITEM);
	} catch {
		kept = null;
	}
	if (kept && /^[0-9a-f]{64}$/.test(kept)) return new KeyIdentity(fromHex(kept), true);
	return new KeyIdentity(randomPrivateKey(), false);
}
