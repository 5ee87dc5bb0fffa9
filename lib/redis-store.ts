import {createHash} from 'node:crypto';
import {inspect} from 'node:util';
import {VibrantConfigError} from './errors.js';
import {type TokenStore, checkEncryptionKey, checkPositiveMilliseconds, defaultCommandTimeoutMs, defaultLockTtlMs} from './token-store.js';

/** Options of {@link RedisTokenStore}. */
export type RedisTokenStoreOptions = {
	/**
	 * The first part of every key name. Keys are `<prefix>:{<hash>}` for a token and
	 * `<prefix>:{<hash>}:lock` for its fetch lock (the hash tag keeps both on one Cluster slot), and
	 * `<prefix>:{<hash>.failed}` for the short-lived marker of a lock holder whose fetch failed.
	 *
	 * @default 'vibrant-oauth2-client'
	 */
	readonly prefix?: string | undefined;

	/**
	 * The longest wait for one Redis command. A slower answer counts as a failure: the client fetches
	 * for itself and leaves Redis alone for a short back-off.
	 *
	 * @default 500
	 */
	readonly commandTimeoutMs?: number | undefined;

	/**
	 * The life of the fetch lock. Its holder extends it while it fetches, so a holder that dies delays
	 * the other processes by this much at most.
	 *
	 * @default 5000
	 */
	readonly lockTtlMs?: number | undefined;

	/**
	 * 32 bytes that encrypt the entries (AES-256-GCM). Without it, the key is derived from the client
	 * secret (HKDF-SHA-256): every process with the same credentials reads the entries, no one else.
	 * Set it when the secret is weak (it would be guessable from an entry) or shared by unrelated
	 * services.
	 *
	 * @default derived from the client secret
	 */
	readonly encryptionKey?: Uint8Array | undefined;
};

/**
 * A connected Redis client that the application owns: an ioredis `Redis` or `Cluster` (ioredis ≥ 5),
 * or a node-redis client or cluster (`redis` ≥ 4, `createClient()` / `createCluster()`). Typed
 * loosely so that either package's types are accepted without depending on them.
 */
export type RedisClientLike = object;

/** Sends one command; `key` is the command's first key, for a cluster's routing. */
type Send = (key: string, args: string[]) => Promise<unknown>;

const defaultPrefix = 'vibrant-oauth2-client';
const prefixPattern = /^[^\s{}]{1,100}$/;

// KEYS[1] holds ARGV[1]? Then delete it. (Redis 7.0 has no compare-and-delete command.)
const compareAndDelete = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
// KEYS[1] holds ARGV[1]? Then give it ARGV[2] more milliseconds.
const compareAndExtend = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

/**
 * A {@link TokenStore} on Redis: the processes of a fleet that share a Redis share one token.
 *
 * It sends plain commands only (`GET`, `SET … PX`, `SET … NX PX`, `EVALSHA` with `EVAL` as the
 * fallback) through the client it is given; it never changes that client's settings, adds no
 * listener to it and never closes it. It works whichever RESP version the client speaks, and on
 * Redis Cluster (the keys of one entry share a hash tag).
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { Client, RedisTokenStore } from "vibrant-oauth2-client";
 *
 * const client = new Client({ store: new RedisTokenStore(new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")) });
 * ```
 */
export class RedisTokenStore implements TokenStore {
	/** The first part of every key name. */
	readonly prefix: string;

	/** The longest wait for one Redis command, in milliseconds. */
	readonly commandTimeoutMs: number;

	/** The life of the fetch lock, in milliseconds. */
	readonly lockTtlMs: number;

	readonly #send: Send;
	readonly #encryptionKey: Uint8Array | undefined;

	/**
	 * @param redis - a connected client the application owns (see {@link RedisClientLike}).
	 * @param options - key prefix, timeouts and encryption key.
	 * @throws {@link VibrantConfigError} when `redis` is not a supported Redis client or an option is invalid.
	 */
	constructor(redis: RedisClientLike, options: RedisTokenStoreOptions = {}) {
		// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers may pass anything.
		if (typeof options !== 'object' || options === null) {
			throw new VibrantConfigError('RedisTokenStore options must be an object.');
		}

		this.#send = adapt(redis);
		const prefix = options.prefix ?? defaultPrefix;
		if (typeof prefix !== 'string' || !prefixPattern.test(prefix)) {
			throw new VibrantConfigError('RedisTokenStore option prefix must be 1 to 100 characters without spaces, "{" or "}".');
		}

		checkPositiveMilliseconds(options.commandTimeoutMs, 'RedisTokenStore option commandTimeoutMs');
		checkPositiveMilliseconds(options.lockTtlMs, 'RedisTokenStore option lockTtlMs');
		checkEncryptionKey(options.encryptionKey, 'RedisTokenStore option encryptionKey');
		this.prefix = prefix;
		this.commandTimeoutMs = options.commandTimeoutMs ?? defaultCommandTimeoutMs;
		this.lockTtlMs = options.lockTtlMs ?? defaultLockTtlMs;
		this.#encryptionKey = options.encryptionKey === undefined ? undefined : Uint8Array.from(options.encryptionKey);
	}

