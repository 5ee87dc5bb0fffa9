import type {AxiosError, AxiosResponse} from 'axios';
import axiosRetry from 'axios-retry';
import {loadAxios} from './axios-module.js';
import type {ResolvedConfig} from './config.js';
import {VibrantTokenError, excerpt} from './errors.js';
import {log} from './log.js';
import {type CachedToken, InvalidTokenResponse, type TokenResponse, toCachedToken} from './token.js';
import {toTlsOrProxyError} from './token-errors.js';
import {tunnelAgentFor} from './proxy-tunnel.js';

/** Reads at most this much of a token response (golang/oauth2 uses the same cap). */
const maxResponseBytes = 1024 * 1024;
/** A Retry-After longer than this is not waited for. */
const maxRetryAfterMs = 30_000;
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
 * Fetches one token from the token endpoint: builds the request, retries what is worth retrying,
 * and checks the answer. It never caches. `response` is the checked wire body (for the CLI).
 *
 * @internal
 */
export type TokenFetcher = () => Promise<{token: CachedToken; response: TokenResponse}>;

/**
 * Builds the fetcher for one client, with its own private axios instance.
 *
 * @internal
 */
export function createTokenFetcher(config: ResolvedConfig): TokenFetcher {
	const axios = loadAxios();
	const redactSecret = createRedactor(config);
	// A body that is not a usable answer may still hold a token (truncated JSON, a form-encoded
	// answer): in an error message, a token is as secret as the secret.
	const redact = (text: string) => redactSecret(text).replaceAll(tokenFieldPattern, '$1[redacted]');
	const endpoint = `${config.tokenUrl.origin}${config.tokenUrl.pathname}`;
	const form = new URLSearchParams({grant_type: 'client_credentials'});
	const headers: Record<string, string> = {
		'Content-Type': 'application/x-www-form-urlencoded',
		Accept: 'application/json',
	};
	if (config.authMethod === 'client_secret_basic') {
		headers['Authorization'] = basicAuthorization(config.clientId, config.clientSecret);
	} else {
		form.set('client_id', config.clientId);
		form.set('client_secret', config.clientSecret);
	}

	if (config.scope !== undefined) {
		form.set('scope', config.scope);
	}

	const body = form.toString();

	// A private instance: the caller's interceptors and axios-retry never see this request.
	const identity = (data: unknown) => data;
	const instance = axios.create({
		timeout: config.timeoutMs,
		// A redirect could carry the secret to another host.
		maxRedirects: 0,
		maxContentLength: maxResponseBytes,
		responseType: 'text',
		// The body is sent and read as is: a transform set on axios.defaults never sees the secret.
		transformRequest: [identity],
		transformResponse: [identity],
		validateStatus: status => status >= 200 && status < 300,
		transitional: {clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false},
	});
	// axios.create() inherits what the application set on axios.defaults (common headers such as
	// Authorization, auth, params, a baseURL with allowAbsoluteUrls: false, an adapter, a proxy,
	// agents, a socket path). None of it may see the secret, reach the token endpoint, or send the
	// request elsewhere: after the merge, this request is exactly ours, on Node's own http stack.
	const plainHttp = config.tokenUrl.protocol === 'http:';
	instance.interceptors.request.use(
		request => {
			request.headers = new axios.AxiosHeaders(headers);
			request.adapter = 'http';
			delete request.baseURL;
			request.allowAbsoluteUrls = true;
			request.params = undefined;
			delete request.auth;
			request.withCredentials = false;
			for (const option of [
				'transport',
				'lookup',
				'family',
				'socketPath',
				'httpAgent',
				'httpsAgent',
				'http2Options',
				'httpVersion',
			] as const) {
				Reflect.deleteProperty(request, option);
			}

			if (plainHttp) {
				// Loopback only (resolveConfig): a proxy would carry the secret off the machine in clear text.
				request.proxy = false;
			} else {
				// https: the environment's proxy (HTTPS_PROXY, NO_PROXY), through our own CONNECT tunnel.
				request.proxy = false;
				request.httpsAgent = tunnelAgentFor(config.tokenUrl);
			}

			return request;
		},
		undefined,
		{synchronous: true},
	);
	axiosRetry(instance, {
		retries: config.retries,
		retryCondition: isRetryable,
		retryDelay,
		shouldResetTimeout: true,
		onRetry(retryCount, error) {
			log('token request attempt %d failed (%s); retrying', retryCount, error.response?.status ?? error.code);
		},
	});

	return async function fetchToken() {
		log('requesting a token from %s', endpoint);
		let response: AxiosResponse<string>;
		try {
			response = await instance.post<string>(config.tokenUrl.href, body);
		} catch (error) {
			throw toTokenError(error, endpoint, redact);
		}

		const receivedAt = Date.now();
		const text = typeof response.data === 'string' ? response.data : '';
		try {
			const parsed = parseJson(text);
			const token = toCachedToken(parsed, receivedAt);
			log('token received; expires in %ds', Math.round((token.expiresAt - receivedAt) / 1000));
			// toCachedToken checked the fields that matter; the others are passed through untouched.
			return {token, response: parsed as TokenResponse};
		} catch (error) {
			if (!(error instanceof InvalidTokenResponse)) {
				throw error;
			}

			throw new VibrantTokenError(describeBadBody(response.status, text, error.message, redact), {
				status: response.status,
				...oauthFields(text, redact),
			});
		}
	};
}

