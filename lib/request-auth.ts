// The rules that the axios and the fetch integrations share: which origins may receive the token,
// whose `Authorization` header a request carries, which bodies can be sent twice, and what a 401
// decides. One copy, so the two integrations cannot drift apart.

import {Client, cacheOf} from './client.js';
import {requireHttpsOrLoopback} from './config.js';
import {isUnauthorizedObserved, publishUnauthorized, type UnauthorizedMessage} from './diagnostics.js';
import {VibrantConfigError} from './errors.js';
import type {TokenCache} from './token-cache.js';

/**
 * The origin that may receive the token when the options name none (and axios has no `baseURL`).
 *
 * @internal
 */
export const defaultOrigin = 'https://api.vibrant-wellness.com';

const maxCachedUrls = 64;

/**
 * The token source and the origin check of one integration, from its options.
 *
 * @internal
 */
export type RequestAuth = {
	readonly cache: TokenCache;
	/** Whether a URL (absolute, as a string) may receive the token; `false` for anything that does not parse. */
	readonly isAllowed: (url: string) => boolean;
};

/**
 * Validates the `client` and `origins` options of an integration and builds its token source:
 * the given client, or a new `Client` from the environment (so a missing variable throws now).
 *
 * @param options - the options object as the caller passed it (JavaScript callers may pass anything).
 * @param caller - the function's name, for the error message.
 * @param fallback - where the default origin comes from when `origins` is not given (axios: the
 * instance's `baseURL`); `https://api.vibrant-wellness.com` when it is empty or absent.
 * @throws {@link VibrantConfigError} when an option, or the environment for the default client, is invalid.
 * @internal
 */
export function resolveRequestAuth(
	options: unknown,
	caller: string,
	fallback?: {readonly url: unknown; readonly setting: string},
): RequestAuth {
	if (typeof options !== 'object' || options === null) {
		throw new VibrantConfigError(`${caller} options must be an object.`);
	}

	const {client, origins} = options as {client?: unknown; origins?: unknown};
	if (client !== undefined && !(client instanceof Client)) {
		throw new VibrantConfigError('Option client must be a Client of vibrant-oauth2-client.');
	}

	const allowed = resolveOrigins(origins, fallback);
	const cache = cacheOf(client ?? new Client());
	return {cache, isAllowed: createOriginCheck(allowed)};
}

/**
 * The origin check: whether a URL's origin is one of `allowed` (serialised origins), with no
 * `user:password@` in it. Fails closed: a URL that does not parse is not allowed.
 *
 * @internal
 */
export function createOriginCheck(allowed: readonly string[]): (url: string) => boolean {
	const allowedSet = new Set(allowed);
	const verdicts = new Map<string, boolean>();
	return url => {
		// The common case without parsing: an allowed origin, then the end of the authority.
		for (const origin of allowed) {
			if (startsWithOrigin(url, origin)) {
				return true;
			}
		}

		let verdict = verdicts.get(url);
		if (verdict === undefined) {
			verdict = hasAllowedOrigin(url, allowedSet);
			// URLs repeat (a baseURL, a few absolute URLs); bound the memory for callers whose don't.
			if (verdicts.size >= maxCachedUrls) {
				verdicts.clear();
			}

			verdicts.set(url, verdict);
		}

		return verdict;
	};
}

/**
 * Whether `url` is `origin` followed by nothing or by `/`, `?`, `#` or `\`. The WHATWG URL parser
 * ends the authority of an http(s) URL at exactly those, so such a URL has that origin and no
 * userinfo. Anything else (`:443`, `@`, upper case, spaces) takes the parsing path.
 */
function startsWithOrigin(url: string, origin: string): boolean {
	if (!url.startsWith(origin)) {
		return false;
	}

	const next = url.charCodeAt(origin.length);
	return Number.isNaN(next) || next === 47 || next === 63 || next === 35 || next === 92;
}

function hasAllowedOrigin(url: string, allowedSet: ReadonlySet<string>): boolean {
	try {
		const parsed = new URL(url);
		return allowedSet.has(parsed.origin) && parsed.username === '' && parsed.password === '';
	} catch {
		return false;
	}
}

function resolveOrigins(origins: unknown, fallback: {readonly url: unknown; readonly setting: string} | undefined): string[] {
	if (origins === undefined) {
		if (typeof fallback?.url === 'string' && fallback.url !== '') {
			return [toOrigin(fallback.url, fallback.setting)];
		}

		return [defaultOrigin];
	}

	if (!Array.isArray(origins) || origins.length === 0) {
		throw new VibrantConfigError('Option origins must be a non-empty array of origins such as "https://api.vibrant-wellness.com".');
	}

	return origins.map((origin: unknown, index) => {
		if (typeof origin !== 'string') {
			throw new VibrantConfigError(`Option origins[${index}] must be a string.`);
		}

		return toOrigin(origin, `origins[${index}]`);
	});
}

