import type {Client} from './client.js';
import {VibrantConfigError} from './errors.js';
import {isUnauthorizedObserved, publishUnauthorized} from './diagnostics.js';
import {authorizationKey, isAuthorizationName, isReplayable, originAndPath, resolveRequestAuth} from './request-auth.js';
import type {TokenCache} from './token-cache.js';

/**
 * A function with the signature of the global `fetch`: the global `fetch` itself, undici's, or any
 * function that behaves like them.
 */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** `fetch`'s `init`, plus the one option of {@link withVibrantAuth}. */
export interface VibrantRequestInit extends RequestInit {
	/**
	 * `false` keeps {@link withVibrantAuth} away from this request: it is passed to the wrapped
	 * `fetch` as it is, with no token, and a 401 is not retried.
	 *
	 * @default true
	 */
	vibrantAuth?: boolean;
}

/** The function that {@link withVibrantAuth} returns: `fetch`'s signature, with {@link VibrantRequestInit}. */
export type VibrantFetch = (input: string | URL | Request, init?: VibrantRequestInit) => Promise<Response>;

/** Options of {@link withVibrantAuth}. */
export type WithVibrantAuthOptions = {
	/**
	 * The token source.
	 *
	 * @default a `new Client()` built from the environment when `withVibrantAuth` is called
	 */
	readonly client?: Client | undefined;

	/**
	 * The origins (`https://host[:port]`) that may receive the token. A request to any other origin
	 * is passed to the wrapped `fetch` untouched, and so is every redirect hop to one. Each must be
	 * `https:`, or `http:` to a loopback host.
	 *
	 * @default ["https://api.vibrant-wellness.com"]
	 */
	readonly origins?: readonly string[] | undefined;
};

type HeadersInit_ = NonNullable<RequestInit['headers']>;
type Headers_ = HeadersInit_ | undefined;
type Body_ = RequestInit['body'];

/**
 * One request as this package sends it, with what it takes to send it again: hop by hop after a
 * redirect, and once more after a 401. Built only when one of those happens, or when the request
 * needs preparing (a `Request`, a `FormData` body, a cold token).
 */
type Exchange = {
	/** The URL of the first hop. */
	readonly url: string;
	/** The caller's `Request` when its body is a stream: sent as it is, once. */
	readonly streamRequest: Request | undefined;
	/** Every option of the request except method, body, headers and redirect, which each hop sets. */
	readonly init: RequestInit;
	readonly method: string;
	readonly body: Body_;
	/** The caller's headers, without our token. */
	readonly headers: Headers_;
	/** The body can be sent again (not a stream). */
	readonly replayable: boolean;
	/** The caller left redirects to fetch (`redirect: "follow"`): we follow them hop by hop instead. */
	readonly follow: boolean;
	readonly signal: AbortSignal | null | undefined;
};

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
// The fetch standard's limit.
const maxRedirects = 20;
// A discarded answer's body is read to its end, so its connection is reused, unless it is this long.
const maxDrainBytes = 64 * 1024;
// The fetch standard's request-body-header names, dropped when a redirect turns a request into a GET.
const requestBodyHeaders = ['content-encoding', 'content-language', 'content-location', 'content-type'];

