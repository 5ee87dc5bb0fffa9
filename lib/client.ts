import {inspect} from 'node:util';
import {type ClientOptions, type ResolvedConfig, resolveConfig} from './config.js';
import {type TokenRequestReason, traceTokenRequest} from './diagnostics.js';
import {VibrantConfigError} from './errors.js';
import {log} from './log.js';
import {SharedToken} from './shared-token.js';
import {usableUntil} from './token.js';
import {createTokenFetcher} from './token-endpoint.js';
import {longestFetchMs} from './token-retry.js';
import {TokenCache, type TokenSource, fetchingSource} from './token-cache.js';
import {storeSlot} from './token-store.js';

const caches = new WeakMap<Client, TokenCache>();

/**
 * Where a test hands a client its clock (epoch milliseconds), as golang/oauth2's `timeNow`: a
 * symbol key of the options, so that no option name is added and the check of option names never
 * sees it. The clock dates every token received and decides when a cached one is due.
 *
 * @internal
 */
export const clockKey = Symbol.for('vibrant-oauth2-client.clock');

/** Options of {@link Client.getToken}. */
export type GetTokenOptions = {
	/**
	 * Ends the wait for a token (not the shared fetch) when it aborts: the call rejects with
	 * `signal.reason`.
	 */
	readonly signal?: AbortSignal | null | undefined;
};

/**
 * The token cache behind a client, for the axios integration's compare-and-clear. Not exported
 * from the package: it would widen `Client`'s public API.
 *
 * @internal
 */
export function cacheOf(client: Client): TokenCache {
	const cache = caches.get(client);
	if (cache === undefined) {
		throw new TypeError('Expected a Client of vibrant-oauth2-client.');
	}

	return cache;
}

/**
 * An OAuth2 client-credentials token source for the Vibrant Wellness API: it fetches a token,
 * caches it until shortly before it expires, shares one fetch among concurrent callers and
 * refreshes ahead of expiry.
 *
 * @example
 * ```ts
 * import { Client } from "vibrant-oauth2-client";
 *
 * const client = new Client(); // VIBRANT_CLIENT_ID and VIBRANT_CLIENT_SECRET from the environment
 * const authorization = await client.getToken(); // "Bearer eyJ…"
 * ```
 * @see RFC 6749 §4.4 (Client Credentials Grant)
 */
export class Client {
	readonly #description: {clientId: string; tokenUrl: string; authMethod: string; scope: string | undefined};

	/**
	 * Reads and validates the configuration; does no I/O.
	 *
	 * @param options - settings; any left `undefined` come from the environment, then the defaults.
	 * @throws {@link VibrantConfigError} when a setting is missing or invalid.
	 */
	constructor(options?: ClientOptions) {
		const config = resolveConfig(options);
		const now = (options as {[clockKey]?: () => number} | undefined)?.[clockKey] ?? Date.now;
		this.#description = {
			clientId: config.clientId,
			tokenUrl: config.tokenUrl.href,
			authMethod: config.authMethod,
			scope: config.scope,
		};
		caches.set(
			this,
			new TokenCache(tokenSource(config, this.#description, now), {
				now,
				expiryBufferSeconds: config.expiryBufferSeconds,
				refreshAheadRatio: config.refreshAheadRatio,
				onBackgroundError(error) {
					log('background token refresh failed; keeping the current token: %s', error instanceof Error ? error.message : 'unknown error');
				},
			}),
		);
	}

	/**
	 * Returns the `Authorization` header value, such as `Bearer eyJ…`.
	 *
	 * A cached token is returned without I/O while it is usable; otherwise one fetch is shared by
	 * every concurrent caller. A failed fetch is not cached: the next call tries again.
	 *
	 * A `signal` ends this caller's wait, not the fetch: when it aborts, the promise rejects at once
	 * with `signal.reason`, and the fetch goes on for any other caller and fills the cache. An
	 * already-aborted signal rejects at once, even when a token is cached, and starts no request.
	 *
	 * @param options - `signal`: an `AbortSignal` that ends the wait (`AbortSignal.timeout(ms)`
	 * bounds it).
	 * @returns `"<token_type> <access_token>"`, with any case of `bearer` written `Bearer`.
	 * @throws {@link VibrantTokenError} when the token endpoint cannot be reached, refuses the
	 * credentials, answers with something that is not a token, or does not give one within
	 * `totalTimeoutMs`; `signal.reason` when the signal aborts first.
	 *
	 * @example
	 * ```ts
	 * const authorization = await client.getToken({ signal: AbortSignal.timeout(2000) });
	 * ```
	 */
	getToken(options?: GetTokenOptions): Promise<string> {
		// null as DOM APIs take it: no signal.
		const signal = options?.signal ?? undefined;
		if (signal !== undefined && !isAbortSignal(signal)) {
			return Promise.reject(new VibrantConfigError('getToken: options.signal must be an AbortSignal.'));
		}

		return cacheOf(this).get(signal);
	}

	/**
	 * Drops the cached token: the next `getToken()` fetches a fresh one. A fetch already in flight
	 * still answers the callers waiting for it, but does not refill the cache.
	 */
	clearCache(): void {
		cacheOf(this).clear();
	}

	/**
	 * Shows the client's settings, never its secret.
	 *
	 * @internal
	 */
	[inspect.custom](): string {
		return `Client ${inspect(this.#description)}`;
	}

	/** Serialises the client's settings, never its secret. */
	toJSON(): object {
		return {...this.#description};
	}
}

/**
 * Where a client's cache gets its tokens: the token endpoint (each fetch traced on the channel),
 * behind the fleet's store when there is one.
 */
function tokenSource(
	config: ResolvedConfig,
	description: {tokenUrl: string; clientId: string; authMethod: string; scope: string | undefined},
	now: () => number,
): TokenSource {
	const fetchToken = createTokenFetcher(config, now);
	// The channels name the endpoint without its query (it may carry something private).
	const identity = {tokenUrl: `${config.tokenUrl.origin}${config.tokenUrl.pathname}`, clientId: config.clientId, scope: config.scope};
	const fetchTraced = async (reason: TokenRequestReason, waitedMs?: number) =>
		traceTokenRequest(identity, reason, async () => (await fetchToken(waitedMs)).token);
	const {store} = config;
	if (store === undefined) {
		return fetchingSource(fetchTraced);
	}

	return new SharedToken({
		store,
		slot: storeSlot(description, config.clientSecret, store.encryptionKey),
		fetchToken: fetchTraced,
		usableUntil: token => usableUntil(token, config.expiryBufferSeconds),
		fetchBudgetMs: longestFetchMs(config),
		totalTimeoutMs: config.totalTimeoutMs,
		identity,
		now,
	});
}

// An AbortSignal of any realm (Node's, a polyfill's): what `get` uses of it.
function isAbortSignal(value: unknown): value is AbortSignal {
	return (
		typeof value === 'object' &&
		value !== null &&
		typeof (value as AbortSignal).aborted === 'boolean' &&
		typeof (value as AbortSignal).addEventListener === 'function'
	);
}
