import {type Channel, type TracingChannel, channel, tracingChannel} from 'node:diagnostics_channel';
import type {VibrantTokenError} from './errors.js';
import type {CachedToken} from './token.js';

/**
 * Why a token is needed: no usable token (`miss`), refresh ahead of expiry (`refresh`), after a 401
 * (`invalidated`), or after `clearCache()` (`cleared`).
 */
export type TokenRequestReason = 'miss' | 'refresh' | 'invalidated' | 'cleared';

/**
 * The context of one trace of the tracing channel `vibrant-oauth2-client:token`: one token request
 * to the endpoint, its retries included, from `start` to `asyncEnd` (or `error`). Holds no secret
 * and no token.
 */
export type TokenRequestTrace = {
	/** The token endpoint, without query or credentials. */
	readonly tokenUrl: string;
	/** The client id of the client that requests the token. */
	readonly clientId: string;
	/** The scope requested, space-separated, if any. */
	readonly scope: string | undefined;
	/** Why the token is requested. */
	readonly reason: TokenRequestReason;
	/** Set on success: what the token is, never the token. */
	result?: {
		/** The token's type, such as `Bearer`. */
		readonly tokenType: string;
		/** When the token expires, in epoch milliseconds. */
		readonly expiresAt: number;
	};
	/** Set on failure. */
	error?: VibrantTokenError;
};

/**
 * A message of the channel `vibrant-oauth2-client:unauthorized`: a 401 that the axios or fetch
 * integration handled.
 */
export type UnauthorizedMessage = {
	/** Which integration handled the 401: `attachVibrantAuth` (`axios`) or `withVibrantAuth` (`fetch`). */
	readonly integration: 'axios' | 'fetch';
	/** The request's method, upper case. */
	readonly method: string;
	/** The request's origin, such as `https://api.vibrant-wellness.com`. */
	readonly origin: string;
	/** The request's path, without the query. */
	readonly path: string;
	/** Whether the request is sent again with a fresh token. */
	readonly retried: boolean;
};

/**
 * A message of the channel `vibrant-oauth2-client:store`: an event of the shared token store.
 *
 * - `adopted`: a token another process stored was taken, with no token request.
 * - `lock-won`: this process holds the fetch lock and fetches for the fleet.
 * - `lock-waited`: another process held the lock; `outcome` says how the wait ended
 *   (`adopted`, `lock-won`, `holder-failed`: the holder's fetch failed and this process fetched
 *   itself, or `deadline`: the wait limit passed and this process fetched itself).
 * - `unreadable`: an entry did not open (another key, tampering, another format): a miss.
 * - `failed`: a store operation failed or timed out; the store is left alone for `backoffMs`.
 * - `recovered`: the store answered again after a failure.
 */
export type StoreEventMessage = {
	/** What happened (see above). */
	readonly event: 'adopted' | 'lock-won' | 'lock-waited' | 'unreadable' | 'failed' | 'recovered';
	/** The token endpoint of the client whose store event this is, without query. */
	readonly tokenUrl: string;
	/** The client id of the client whose store event this is. */
	readonly clientId: string;
	/** For `adopted`, `lock-won`, `lock-waited`: why the token was needed. */
	readonly reason?: TokenRequestReason;
	/** For `lock-waited`: how long this process waited, in milliseconds. */
	readonly waitedMs?: number;
	/** For `lock-waited`. */
	readonly outcome?: 'adopted' | 'lock-won' | 'holder-failed' | 'deadline';
	/** For `failed`: `get`, `set`, `delete`, `lock`, `extendLock` or `unlock`. */
	readonly operation?: string;
	/** For `failed`: the error's name and code, or the timeout (never a message from the store). */
	readonly error?: string;
	/** For `failed`: how long the store is now left alone, in milliseconds. */
	readonly backoffMs?: number;
};

/**
 * Who a client is, as the channels name it.
 *
 * @internal
 */
export type Identity = {readonly tokenUrl: string; readonly clientId: string; readonly scope: string | undefined};

// Created on first use, then kept: a program that never publishes pays nothing at import, and a
// message is built only when someone listens. A subscriber that came first made the channel
// already; `channel(name)` returns that one.
let tokenTrace: TracingChannel<unknown, TokenRequestTrace> | undefined;
let unauthorizedChannel: Channel | undefined;
let storeChannel: Channel | undefined;

/** TracingChannel's own `hasSubscribers` exists from Node 20.13 only; its channels' exist on every Node. */
function isTokenTraced(trace: TracingChannel<unknown, TokenRequestTrace>): boolean {
	return (
		trace.start.hasSubscribers ||
		trace.end.hasSubscribers ||
		trace.asyncStart.hasSubscribers ||
		trace.asyncEnd.hasSubscribers ||
		trace.error.hasSubscribers
	);
}

/**
 * Runs one token request inside a trace of `vibrant-oauth2-client:token` when someone listens.
 * The trace's `result` is the token's type and expiry, never the token.
 *
 * @internal
 */
export async function traceTokenRequest(
	identity: Identity,
	reason: TokenRequestReason,
	fetch: () => Promise<CachedToken>,
): Promise<CachedToken> {
	tokenTrace ??= tracingChannel('vibrant-oauth2-client:token');
	if (!isTokenTraced(tokenTrace)) {
		return fetch();
	}

	let token: CachedToken | undefined;
	const context: TokenRequestTrace = {tokenUrl: identity.tokenUrl, clientId: identity.clientId, scope: identity.scope, reason};
	await tokenTrace.tracePromise(async () => {
		token = await fetch();
		const {accessToken, expiresAt} = token;
		return {tokenType: accessToken.slice(0, accessToken.indexOf(' ')), expiresAt};
	}, context);
	// tracePromise settles after the function did, so the token is set.
	return token as CachedToken;
}

/**
 * Whether a 401 message would reach anyone (check before building one).
 *
 * @internal
 */
export function isUnauthorizedObserved(): boolean {
	unauthorizedChannel ??= channel('vibrant-oauth2-client:unauthorized');
	return unauthorizedChannel.hasSubscribers;
}

/** @internal */
export function publishUnauthorized(message: UnauthorizedMessage): void {
	unauthorizedChannel ??= channel('vibrant-oauth2-client:unauthorized');
	unauthorizedChannel.publish(message);
}

/**
 * Whether a store event would reach anyone (check before building one).
 *
 * @internal
 */
export function isStoreObserved(): boolean {
	storeChannel ??= channel('vibrant-oauth2-client:store');
	return storeChannel.hasSubscribers;
}

/** @internal */
export function publishStoreEvent(message: StoreEventMessage): void {
	storeChannel ??= channel('vibrant-oauth2-client:store');
	storeChannel.publish(message);
}