/**
 * Wraps `fetch` so that every request to an allowed origin carries `Authorization: <token>`, and a
 * 401 answer invalidates the token and is retried once with a fresh one.
 *
 * The result has `fetch`'s signature, so it serves as the `fetch` of libraries that take one (ky,
 * openapi-fetch, generated SDKs). A request is left alone — passed to `fetchFunction` as it is —
 * when it goes to another origin, when it already has an `Authorization` header (in
 * `init.headers`, in any of its forms, or on the `Request`), or when `init.vibrantAuth` is `false`.
 *
 * - No token: the promise rejects with the {@link VibrantTokenError} and nothing is sent.
 * - 401 to a request that carried our token: the token is dropped if the cache still holds it
 *   (compare-and-clear: many 401s cause one token request), the 401's body is released, and the
 *   request is sent once more with a fresh token. The retry's answer is the result, 401 or not
 *   (fetch resolves with error statuses; it does not throw). A body that is a stream cannot be sent
 *   twice: its 401 is the result.
 * - Bodies sent again byte for byte: none, a string, `URLSearchParams`, `Blob`, `ArrayBuffer`, a
 *   typed array or `DataView`, `FormData` (encoded once, so the retry has the same multipart
 *   boundary), and a `Request` carrying any of them.
 * - An `AbortSignal` (in `init` or on the `Request`) also cancels the wait for a token, at once,
 *   with the signal's reason.
 * - Redirects: with `redirect: "follow"` (the default), this function follows them itself, hop by
 *   hop, as fetch does, and gives the token only to hops on an allowed origin (and none after a
 *   hop to another origin), whatever the wrapped `fetch` does with headers on redirects. The final response's `redirected` is then
 *   `false` and its `url` is the last hop's. With `"manual"` or `"error"` the wrapped `fetch`
 *   handles them and the token goes to the first URL only.
 *
 * @param fetchFunction - the `fetch` to wrap; the global `fetch` (looked up at each request) when
 * `undefined`.
 * @param options - the token source and the origins that may receive the token.
 * @returns a function with `fetch`'s signature.
 * @throws {@link VibrantConfigError} when `fetchFunction` is not a function, or the options (or the
 * environment for the default client) are invalid.
 *
 * @example
 * ```ts
 * import { Client, withVibrantAuth } from "vibrant-oauth2-client";
 *
 * const authFetch = withVibrantAuth(fetch, { client: new Client() });
 * const response = await authFetch("https://api.vibrant-wellness.com/v1/some-endpoint");
 * ```
 * @see RFC 6750 §2.1 (the Authorization request header) and §3.1 (`invalid_token`)
 */
export function withVibrantAuth(fetchFunction?: FetchFunction, options: WithVibrantAuthOptions = {}): VibrantFetch {
	if (fetchFunction !== undefined && typeof fetchFunction !== 'function') {
		throw new VibrantConfigError('withVibrantAuth: fetchFunction must be a function such as fetch (or undefined for the global fetch).');
	}

	const {cache, isAllowed} = resolveRequestAuth(options, 'withVibrantAuth');
	const send: FetchFunction = fetchFunction ?? defaultFetch;

	return function vibrantFetch(input, init) {
		if (init?.vibrantAuth === false) {
			return send(input, init);
		}

		const request = typeof input !== 'string' && isRequest(input) ? input : undefined;
		const url = typeof input === 'string' ? input : request === undefined ? (input as URL).toString() : request.url;
		// init.headers replaces a Request's headers (fetch standard), so it is the one to look at.
		let headers: Headers_ = init?.headers ?? request?.headers;
		if (isOneShotIterable(headers)) {
			headers = new Headers(headers);
			init = {...init, headers};
		}

		if (!isAllowed(url) || hasAuthorization(headers)) {
			return send(input, init);
		}

		const token = cache.cached();
		const body = init?.body;
		if (token === undefined || request !== undefined || (body !== undefined && body instanceof FormData)) {
			return authorizeSlowly(request, init, url, headers);
		}

		// The warm path: one object for init, one for the headers, no await of our own.
		const redirect = init?.redirect;
		const follow = redirect === undefined || redirect === 'follow';
		const first = send(input, {
			...init,
			headers: withToken(headers, token),
			redirect: redirect === undefined || redirect === 'follow' ? 'manual' : redirect,
		});
		return first.then(response =>
			response.status === 401 || (follow && redirectStatuses.has(response.status))
				? settle(
						{
							url,
							streamRequest: undefined,
							init: init ?? {},
							method: init?.method ?? 'GET',
							body,
							headers,
							replayable: isReplayable(body),
							follow,
							signal: init?.signal,
						},
						token,
						response,
					)
				: response,
		);
	};

	async function authorizeSlowly(
		request: Request | undefined,
		init: VibrantRequestInit | undefined,
		url: string,
		headers: Headers_,
	): Promise<Response> {
		const signal = init?.signal !== undefined ? init.signal : request?.signal;
		// The token first: if it cannot be had, the caller's Request is left unread.
		const token = cache.cached() ?? (await tokenFor(cache, signal));
		const exchange = request === undefined ? await fromInit(url, init, headers) : await fromRequest(request, init, headers);
		return settle(exchange, token, undefined);
	}

	// The first hop's answer is in (or, when `response` is undefined, still to be had): follow its
	// redirects, retry its 401, or return it.
	async function settle(exchange: Exchange, token: string, response: Response | undefined): Promise<Response> {
		const answer = await deliver(exchange, token, response);
		if (answer.response.status === 401 && answer.authorized) {
			return retryOnUnauthorized(exchange, token, answer.response);
		}

		return answer.response;
	}

	// Every 401 to a request that carried our token comes through here.
	async function retryOnUnauthorized(exchange: Exchange, sent: string, response: Response): Promise<Response> {
		cache.invalidate(sent);
		reportUnauthorized(exchange, response, exchange.replayable);
		if (!exchange.replayable) {
			return response;
		}

		// The retry's own 401 is the result: its token is fresh, and dropping that one too would cost
		// a token request per rejected request.
		await release(response);
		const fresh = await tokenFor(cache, exchange.signal);
		const answer = await deliver(exchange, fresh, undefined);
		if (answer.response.status === 401 && answer.authorized) {
			reportUnauthorized(exchange, answer.response, false);
		}

		return answer.response;
	}

	/**
	 * Sends the first hop (unless its `response` is given) and, when the caller left redirects to
	 * fetch, follows them as the fetch standard does (HTTP-redirect fetch), giving the token only to
	 * hops on an allowed origin. `authorized` says whether the final hop carried the token.
	 */
	async function deliver(
		exchange: Exchange,
		token: string,
		response: Response | undefined,
	): Promise<{readonly response: Response; readonly authorized: boolean}> {
		let {url, method, body, headers} = exchange;
		let authorized = true;
		response ??= await send(exchange.streamRequest ?? url, hop(exchange, method, body, withToken(headers, token)));
		for (let redirects = 0; exchange.follow && redirectStatuses.has(response.status); redirects++) {
			const location = response.headers.get('location');
			if (location === null) {
				break;
			}

			const target = redirectTarget(location, url, redirects);
			await release(response);
			const {status} = response;
			const upperMethod = method.toUpperCase();
			if (
				((status === 301 || status === 302) && upperMethod === 'POST') ||
				(status === 303 && upperMethod !== 'GET' && upperMethod !== 'HEAD')
			) {
				method = 'GET';
				body = null;
				headers = withoutBodyHeaders(headers);
			} else if (!exchange.replayable) {
				throw new TypeError('fetch failed', {
					cause: new Error(`cannot follow a ${status} redirect: the request body is a stream, sent once`),
				});
			}

			url = target;
			// As fetch drops Authorization for good at a cross-origin hop: a chain that has left the
			// allowed origins gets no token again, even back on one of them.
			authorized &&= isAllowed(url);
			response = await send(url, hop(exchange, method, body, authorized ? withToken(headers, token) : headers));
		}

		return {response, authorized};
	}
}

