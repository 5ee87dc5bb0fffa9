import {createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes} from 'node:crypto';
import {VibrantConfigError} from './errors.js';
import {CachedToken} from './token.js';

/**
 * A store shared by the processes of a fleet, so that they share one token: the seam behind
 * `new Client({store})`. {@link RedisTokenStore} is one; write your own for another shared store
 * (Memcached, DynamoDB, a database).
 *
 * The client does the rest: it seals every value before it reaches the store (AES-256-GCM: the
 * store never sees a token in clear), opens what it reads, takes the lock before it fetches, waits
 * for another process's token, and treats any rejection, or an answer slower than
 * `commandTimeoutMs`, as a miss. A store's methods therefore only move strings:
 *
 * - `key` names one entry. The client makes it from a hash of everything that distinguishes a
 *   token; it holds no secret and no token. Besides the token's entry the client writes one more,
 *   under `key` + `.failed`: a short-lived marker that a lock holder's fetch failed (a random id,
 *   nothing else). A store may add a prefix, and keeps the lock of an entry under a name of its
 *   own, derived from `key`.
 * - Every write has a time to live: an entry must be gone after `ttlMs`, a lock after its `ttlMs`.
 *
 * The README shows a complete store of your own, and what each method must guarantee.
 */
export type TokenStore = {
	/**
	 * Reads the entry under `key`.
	 *
	 * @returns the value last written there, or `undefined` when there is none (or it expired).
	 */
	get(key: string): Promise<string | undefined>;

	/** Writes `value` under `key`, replacing any entry there, to live `ttlMs` milliseconds at most. */
	set(key: string, value: string, ttlMs: number): Promise<void>;

	/**
	 * Deletes the entry under `key` only if it still holds `value` (compare-and-delete, atomic): after
	 * a 401, a process drops the token it sent, never a newer one another process wrote.
	 */
	delete(key: string, value: string): Promise<void>;

	/**
	 * Takes the fetch lock of the entry `key` for `owner`, to live `ttlMs` milliseconds, unless any owner
	 * holds it (atomic, like Redis `SET … NX PX`).
	 *
	 * @returns `true` when `owner` now holds the lock, `false` when another owner does.
	 */
	lock(key: string, owner: string, ttlMs: number): Promise<boolean>;

	/**
	 * Gives the lock another `ttlMs` milliseconds if `owner` still holds it (atomic).
	 *
	 * @returns `true` when the lock was extended, `false` when `owner` no longer holds it.
	 */
	extendLock(key: string, owner: string, ttlMs: number): Promise<boolean>;

	/** Releases the lock if `owner` still holds it (compare-and-delete, atomic). */
	unlock(key: string, owner: string): Promise<void>;

	/**
	 * The longest the client waits for one operation of this store; a slower one counts as a failure.
	 *
	 * @default 500
	 */
	readonly commandTimeoutMs?: number | undefined;

	/**
	 * How long the fetch lock lives; its holder extends it while it fetches, so a holder that dies
	 * delays the others by this much at most.
	 *
	 * @default 5000
	 */
	readonly lockTtlMs?: number | undefined;

	/**
	 * 32 bytes that seal the entries. Without it the client derives the key from its client secret
	 * (HKDF-SHA-256), so every process with the same credentials can read the entries and no one
	 * else can.
	 */
	readonly encryptionKey?: Uint8Array | undefined;
};

/** @internal */
export const defaultCommandTimeoutMs = 500;
/** @internal */
export const defaultLockTtlMs = 5000;

const sealVersion = 'v1';
const nonceBytes = 12;
const tagBytes = 16;
const storeMethods = ['get', 'set', 'delete', 'lock', 'extendLock', 'unlock'] as const;

/**
 * Checks that a value given as `store` is a {@link TokenStore} with usable settings.
 *
 * @throws {@link VibrantConfigError} naming what is wrong.
 * @internal
 */
export function checkTokenStore(store: unknown): TokenStore {
	if (typeof store !== 'object' || store === null) {
		throw new VibrantConfigError('Option store must be a TokenStore, such as a RedisTokenStore.');
	}

	const candidate = store as Record<string, unknown>;
	const missing = storeMethods.filter(method => typeof candidate[method] !== 'function');
	if (missing.length > 0) {
		throw new VibrantConfigError(`Option store is not a TokenStore: it has no ${missing.join(', ')} method.`);
	}

	checkPositiveMilliseconds(candidate['commandTimeoutMs'], 'store.commandTimeoutMs');
	checkPositiveMilliseconds(candidate['lockTtlMs'], 'store.lockTtlMs');
	checkEncryptionKey(candidate['encryptionKey'], 'store.encryptionKey');
	return store as TokenStore;
}

