import type {AxiosError} from 'axios';

// Which failed attempts of a token request are worth another, and how long to wait before it.
// Pure: no I/O, no clock but the one passed in.

/**
 * A Retry-After longer than this is not waited for.
 *
 * @internal
 */
export const maxRetryAfterMs = 30_000;
const baseBackoffMs = 200;
const maxBackoffMs = 5000;

const retryableNetworkCodes = new Set([
	'ECONNABORTED', // axios's timeout code
	'ETIMEDOUT',
	'ECONNRESET',
	'ECONNREFUSED',
	'EPIPE',
	'EAI_AGAIN',
	'ENETUNREACH',
	'ENETDOWN',
	'EHOSTUNREACH',
	'EHOSTDOWN',
	'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/**
 * The longest one token request can take: `totalTimeoutMs`, or less when every attempt timing out,
 * with the longest wait before each retry (a server's Retry-After of up to 30 s), ends sooner.
 *
 * @internal
 */
export function longestFetchMs(config: {readonly timeoutMs: number; readonly retries: number; readonly totalTimeoutMs: number}): number {
	const longestWaitMs = Math.max(maxBackoffMs, maxRetryAfterMs);
	return Math.min(config.timeoutMs * (config.retries + 1) + longestWaitMs * config.retries, config.totalTimeoutMs);
}

/**
 * Whether a failed token request attempt is worth another: network errors, timeouts, 5xx and 429
 * (unless its Retry-After is longer than we wait). Never 4xx otherwise, never a cancelled request,
 * never a body that was too large.
 *
 * @internal
 */
export function isRetryable(error: AxiosError): boolean {
	const {response} = error;
	if (response === undefined) {
		return error.code !== undefined && retryableNetworkCodes.has(error.code);
	}

	if (response.status !== 429 && (response.status < 500 || response.status > 599)) {
		return false;
	}

	const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
	return retryAfterMs === undefined || retryAfterMs <= maxRetryAfterMs;
}

/**
 * The wait before retry number `retryCount` (1-based): the server's Retry-After when it sent one,
 * else exponential backoff with jitter (up to 200, 400, 800 … ms, capped at 5 s).
 *
 * @internal
 */
export function retryDelay(retryCount: number, error: AxiosError): number {
	const retryAfterMs = parseRetryAfter(error.response?.headers['retry-after']);
	if (retryAfterMs !== undefined) {
		return retryAfterMs;
	}

	const ceiling = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (retryCount - 1));
	return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/**
 * A Retry-After header (delay-seconds or HTTP-date, RFC 9110 §10.2.3) in milliseconds from now.
 *
 * @internal
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
	if (typeof value !== 'string' || value.trim() === '') {
		return undefined;
	}

	if (/^\s*\d+\s*$/.test(value)) {
		return Number(value) * 1000;
	}

	// An HTTP-date names its day and month; Date.parse would also take "-3" as a year.
	const date = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
