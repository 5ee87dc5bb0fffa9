import type {TokenStore} from '../../lib/token-store.js';

/** One key of a {@link MemoryStore}: its value and when it expires (epoch ms). */
export type MemoryEntry = {value: string; expiresAt: number; ttlMs: number};

export type MemoryStore = TokenStore & {
	/** Everything in the store, locks included (under `<key>:lock`). */
	readonly entries: Map<string, MemoryEntry>;
	/** Every operation, in the order the store carried them out. */
	readonly log: string[];
};

/**
 * A TokenStore in memory, for the processes of a fleet simulated by several clients in one process:
 * atomic operations with TTLs, each answered after `latencyMs` (0: on the next tick), so that a
 * write that is not awaited is visibly not done yet.
 */
export function memoryStore(options: {latencyMs?: number; lockTtlMs?: number} = {}): MemoryStore {
	const entries = new Map<string, MemoryEntry>();
	const log: string[] = [];
	const answer = async () =>
		new Promise(resolve => {
			setTimeout(resolve, options.latencyMs ?? 0);
		});
	const live = (key: string) => {
		const entry = entries.get(key);
		if (entry !== undefined && entry.expiresAt <= Date.now()) {
			entries.delete(key);
			return undefined;
		}

		return entry;
	};

	const put = (key: string, value: string, ttlMs: number) => {
		entries.set(key, {value, ttlMs, expiresAt: Date.now() + ttlMs});
	};

	return {
		entries,
		log,
		...(options.lockTtlMs === undefined ? {} : {lockTtlMs: options.lockTtlMs}),
		async get(key) {
			await answer();
			log.push(`get ${key}`);
			return live(key)?.value;
		},
		async set(key, value, ttlMs) {
			await answer();
			log.push(`set ${key}`);
			put(key, value, ttlMs);
		},
		async delete(key, value) {
			await answer();
			log.push(`delete ${key}`);
			if (live(key)?.value === value) {
				entries.delete(key);
			}
		},
		async lock(key, owner, ttlMs) {
			await answer();
			log.push(`lock ${key}`);
			if (live(`${key}:lock`) !== undefined) {
				return false;
			}

			put(`${key}:lock`, owner, ttlMs);
			return true;
		},
		async extendLock(key, owner, ttlMs) {
			await answer();
			if (live(`${key}:lock`)?.value !== owner) {
				return false;
			}

			put(`${key}:lock`, owner, ttlMs);
			return true;
		},
		async unlock(key, owner) {
			await answer();
			log.push(`unlock ${key}`);
			if (live(`${key}:lock`)?.value === owner) {
				entries.delete(`${key}:lock`);
			}
		},
	};
}
