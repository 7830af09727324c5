// The page's replay store: hashes of accepted tips in IndexedDB (memory when unavailable).

import { QUEUED_MAX_AGE_MS } from './tips.js';

const DB = 'vtpeer';
const STORE = 'seen';
/** Records are kept for twice the longest window a tip can be accepted in. */
export const KEEP_MS = 2 * QUEUED_MAX_AGE_MS;

/** A replay store in memory (Node tests, or a browser without IndexedDB: then only per tab). */
export class MemoryReplayStore {
	constructor() {
		this.seen = new Map();
		this.persistent = false;
	}

	async record(hash, atMs) {
		if (this.seen.has(hash)) return false;
		this.seen.set(hash, atMs);
		return true;
	}
}

const req = (r) =>
	new Promise((resolve, reject) => {
		r.onsuccess = () => resolve(r.result);
		r.onerror = () => reject(r.error);
	});

/** The IndexedDB replay store. Open it with openReplayStore. */
export class IndexedDBReplayStore {
	constructor(db) {
		this.db = db;
		this.persistent = true;
	}

	record(hash, atMs) {
		return new Promise((resolve, reject) => {
			const tx = this.db.transaction(STORE, 'readwrite');
			const r = tx.objectStore(STORE).add(atMs, hash);
			let fresh = true;
			r.onerror = (e) => {
				if (r.error && r.error.name === 'ConstraintError') {
					fresh = false;
					e.preventDefault(); // a known hash: not a failure of the transaction
				}
			};
			tx.oncomplete = () => resolve(fresh);
			tx.onabort = () => (fresh ? reject(tx.error || new Error('replay store: transaction aborted')) : resolve(false));
		});
	}

	async prune(beforeMs) {
		const tx = this.db.transaction(STORE, 'readwrite');
		const st = tx.objectStore(STORE);
		const cur = st.openCursor();
		await new Promise((resolve, reject) => {
			cur.onsuccess = () => {
				const c = cur.result;
				if (!c) return resolve();
				if (c.value < beforeMs) c.delete();
				c.continue();
			};
			cur.onerror = () => reject(cur.error);
		});
	}
}

/** Opens the replay store (IndexedDB, pruned), or a memory store with persistent = false. */
export async function openReplayStore() {
	if (!globalThis.indexedDB) return new MemoryReplayStore();
	try {
		const open = indexedDB.open(DB, 1);
		open.onupgradeneeded = () => {
			if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
		};
		const s = new IndexedDBReplayStore(await req(open));
		await s.prune(Date.now() - KEEP_MS);
		return s;
	} catch {
		return new MemoryReplayStore();
	}
}
