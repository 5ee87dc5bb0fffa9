import type {Client} from './client.js';
import {VibrantConfigError} from './errors.js';
import {type CallerHeaders, deliver, type Exchange, isRedirect, release, withToken} from './fetch-redirects.js';
import {hasAuthorizationHeader, isReplayable, resolveRequestAuth, retriesUnauthorized, type Unauthorized} from './request-auth.js';
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

/** What the requests of one wrapper share. */
type Wrapper = {
	readonly cache: TokenCache;
	readonly isAllowed: (url: string) => boolean;
	readonly send: FetchFunction;
};

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
	const wrapper: Wrapper = {cache, isAllowed, send: fetchFunction ?? defaultFetch};

	return function vibrantFetch(input, init) {
		if (init?.vibrantAuth === false) {
			return wrapper.send(input, init);
		}

		const request = typeof input !== 'string' && isRequest(input) ? input : undefined;
		const url = typeof input === 'string' ? input : request === undefined ? (input as URL).toString() : request.url;
		// init.headers replaces a Request's headers (fetch standard), so it is the one to look at.
		let headers: CallerHeaders = init?.headers ?? request?.headers;
		if (isOneShotIterable(headers)) {
			headers = new Headers(headers);
			init = {...init, headers};
		}

		if (!isAllowed(url) || hasAuthorizationHeader(headers)) {
			return wrapper.send(input, init);
		}

		const token = cache.cached();
		const body = init?.body;
		// `FormData` is a getter on globalThis: not looked up for a request without a body.
		if (token === undefined || request !== undefined || (body !== undefined && body instanceof FormData)) {
			return authorizeSlowly(wrapper, request, init, url, headers);
		}

		return sendWarm(wrapper, input as string | URL, url, init, headers, token);
	};
}

/**
 * The warm path: a token is cached and the request needs no preparing. One object for init, one
 * for the headers, no promise or await of our own; the exchange is built only for a 401 or a
 * redirect.
 */
function sendWarm(
	wrapper: Wrapper,
	input: string | URL,
	url: string,
	init: VibrantRequestInit | undefined,
	headers: CallerHeaders,
	token: string,
): Promise<Response> {
	const redirect = init?.redirect;
	const follow = redirect === undefined || redirect === 'follow';
	const first = wrapper.send(input, {...init, headers: withToken(headers, token), redirect: follow ? 'manual' : redirect});
	return first.then(response =>
		response.status === 401 || (follow && isRedirect(response.status))
			? settle(wrapper, exchangeOf(url, init, headers, init?.body), token, response)
			: response,
	);
}

async function authorizeSlowly(
	wrapper: Wrapper,
	request: Request | undefined,
	init: VibrantRequestInit | undefined,
	url: string,
	headers: CallerHeaders,
): Promise<Response> {
	const signal = init?.signal !== undefined ? init.signal : request?.signal;
	// The token first: if it cannot be had, the caller's Request is left unread.
	const token = await wrapper.cache.get(signal);
	const exchange = request === undefined ? await fromInit(url, init, headers) : await fromRequest(request, init, headers);
	return settle(wrapper, exchange, token, undefined);
}

/**
 * The first hop's answer is in (or, when `response` is undefined, still to be had): follow its
 * redirects and return the final answer, or, for a 401 to our token, what the 401 decision says
 * (request-auth.ts): the answer, or the request sent once more with a fresh token.
 */
async function settle(wrapper: Wrapper, exchange: Exchange, token: string, response: Response | undefined): Promise<Response> {
	for (let retried = false; ; retried = true) {
		const answer = await deliver(exchange, token, response, wrapper);
		if (
			answer.response.status !== 401 ||
			!answer.authorized ||
			!retriesUnauthorized(wrapper.cache, unauthorized(exchange, token, answer.response, retried))
		) {
			return answer.response;
		}

		// The discarded 401's connection is freed before the retry.
		await release(answer.response);
		token = await wrapper.cache.get(exchange.signal);
		response = undefined;
	}
}

function unauthorized(exchange: Exchange, sent: string, response: Response, retried: boolean): Unauthorized {
	return {
		integration: 'fetch',
		method: exchange.method,
		url: () => (response.url === '' ? exchange.url : response.url),
		sent,
		retried,
		resendable: exchange.replayable,
	};
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

/** The exchange of a request given as a URL and `init`, with its body as it will be sent. */
function exchangeOf(url: string, init: VibrantRequestInit | undefined, headers: CallerHeaders, body: RequestInit['body']): Exchange {
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

async function fromInit(url: string, init: VibrantRequestInit | undefined, headers: CallerHeaders): Promise<Exchange> {
	const body = init?.body;
	if (body instanceof FormData) {
		// Encoded once: each encoding of a FormData draws a new multipart boundary. The type is
		// fetch's Content-Type for it, as fetch writes it.
		const encoded = new Response(body);
		return exchangeOf(url, init, headers, new Blob([await encoded.arrayBuffer()], {type: encoded.headers.get('content-type') ?? ''}));
	}

	return exchangeOf(url, init, headers, body);
}

async function fromRequest(request: Request, init: VibrantRequestInit | undefined, headers: CallerHeaders): Promise<Exchange> {
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
