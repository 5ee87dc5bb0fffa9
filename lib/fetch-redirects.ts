// How withVibrantAuth sends one request: hop by hop through its redirects, as the fetch standard
// follows them (HTTP-redirect fetch), giving the token only to hops on an allowed origin, whatever
// the wrapped fetch would do with headers on a redirect.

/**
 * The headers of a request as the caller gave them, in any of their forms.
 *
 * @internal
 */
export type CallerHeaders = RequestInit['headers'];

type HeadersInit_ = NonNullable<CallerHeaders>;
type Body_ = RequestInit['body'];

/**
 * One request as this package sends it, with what it takes to send it again: hop by hop after a
 * redirect, and once more after a 401. Built only when one of those happens, or when the request
 * needs preparing (a `Request`, a `FormData` body, a cold token).
 *
 * @internal
 */
export type Exchange = {
	/** The URL of the first hop. */
	readonly url: string;
	/** The caller's `Request` when its body is a stream: sent as it is, once. */
	readonly streamRequest: Request | undefined;
	/** Every option of the request except method, body, headers and redirect, which each hop sets. */
	readonly init: RequestInit;
	readonly method: string;
	readonly body: Body_;
	/** The caller's headers, without our token. */
	readonly headers: CallerHeaders;
	/** The body can be sent again (not a stream). */
	readonly replayable: boolean;
	/** The caller left redirects to fetch (`redirect: "follow"`): we follow them hop by hop instead. */
	readonly follow: boolean;
	readonly signal: AbortSignal | null | undefined;
};

/**
 * The final answer of an exchange, and whether its hop carried our token.
 *
 * @internal
 */
export type Delivery = {readonly response: Response; readonly authorized: boolean};

/**
 * What sending needs of the wrapper: the wrapped fetch, and the origins that may receive the token.
 *
 * @internal
 */
export type Hops = {
	readonly send: (input: string | Request, init: RequestInit) => Promise<Response>;
	readonly isAllowed: (url: string) => boolean;
};

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
// The fetch standard's limit.
const maxRedirects = 20;
// A discarded answer's body is read to its end, so its connection is reused, unless it is this long.
const maxDrainBytes = 64 * 1024;
// …or takes longer than this to arrive.
const maxDrainMs = 1000;
// The fetch standard's request-body-header names, dropped when a redirect turns a request into a GET.
const requestBodyHeaders = ['content-encoding', 'content-language', 'content-location', 'content-type'];

/**
 * Whether an answer is a redirect that this package follows (when the caller left redirects to fetch).
 *
 * @internal
 */
export function isRedirect(status: number): boolean {
	return redirectStatuses.has(status);
}

/**
 * Sends the first hop (unless its `response` is given) and, when the caller left redirects to
 * fetch, follows them as the fetch standard does, giving the token only to hops on an allowed
 * origin. `authorized` says whether the final hop carried the token.
 *
 * @internal
 */
export async function deliver(exchange: Exchange, token: string, response: Response | undefined, hops: Hops): Promise<Delivery> {
	let {url, method, body, headers} = exchange;
	let authorized = true;
	response ??= await hops.send(exchange.streamRequest ?? url, hop(exchange, method, body, withToken(headers, token)));
	for (let redirects = 0; exchange.follow && isRedirect(response.status); redirects++) {
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
		authorized &&= hops.isAllowed(url);
		response = await hops.send(url, hop(exchange, method, body, authorized ? withToken(headers, token) : headers));
	}

	return {response, authorized};
}

/**
 * A copy of the caller's headers with our token; the caller's object is never changed.
 *
 * @internal
 */
export function withToken(headers: CallerHeaders, token: string): HeadersInit_ {
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

/**
 * Reads a discarded answer's body to its end (or cancels it past `maxDrainBytes` or `maxDrainMs`), so its connection is free.
 *
 * @internal
 */
export async function release(response: Response): Promise<void> {
	const {body} = response;
	if (body === null || response.bodyUsed) {
		return;
	}

	const reader = body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
	// A server that stalls in the middle of a discarded body must not hold the request: past the
	// limit the body is cancelled (its connection closed) instead of read.
	let timer: NodeJS.Timeout | undefined;
	const late = new Promise<'late'>(resolve => {
		timer = setTimeout(resolve, maxDrainMs, 'late');
	});
	try {
		for (let read = 0; read <= maxDrainBytes;) {
			const reading = reader.read();
			// Left behind when it is late: its failure then changes nothing either.
			reading.catch(() => {});
			const chunk = await Promise.race([reading, late]);
			if (chunk === 'late') {
				break;
			}

			if (chunk.done) {
				return;
			}

			read += chunk.value.byteLength;
		}

		await reader.cancel();
	} catch {
		// A body that fails while it is discarded changes nothing.
	} finally {
		clearTimeout(timer);
	}
}

function withoutBodyHeaders(headers: CallerHeaders): Headers {
	const copy = new Headers(headers);
	for (const name of requestBodyHeaders) {
		copy.delete(name);
	}

	return copy;
}

function hop(exchange: Exchange, method: string, body: Body_, headers: CallerHeaders): RequestInit {
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