function toOrigin(text: string, setting: string): string {
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		throw new VibrantConfigError(
			`${setting} is not an absolute URL, so the origin that may receive the token is unknown; pass the origins option.`,
		);
	}

	requireHttpsOrLoopback(url, setting, {carries: 'the token', kind: 'origin'});
	return url.origin;
}

/**
 * Whose `Authorization` is it: a header name is `Authorization` in any letter case. A request that
 * reaches us with one carries the caller's own credentials, which we neither replace nor retry.
 *
 * @internal
 */
export function isAuthorizationName(name: string): boolean {
	return name.length === 13 && name.toLowerCase() === 'authorization';
}

/**
 * Whose `Authorization` is it, for fetch: one in the headers the caller gave (a `Headers`, an array
 * of pairs or a record) is the caller's.
 *
 * @internal
 */
export function hasAuthorizationHeader(headers: RequestInit['headers']): boolean {
	if (headers === undefined) {
		return false;
	}

	if (headers instanceof Headers) {
		return headers.has('authorization');
	}

	if (Array.isArray(headers)) {
		for (const pair of headers) {
			if (isAuthorizationName(String(pair[0]))) {
				return true;
			}
		}

		return false;
	}

	return authorizationKey(headers) !== undefined;
}

/**
 * The name under which a header record (a plain object, or axios's `AxiosHeaders`) holds
 * `Authorization`, in any letter case, as axios's own lookup (`AxiosHeaders.has` / `set`) and
 * fetch's record conversion find it.
 *
 * @internal
 */
export function authorizationKey(headers: object): string | undefined {
	// for…in allocates no array; AxiosHeaders keeps headers as its only enumerable properties.
	for (const name in headers) {
		if (isAuthorizationName(name)) {
			return name;
		}
	}

	return undefined;
}

/**
 * Whether a request body can be sent a second time: strings, buffers, typed arrays,
 * `URLSearchParams`, `FormData` and `Blob`s can; a stream (Node's or the web's, or any async
 * iterable) can be read once.
 *
 * @internal
 */
export function isReplayable(data: unknown): boolean {
	if (typeof data !== 'object' || data === null) {
		return true;
	}

	const candidate = data as {pipe?: unknown; getReader?: unknown; [Symbol.asyncIterator]?: unknown};
	return (
		typeof candidate.pipe !== 'function' &&
		typeof candidate.getReader !== 'function' &&
		(typeof candidate[Symbol.asyncIterator] !== 'function' || data instanceof Blob)
	);
}

/**
 * The origin and the path (without the query, which may carry something private) of a request URL,
 * as the unauthorized channel reports them; empty strings for a URL that does not parse.
 *
 * @internal
 */
export function originAndPath(url: string): {origin: string; path: string} {
	try {
		const parsed = new URL(url);
		return {origin: parsed.origin, path: parsed.pathname};
	} catch {
		return {origin: '', path: ''};
	}
}

/**
 * A 401 answer to a request that carried our token, as the integration that got it describes it.
 *
 * @internal
 */
export type Unauthorized = {
	readonly integration: UnauthorizedMessage['integration'];
	/** The request's method, in any case. */
	readonly method: string;
	/** The URL that answered 401; asked for only when someone listens on the channel. */
	readonly url: () => string;
	/** The `Authorization` value the request carried: our token. */
	readonly sent: string;
	/** The request was already the retry after a 401. */
	readonly retried: boolean;
	/** The request can be sent again: its body is not a stream (and, for axios, time is left). */
	readonly resendable: boolean;
};

/**
 * The 401 decision of both integrations, and its report on the unauthorized channel. A first 401
 * drops the token it carried if the cache still holds it (compare-and-clear: many 401s cause one
 * token request); the request is then sent again with a fresh token, if it can be. The retry's own
 * 401 is the answer: its token was fresh, and dropping that one too would cost a token request per
 * rejected request.
 *
 * @returns whether to send the request again.
 * @internal
 */
export function retriesUnauthorized(cache: TokenCache, unauthorized: Unauthorized): boolean {
	const retry = !unauthorized.retried && unauthorized.resendable;
	if (!unauthorized.retried) {
		cache.invalidate(unauthorized.sent);
	}

	if (isUnauthorizedObserved()) {
		const {integration, method} = unauthorized;
		const {origin, path} = originAndPath(unauthorized.url());
		publishUnauthorized({integration, method: method.toUpperCase(), origin, path, retried: retry});
	}

	return retry;
}