/**
 * The longest one fetch can take: every attempt timing out, with the longest backoff between them
 * (a Retry-After, up to 30 s, can make it longer).
 *
 * @internal
 */
export function longestFetchMs(config: Pick<ResolvedConfig, 'timeoutMs' | 'retries'>): number {
	let total = config.timeoutMs * (config.retries + 1);
	for (let retry = 1; retry <= config.retries; retry++) {
		total += Math.min(maxBackoffMs, baseBackoffMs * 2 ** (retry - 1));
	}

	return total;
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

/** RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined and Base64-encoded. */
function basicAuthorization(clientId: string, clientSecret: string): string {
	return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

function formEncode(value: string): string {
	return new URLSearchParams({v: value}).toString().slice(2);
}

// `access_token":"…`, `access_token=…` and the like, in JSON, form or query text, quoted or not.
const tokenFieldPattern = /((?:access|refresh|id)_token\\?["']?\s*[:=]\s*\\?["']?)[^"'\\&,;}\s]+/gi;

/**
 * Replaces every form of the secret that a server may echo back (raw, form- and percent-encoded,
 * inside the Basic header, JSON- and HTML-escaped) before server text is quoted anywhere.
 *
 * @internal
 */
export function createRedactor(config: Pick<ResolvedConfig, 'clientId' | 'clientSecret'>): (text: string) => string {
	const secret = config.clientSecret;
	// JSON encoders differ: some escape "/" (PHP), some every non-ASCII character (Python).
	const json = JSON.stringify(secret).slice(1, -1);
	const asciiJson = json.replaceAll(/[^\u0020-\u007E]/g, character => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
	const forms = new Set([
		basicAuthorization(config.clientId, secret).slice('Basic '.length),
		secret,
		formEncode(secret),
		encodeURIComponent(secret),
		json,
		json.replaceAll('/', '\\/'),
		asciiJson,
		asciiJson.replaceAll('/', '\\/'),
		secret.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;'),
	]);
	const sorted = [...forms].sort((a, b) => b.length - a.length);
	return text => {
		let result = text;
		for (const form of sorted) {
			result = result.replaceAll(form, '[redacted]');
		}

		return result;
	};
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		throw new InvalidTokenResponse(text.trim() === '' ? 'the body is empty' : 'the body is not valid JSON');
	}
}

function oauthFields(text: string, redact: (text: string) => string): {oauthError?: string; oauthErrorDescription?: string} {
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		return {};
	}

	if (typeof body !== 'object' || body === null) {
		return {};
	}

	const {error, error_description: description} = body as Record<string, unknown>;
	const fields: {oauthError?: string; oauthErrorDescription?: string} = {};
	if (typeof error === 'string' && error !== '') {
		fields.oauthError = excerpt(redact(error));
	}

	if (typeof description === 'string' && description !== '') {
		fields.oauthErrorDescription = excerpt(redact(description));
	}

	return fields;
}

function describeBadBody(status: number, text: string, problem: string, redact: (text: string) => string): string {
	const {oauthError, oauthErrorDescription} = oauthFields(text, redact);
	if (oauthError !== undefined) {
		return `Token endpoint answered ${status} with error ${oauthError}${oauthErrorDescription === undefined ? '' : ` (${oauthErrorDescription})`} and no access_token.`;
	}

	const quoted = problem === 'the body is empty' || problem.startsWith('the body is not') ? bodyExcerpt(text, redact) : '';
	return `Token endpoint answered ${status} but ${problem}${quoted}: it is not a usable OAuth2 token response.`;
}

function bodyExcerpt(text: string, redact: (text: string) => string): string {
	const short = excerpt(redact(text));
	return short === '' ? '' : ` (body: "${short}")`;
}

const advice: Record<string, string> = {
	invalid_client: 'check VIBRANT_CLIENT_ID / VIBRANT_CLIENT_SECRET (or the clientId / clientSecret options) and authMethod',
	unauthorized_client: 'this client may not use the client_credentials grant; ask the API provider to enable it',
	invalid_scope: 'check the scope option / VIBRANT_SCOPE',
	invalid_grant: 'check the client registration with the API provider',
	unsupported_grant_type: 'the server does not support client_credentials at this URL; check tokenUrl / VIBRANT_TOKEN_URL',
};

function toTokenError(error: unknown, endpoint: string, redact: (text: string) => string): VibrantTokenError {
	if (!loadAxios().isAxiosError(error)) {
		// Not from the HTTP layer: keep only the message, through the redactor.
		const message = error instanceof Error ? error.message : String(error);
		return new VibrantTokenError(`Token request to ${endpoint} failed: ${redact(message)}`);
	}

	const attempts = 1 + ((error.config?.['axios-retry'] as {retryCount?: number} | undefined)?.retryCount ?? 0);
	const tries = attempts === 1 ? '' : ` after ${attempts} attempts`;
	const onTheWay = toTlsOrProxyError(error, endpoint, tries, redact);
	if (onTheWay !== undefined) {
		return onTheWay;
	}

	const {response} = error;
	if (response === undefined) {
		// A sanitised cause: the system error's code and message, never the AxiosError with its config.
		const cause = new Error(redact(error.message));
		if (error.code !== undefined) {
			Object.assign(cause, {code: error.code});
		}

		if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
			return new VibrantTokenError(`Token request to ${endpoint} timed out${tries}; the server did not answer in time (timeoutMs).`, {
				cause,
			});
		}

		if (error.code === 'ERR_BAD_RESPONSE' && error.message.includes('maxContentLength')) {
			return new VibrantTokenError(`Token endpoint ${endpoint} sent a response larger than 1 MiB; refusing to read it.`, {cause});
		}

		return new VibrantTokenError(
			`Could not reach the token endpoint ${endpoint}${tries} (${error.code ?? 'network error'}); check tokenUrl / VIBRANT_TOKEN_URL and the network.`,
			{cause},
		);
	}

	const {status} = response;
	const text = typeof response.data === 'string' ? response.data : '';
	const fields = oauthFields(text, redact);
	const details = {status, ...fields};
	if (status >= 300 && status < 400) {
		return new VibrantTokenError(
			`Token endpoint answered ${status} (a redirect), which is not followed: a redirect could carry the client secret to another host; set tokenUrl / VIBRANT_TOKEN_URL to the final URL.`,
			details,
		);
	}

	const what =
		fields.oauthError === undefined
			? bodyExcerpt(text, redact)
			: ` ${fields.oauthError}${fields.oauthErrorDescription === undefined ? '' : ` (${fields.oauthErrorDescription})`}`;
	let hint: string;
	const known = fields.oauthError === undefined ? undefined : advice[fields.oauthError];
	if (known !== undefined) {
		hint = known;
	} else if (status === 401 || status === 403) {
		hint = 'check VIBRANT_CLIENT_ID / VIBRANT_CLIENT_SECRET (or the clientId / clientSecret options) and authMethod';
	} else if (status === 429 || status === 503) {
		const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
		hint =
			retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs
				? `the server asks to wait ${Math.ceil(retryAfterMs / 1000)} s (Retry-After), longer than the ${maxRetryAfterMs / 1000} s this client waits; try again later`
				: 'the token endpoint is overloaded or unavailable; try again later';
	} else if (status >= 500) {
		hint = 'the token endpoint failed; try again later';
	} else {
		hint = 'check tokenUrl / VIBRANT_TOKEN_URL and the client registration';
	}

	return new VibrantTokenError(`Token endpoint answered ${status}${what}${tries}: ${hint}.`, details);
}