	/** The key given as `encryptionKey`, if any (kept out of `util.inspect` and JSON). */
	get encryptionKey(): Uint8Array | undefined {
		return this.#encryptionKey === undefined ? undefined : Uint8Array.from(this.#encryptionKey);
	}

	/** Reads the token entry (part of {@link TokenStore}; the client calls it). */
	async get(key: string): Promise<string | undefined> {
		const value = await this.#send(this.#entry(key), ['GET', this.#entry(key)]);
		// A string, or a Buffer for a client set to return them; null for no entry.
		return typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
	}

	/** Writes the token entry with a TTL (part of {@link TokenStore}). */
	async set(key: string, value: string, ttlMs: number): Promise<void> {
		await this.#send(this.#entry(key), ['SET', this.#entry(key), value, 'PX', String(ttlMs)]);
	}

	/** Deletes the token entry if it still holds `value` (part of {@link TokenStore}). */
	async delete(key: string, value: string): Promise<void> {
		await this.#script(compareAndDelete, this.#entry(key), [value]);
	}

	/** Takes the fetch lock with `SET … NX PX` (part of {@link TokenStore}). */
	async lock(key: string, owner: string, ttlMs: number): Promise<boolean> {
		const lock = this.#lock(key);
		return (await this.#send(lock, ['SET', lock, owner, 'NX', 'PX', String(ttlMs)])) !== null;
	}

	/** Extends the fetch lock if `owner` holds it (part of {@link TokenStore}). */
	async extendLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
		return Number(await this.#script(compareAndExtend, this.#lock(key), [owner, String(ttlMs)])) === 1;
	}

	/** Releases the fetch lock if `owner` holds it (part of {@link TokenStore}). */
	async unlock(key: string, owner: string): Promise<void> {
		await this.#script(compareAndDelete, this.#lock(key), [owner]);
	}

	/**
	 * Shows the settings, never the key or the client.
	 *
	 * @internal
	 */
	[inspect.custom](): string {
		return `RedisTokenStore ${inspect({prefix: this.prefix, commandTimeoutMs: this.commandTimeoutMs, lockTtlMs: this.lockTtlMs})}`;
	}

	/** Serialises the settings, never the key or the client. */
	toJSON(): object {
		return {prefix: this.prefix, commandTimeoutMs: this.commandTimeoutMs, lockTtlMs: this.lockTtlMs};
	}

	#entry(key: string): string {
		return `${this.prefix}:{${key}}`;
	}

	#lock(key: string): string {
		return `${this.prefix}:{${key}}:lock`;
	}

	/** EVALSHA, and EVAL when the server (or a cluster node) does not have the script yet. */
	async #script(script: string, key: string, args: string[]): Promise<unknown> {
		try {
			return await this.#send(key, ['EVALSHA', sha1(script), '1', key, ...args]);
		} catch (error) {
			if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) {
				throw error;
			}

			return this.#send(key, ['EVAL', script, '1', key, ...args]);
		}
	}
}

const sha1Cache = new Map<string, string>();

function sha1(script: string): string {
	let digest = sha1Cache.get(script);
	if (digest === undefined) {
		digest = createHash('sha1').update(script).digest('hex');
		sha1Cache.set(script, digest);
	}

	return digest;
}

/**
 * How to send a command through the given client, recognised by shape (this package depends on
 * neither client library): ioredis has `call(…args)`; node-redis has `sendCommand(args)`, and its
 * cluster `sendCommand(firstKey, isReadonly, args)`.
 */
function adapt(redis: unknown): Send {
	const candidate = (typeof redis === 'object' && redis !== null ? redis : {}) as Record<string, unknown>;
	const {call, sendCommand} = candidate;
	if (typeof call === 'function' && typeof candidate['status'] === 'string') {
		return async (_key, args) => call.apply(redis, args) as Promise<unknown>;
	}

	if (typeof sendCommand === 'function') {
		if (typeof candidate['getSlotMaster'] === 'function') {
			// Never a replica: a lock and the token it guards must be read where they are written.
			return async (key, args) => sendCommand.call(redis, key, false, args) as Promise<unknown>;
		}

		if (typeof candidate['isOpen'] === 'boolean') {
			return async (_key, args) => sendCommand.call(redis, args) as Promise<unknown>;
		}
	}

	throw new VibrantConfigError(
		'RedisTokenStore needs a Redis client: an ioredis Redis or Cluster (ioredis ≥ 5), or a node-redis client or cluster (redis ≥ 4).',
	);
}