/**
 * Checks a number of milliseconds that must be a positive integer a timer can wait for.
 *
 * @internal
 */
export function checkPositiveMilliseconds(value: unknown, setting: string): void {
	if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 2_147_483_647)) {
		throw new VibrantConfigError(`${setting} must be a whole number of milliseconds > 0.`);
	}
}

/**
 * Checks an encryption key: `undefined`, or exactly 32 bytes.
 *
 * @internal
 */
export function checkEncryptionKey(value: unknown, setting: string): void {
	if (value !== undefined && !(value instanceof Uint8Array && value.byteLength === 32)) {
		// Never quote the value: it is a key.
		throw new VibrantConfigError(`${setting} must be a Uint8Array of exactly 32 bytes.`);
	}
}

/**
 * Where one client's token lives in a store, and the key that seals it.
 *
 * @internal
 */
export type StoreSlot = {
	/** The entry's key: a hash of everything that distinguishes the token; no secret, no token. */
	readonly key: string;
	readonly sealingKey: Buffer;
};

/**
 * The slot of a client: its entry key hashes the token URL, client id, scope, auth method and the
 * identity of the sealing key, so clients that differ in any of them never share an entry.
 *
 * @internal
 */
export function storeSlot(
	identity: {tokenUrl: string; clientId: string; scope: string | undefined; authMethod: string},
	clientSecret: string,
	encryptionKey: Uint8Array | undefined,
): StoreSlot {
	const sealingKey =
		encryptionKey === undefined
			? Buffer.from(hkdfSync('sha256', clientSecret, 'vibrant-oauth2-client token store', `${sealVersion} aes-256-gcm`, 32))
			: Buffer.from(encryptionKey);
	// A one-way identity of the key: two keys never share an entry, and the name reveals nothing.
	const keyId = createHash('sha256').update('vibrant-oauth2-client key id\0').update(sealingKey).digest('hex');
	const key = createHash('sha256')
		.update(JSON.stringify([sealVersion, identity.tokenUrl, identity.clientId, identity.scope ?? null, identity.authMethod, keyId]))
		.digest('base64url');
	return {key, sealingKey};
}

/**
 * Seals a token for the store: AES-256-GCM under the slot's key with a fresh random nonce, the entry
 * key (the hash, without the store's prefix) bound as associated data: an entry copied under the
 * key of another configuration does not open.
 *
 * @internal
 */
export function sealToken(token: CachedToken, slot: StoreSlot): string {
	const nonce = randomBytes(nonceBytes);
	const cipher = createCipheriv('aes-256-gcm', slot.sealingKey, nonce, {authTagLength: tagBytes});
	cipher.setAAD(Buffer.from(slot.key));
	const plaintext = JSON.stringify({t: token.accessToken, e: token.expiresAt, o: token.obtainedAt});
	const sealed = Buffer.concat([nonce, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
	return `${sealVersion}.${sealed.toString('base64url')}`;
}

/**
 * Opens a value read from the store.
 *
 * @returns the token, or `undefined` for anything that does not open under the slot's key and
 * entry key (another key, tampering, another format) or holds no well-formed token.
 * @internal
 */
export function openToken(value: unknown, slot: StoreSlot): CachedToken | undefined {
	if (typeof value !== 'string' || !value.startsWith(`${sealVersion}.`)) {
		return undefined;
	}

	const sealed = Buffer.from(value.slice(sealVersion.length + 1), 'base64url');
	if (sealed.length <= nonceBytes + tagBytes) {
		return undefined;
	}

	let plaintext: string;
	try {
		const decipher = createDecipheriv('aes-256-gcm', slot.sealingKey, sealed.subarray(0, nonceBytes), {authTagLength: tagBytes});
		decipher.setAAD(Buffer.from(slot.key));
		decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
		plaintext = Buffer.concat([decipher.update(sealed.subarray(nonceBytes, sealed.length - tagBytes)), decipher.final()]).toString('utf8');
	} catch {
		return undefined;
	}

	let fields: unknown;
	try {
		fields = JSON.parse(plaintext);
	} catch {
		return undefined;
	}

	const {t: accessToken, e: expiresAt, o: obtainedAt} = (fields ?? {}) as Record<string, unknown>;
	if (
		typeof accessToken !== 'string' ||
		!/^[\u0021-\u007E]+ [\u0020-\u007E]+$/.test(accessToken) ||
		typeof expiresAt !== 'number' ||
		typeof obtainedAt !== 'number' ||
		!Number.isFinite(expiresAt) ||
		!Number.isFinite(obtainedAt) ||
		expiresAt <= obtainedAt
	) {
		return undefined;
	}

	return new CachedToken({accessToken, expiresAt, obtainedAt});
}