function reportUnauthorized(exchange: Exchange, response: Response, retried: boolean): void {
	if (isUnauthorizedObserved()) {
		const {origin, path} = originAndPath(response.url === '' ? exchange.url : response.url);
		publishUnauthorized({integration: 'fetch', method: exchange.method.toUpperCase(), origin, path, retried});
	}
}

// The global fetch at the time of the request, so that one installed later (a test's, a polyfill) is used.
const defaultFetch: FetchFunction = async (input, init) => globalThis.fetch(input, init);

// Only a Request of this fetch: anything else is a URL to fetch (which converts it with String()),
// so it is judged by the URL that fetch will use, never by a `url` property.
function isRequest(input: unknown): input is Request {
	return input instanceof Request;
}

// Headers given as an iterable other than an array or Headers could be a generator, read once.
function isOneShotIterable(headers: unknown): headers is Iterable<[string, string]> {
	return (
		typeof headers === 'object' &&
		headers !== null &&
		!(headers instanceof Headers) &&
		!Array.isArray(headers) &&
		typeof (headers as {[Symbol.iterator]?: unknown})[Symbol.iterator] === 'function'
	);
}

/** Whose `Authorization` is it: one in the headers the caller gave is the caller's. */
function hasAuthorization(headers: Headers_): boolean {
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

/** A copy of the caller's headers with our token; the caller's object is never changed. */
function withToken(headers: Headers_, token: string): HeadersInit_ {
	if (headers === undefined) {
		return {Authorization: token};
	}

	if (headers instanceof Headers) {
		const copy = new Headers(headers);
		copy.set('Authorization', token);
		return copy;
	}

	if (Array.isArray(headers)) {
		return [...headers, ['Authorization', token]];
	}

	return {...headers, Authorization: token};
}

function withoutBodyHeaders(headers: Headers_): Headers {
	const copy = new Headers(headers);
	for (const name of requestBodyHeaders) {
		copy.delete(name);
	}

	return copy;
}

function hop(exchange: Exchange, method: string, body: Body_, headers: Headers_): RequestInit {
	return {
		...exchange.init,
		method,
		body: body ?? null,
		headers: headers ?? {},
		redirect: exchange.follow ? 'manual' : (exchange.init.redirect ?? 'follow'),
	};
}

function redirectTarget(location: string, base: string, redirects: number): string {
	let target: URL;
	try {
		target = new URL(location, base);
	} catch (error) {
		throw new TypeError('fetch failed', {cause: error});
	}

	if (target.protocol !== 'http:' && target.protocol !== 'https:') {
		throw new TypeError('fetch failed', {cause: new Error('URL scheme must be a HTTP(S) scheme')});
	}

	if (redirects >= maxRedirects) {
		throw new TypeError('fetch failed', {cause: new Error('redirect count exceeded')});
	}

	return target.href;
}

async function fromInit(url: string, init: VibrantRequestInit | undefined, headers: Headers_): Promise<Exchange> {
	let body = init?.body;
	if (body instanceof FormData) {
		// Encoded once: each encoding of a FormData draws a new multipart boundary. The type is
		// fetch's Content-Type for it, as fetch writes it.
		const encoded = new Response(body);
		body = new Blob([await encoded.arrayBuffer()], {type: encoded.headers.get('content-type') ?? ''});
	}

	return {
		url,
		streamRequest: undefined,
		init: init ?? {},
		method: init?.method ?? 'GET',
		body,
		headers,
		replayable: isReplayable(body),
		follow: init?.redirect === undefined || init.redirect === 'follow',
		signal: init?.signal,
	};
}

async function fromRequest(request: Request, init: VibrantRequestInit | undefined, headers: Headers_): Promise<Exchange> {
	// A Request's options, as init; the caller's init wins, as in `fetch(request, init)`.
	const options: RequestInit = {
		credentials: request.credentials,
		integrity: request.integrity,
		keepalive: request.keepalive,
		mode: request.mode,
		redirect: request.redirect,
		referrer: request.referrer,
		referrerPolicy: request.referrerPolicy,
		signal: request.signal,
		...init,
	};
	const exchange = await fromInit(request.url, options, headers);
	const withMethod = {...exchange, method: init?.method ?? request.method};
	if (init?.body !== undefined && init.body !== null) {
		return withMethod;
	}

	if (request.body === null) {
		return {...withMethod, body: null, replayable: true};
	}

	const copy = inMemoryCopy(request);
	if (copy === undefined) {
		return {...withMethod, body: undefined, streamRequest: request, replayable: false};
	}

	return {...withMethod, body: await copy.arrayBuffer(), replayable: true};
}

/**
 * A copy of a Request whose body is held in memory (a string, bytes, a Blob, form data), or
 * `undefined` when the body came from a stream. The fetch standard makes exactly that visible: a
 * Request built from one whose body's source is a stream cannot be in `no-cors` mode (Request
 * constructor, step 38), and the constructor throws before it touches the body. When it succeeds,
 * the copy has taken the body over, as `fetch(request)` would have.
 */
function inMemoryCopy(request: Request): Request | undefined {
	try {
		return new Request(request, {method: 'POST', mode: 'no-cors'});
	} catch {
		return undefined;
	}
}

/** The cached token, or the shared fetch of one; a signal stops the wait (not the fetch) at once. */
async function tokenFor(cache: TokenCache, signal: AbortSignal | null | undefined): Promise<string> {
	if (signal === undefined || signal === null) {
		return cache.get();
	}

	signal.throwIfAborted();
	return new Promise((resolve, reject) => {
		const onAbort = () => {
			reject(signal.reason as Error);
		};

		signal.addEventListener('abort', onAbort, {once: true});
		void cache
			.get()
			.then(resolve, reject)
			.finally(() => {
				signal.removeEventListener('abort', onAbort);
			});
	});
}

/** Reads a discarded answer's body to its end (or cancels it past `maxDrainBytes`), so its connection is free. */
async function release(response: Response): Promise<void> {
	const {body} = response;
	if (body === null || response.bodyUsed) {
		return;
	}

	const reader = body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
	try {
		for (let read = 0; read <= maxDrainBytes;) {
			const chunk = await reader.read();
			if (chunk.done) {
				return;
			}

			read += chunk.value.byteLength;
		}

		await reader.cancel();
	} catch {
		// A body that fails while it is discarded changes nothing.
	}
}
