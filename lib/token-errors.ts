import type {AxiosError, AxiosResponse} from 'axios';
import {isAxiosError} from './axios-module.js';
import {VibrantTokenError, excerpt} from './errors.js';
import {type TunnelRecord, tunnelOf} from './proxy-tunnel.js';
import {maxRetryAfterMs, parseRetryAfter} from './token-retry.js';

// Every failure of a token request, translated once into a VibrantTokenError that says what
// happened and what to do, with server text quoted only through the redactor.

/**
 * A token endpoint's body, parsed once: the text, and what JSON.parse made of it (`undefined`
 * when it is not JSON).
 *
 * @internal
 */
export type TokenBody = {readonly text: string; readonly json: unknown};

/** @internal */
export function parseTokenBody(data: unknown): TokenBody {
	const text = typeof data === 'string' ? data : '';
	try {
		return {text, json: JSON.parse(text) as unknown};
	} catch {
		return {text, json: undefined};
	}
}

/**
 * Why a 2xx body is no token, when it is not even a JSON value.
 *
 * @internal
 */
export function unparsableProblem(body: TokenBody): string | undefined {
	if (body.json !== undefined) {
		return undefined;
	}

	return body.text.trim() === '' ? 'the body is empty' : 'the body is not valid JSON';
}

/**
 * A 2xx answer that is not a usable token response.
 *
 * @param problem - what is wrong with it, as the checks of the token response say it.
 * @internal
 */
export function toBadBodyError(status: number, body: TokenBody, problem: string, redact: (text: string) => string): VibrantTokenError {
	const fields = oauthFields(body, redact);
	const {oauthError, oauthErrorDescription} = fields;
	// A body that is not even a JSON object is quoted (redacted): it says what answered instead.
	const quoted = problem === 'the body is empty' || problem.startsWith('the body is not') ? bodyExcerpt(body.text, redact) : '';
	const message =
		oauthError === undefined
			? `Token endpoint answered ${status} but ${problem}${quoted}: it is not a usable OAuth2 token response.`
			: `Token endpoint answered ${status} with error ${oauthError}${oauthErrorDescription === undefined ? '' : ` (${oauthErrorDescription})`} and no access_token.`;
	return new VibrantTokenError(message, {status, ...fields});
}

/**
 * The error a token request ends with: any failure of its last attempt (after the retries),
 * translated. Never the AxiosError itself, whose config holds the form body or the Basic header.
 *
 * @param error - what the request rejected with.
 * @param endpoint - the token URL without query or credentials, as messages show it.
 * @param redact - removes the client secret (and tokens) from server text before it is quoted.
 * @internal
 */
export function toTokenError(error: unknown, endpoint: string, redact: (text: string) => string, budget?: BudgetEnd): VibrantTokenError {
	if (!isAxiosError(error)) {
		// Not from the HTTP layer: keep only the message, through the redactor.
		const message = error instanceof Error ? error.message : String(error);
		return new VibrantTokenError(`Token request to ${endpoint} failed: ${redact(message)}`);
	}

	const attempts = 1 + ((error.config?.['axios-retry'] as {retryCount?: number} | undefined)?.retryCount ?? 0);
	const tries = attempts === 1 || budget !== undefined ? '' : ` after ${attempts} attempts`;
	const last =
		budget?.reached === true && error.code === 'ERR_CANCELED'
			? new VibrantTokenError(`Token request to ${endpoint} timed out; the server did not answer in time.`)
			: (toTlsOrProxyError(error, endpoint, tries, redact) ??
				(error.response === undefined
					? toNetworkError(error, endpoint, tries, redact, budget !== undefined)
					: toAnswerError(error.response, tries, redact)));
	return budget === undefined ? last : toBudgetError(last, endpoint, attempts, budget);
}

function toNetworkError(
	error: AxiosError,
	endpoint: string,
	tries: string,
	redact: (text: string) => string,
	budgeted: boolean,
): VibrantTokenError {
	const cause = sanitisedCause(error, redact);
	if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
		// Within a spent budget the attempt may have had less than timeoutMs: the message names neither.
		return new VibrantTokenError(
			`Token request to ${endpoint} timed out${tries}; the server did not answer in time${budgeted ? '' : ' (timeoutMs)'}.`,
			{cause},
		);
	}

	if (error.code === 'ERR_BAD_RESPONSE' && error.message.includes('maxContentLength')) {
		return new VibrantTokenError(`Token endpoint ${endpoint} sent a response larger than 1 MiB; refusing to read it.`, {cause});
	}

	return new VibrantTokenError(
		`Could not reach the token endpoint ${endpoint}${tries} (${error.code ?? 'network error'}); check tokenUrl / VIBRANT_TOKEN_URL and the network.`,
		{cause},
	);
}

const credentialsAdvice = 'check VIBRANT_CLIENT_ID / VIBRANT_CLIENT_SECRET (or the clientId / clientSecret options) and authMethod';

const advice: Record<string, string> = {
	invalid_client: credentialsAdvice,
	unauthorized_client: 'this client may not use the client_credentials grant; ask the API provider to enable it',
	invalid_scope: 'check the scope option / VIBRANT_SCOPE',
	invalid_grant: 'check the client registration with the API provider',
	unsupported_grant_type: 'the server does not support client_credentials at this URL; check tokenUrl / VIBRANT_TOKEN_URL',
};

function toAnswerError(response: NonNullable<AxiosError['response']>, tries: string, redact: (text: string) => string): VibrantTokenError {
	const {status} = response;
	const body = parseTokenBody(response.data);
	const fields = oauthFields(body, redact);
	const details = {status, ...fields};
	if (status >= 300 && status < 400) {
		return new VibrantTokenError(
			`Token endpoint answered ${status} (a redirect), which is not followed: a redirect could carry the client secret to another host; set tokenUrl / VIBRANT_TOKEN_URL to the final URL.`,
			details,
		);
	}

	const what =
		fields.oauthError === undefined
			? bodyExcerpt(body.text, redact)
			: ` ${fields.oauthError}${fields.oauthErrorDescription === undefined ? '' : ` (${fields.oauthErrorDescription})`}`;
	const hint =
		(fields.oauthError === undefined ? undefined : advice[fields.oauthError]) ?? statusAdvice(status, response.headers['retry-after']);
	return new VibrantTokenError(`Token endpoint answered ${status}${what}${tries}: ${hint}.`, details);
}

function statusAdvice(status: number, retryAfter: unknown): string {
	if (status === 401 || status === 403) {
		return credentialsAdvice;
	}

	if (status === 429 || status === 503) {
		const retryAfterMs = parseRetryAfter(retryAfter);
		return retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs
			? `the server asks to wait ${Math.ceil(retryAfterMs / 1000)} s (Retry-After), longer than the ${maxRetryAfterMs / 1000} s this client waits; try again later`
			: 'the token endpoint is overloaded or unavailable; try again later';
	}

	return status >= 500 ? 'the token endpoint failed; try again later' : 'check tokenUrl / VIBRANT_TOKEN_URL and the client registration';
}

/**
 * Why a token request stopped before its retries were used up: `totalTimeoutMs` ran out.
 *
 * @internal
 */
export type BudgetEnd = {
	readonly totalTimeoutMs: number;
	/** What went by waiting for another process's token request before this one started. */
	readonly waitedMs: number;
	/** Set when the server's Retry-After was not waited for because less time than it was left. */
	readonly retryAfterMs?: number | undefined;
	/** The deadline itself came (`false`: the next back-off would have ended past it). */
	readonly reached: boolean;
};

/** Says that the total budget ran out, names `totalTimeoutMs` and the attempts, then what the last one met. */
function toBudgetError(last: VibrantTokenError, endpoint: string, attempts: number, budget: BudgetEnd): VibrantTokenError {
	const limit = `totalTimeoutMs (${budget.totalTimeoutMs} ms)`;
	const waited =
		budget.waitedMs > 0 ? ` (${Math.round(budget.waitedMs)} ms of it went by waiting for another process's token request)` : '';
	const why =
		budget.retryAfterMs === undefined
			? `the total time limit ${limit} ${budget.reached ? 'was reached' : 'left no time for another attempt'}${waited}`
			: `the server asked to wait ${Math.ceil(budget.retryAfterMs / 1000)} s (Retry-After), more than is left of the total time limit ${limit}${waited}`;
	const {status, oauthError, oauthErrorDescription, cause} = last;
	return new VibrantTokenError(
		`Token request to ${endpoint} gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${why}. Last attempt: ${last.message}`,
		{
			...(status === undefined ? {} : {status}),
			...(oauthError === undefined ? {} : {oauthError}),
			...(oauthErrorDescription === undefined ? {} : {oauthErrorDescription}),
			...(cause instanceof Error ? {cause} : {}),
		},
	);
}

function oauthFields(body: TokenBody, redact: (text: string) => string): {oauthError?: string; oauthErrorDescription?: string} {
	if (typeof body.json !== 'object' || body.json === null) {
		return {};
	}

	const {error, error_description: description} = body.json as Record<string, unknown>;
	const fields: {oauthError?: string; oauthErrorDescription?: string} = {};
	if (typeof error === 'string' && error !== '') {
		fields.oauthError = excerpt(redact(error));
	}

	if (typeof description === 'string' && description !== '') {
		fields.oauthErrorDescription = excerpt(redact(description));
	}

	return fields;
}

function bodyExcerpt(text: string, redact: (text: string) => string): string {
	const short = excerpt(redact(text));
	return short === '' ? '' : ` (body: "${short}")`;
}

/** OpenSSL's certificate verification results (X509_V_ERR_…), as Node names them in `error.code`. */
const certificateErrorCodes = new Set([
	'UNABLE_TO_GET_ISSUER_CERT',
	'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
	'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
	'DEPTH_ZERO_SELF_SIGNED_CERT',
	'SELF_SIGNED_CERT_IN_CHAIN',
	'CERT_UNTRUSTED',
	'CERT_REJECTED',
	'CERT_HAS_EXPIRED',
	'CERT_NOT_YET_VALID',
	'CERT_REVOKED',
	'CERT_SIGNATURE_FAILURE',
	'CERT_CHAIN_TOO_LONG',
	'INVALID_CA',
	'INVALID_PURPOSE',
	'PATH_LENGTH_EXCEEDED',
	'HOSTNAME_MISMATCH',
	'UNABLE_TO_GET_CRL',
	'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
	'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
	'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
	'CRL_SIGNATURE_FAILURE',
	'CRL_NOT_YET_VALID',
	'CRL_HAS_EXPIRED',
	'ERROR_IN_CERT_NOT_BEFORE_FIELD',
	'ERROR_IN_CERT_NOT_AFTER_FIELD',
	'ERROR_IN_CRL_LAST_UPDATE_FIELD',
	'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
]);

/** Node's own check that the certificate names the host (tls.checkServerIdentity). */
const hostNameMismatchCode = 'ERR_TLS_CERT_ALTNAME_INVALID';

/**
 * Translates the failures that are about the way to the token endpoint rather than the endpoint
 * itself: a TLS certificate that could not be verified, and a proxy that did not open the tunnel
 * or closed it, told apart by how far the tunnel got (proxy-tunnel.ts). Returns `undefined` for any
 * other failure. A certificate failure is never retried (`isRetryable` does not list its codes: it
 * will not get better); a proxy's answer, reset, refusal, close or timeout is retried exactly when
 * the same status or code from the token endpoint would be.
 *
 * @param error - the token request's failure, after its retries.
 * @param endpoint - the token URL without query or credentials, as messages show it.
 * @param tries - `''`, or ` after N attempts`.
 * @param redact - removes the client secret from text before it is quoted.
 * @internal
 */
export function toTlsOrProxyError(
	error: AxiosError,
	endpoint: string,
	tries: string,
	redact: (text: string) => string,
): VibrantTokenError | undefined {
	const {code, response} = error;
	const detail = `${code ?? ''}: ${excerpt(redact(error.message))}`;
	const cause = sanitisedCause(error, redact);
	const tokenUrl = new URL(endpoint);
	const tunnel = tunnelOf(response === undefined ? error.request : response.request);
	if (tunnel?.stage === 'connect' && (code === hostNameMismatchCode || (code !== undefined && certificateErrorCodes.has(code)))) {
		// Still talking to an https: proxy: its certificate failed, not the token endpoint's.
		return new VibrantTokenError(
			`The certificate of the proxy ${tunnel.proxy} could not be verified${tries} (${detail}). Check the host name in HTTPS_PROXY against the proxy's certificate, and trust a private CA that issued it with NODE_EXTRA_CA_CERTS=/path/to/ca.pem; do not turn verification off.`,
			{cause},
		);
	}

	const certificate = toCertificateError(code, endpoint, tokenUrl, detail, cause);
	if (certificate !== undefined) {
		return certificate;
	}

	if (tokenUrl.protocol !== 'https:' || tunnel === undefined) {
		return undefined;
	}

	if (response !== undefined) {
		// The proxy's answer to CONNECT (the tunnel never opened), which the tunnel hands on as the
		// response. Not the token endpoint's status, so `status` stays unset (a proxy's 403 is not
		// bad credentials).
		return tunnel.stage === 'refused' ? refusedTunnel(tunnel, tokenUrl, response, tries, redact) : undefined;
	}

	return toTunnelFailure(tunnel, {code, endpoint, tokenUrl, tries, detail, cause});
}

/** A certificate that could not be verified, or that does not name the host: never retried. */
function toCertificateError(
	code: string | undefined,
	endpoint: string,
	tokenUrl: URL,
	detail: string,
	cause: Error,
): VibrantTokenError | undefined {
	if (code === hostNameMismatchCode) {
		return new VibrantTokenError(
			`The certificate of the token endpoint ${endpoint} could not be verified: it is not valid for the host name ${tokenUrl.hostname} (${detail}). Set tokenUrl / VIBRANT_TOKEN_URL to a host name the certificate names; trusting a private CA with NODE_EXTRA_CA_CERTS does not change the names a certificate is valid for.`,
			{cause},
		);
	}

	if (code !== undefined && certificateErrorCodes.has(code)) {
		return new VibrantTokenError(
			`The certificate of the token endpoint ${endpoint} could not be verified (${detail}). If it is issued by a private CA, or a TLS-inspecting proxy replaces it with its own, trust that CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (read when Node starts); do not turn verification off.`,
			{cause},
		);
	}

	return undefined;
}

/** A request that failed in its tunnel, worded by how far the tunnel got: who is to blame. */
function toTunnelFailure(
	tunnel: TunnelRecord,
	failure: {code: string | undefined; endpoint: string; tokenUrl: URL; tries: string; detail: string; cause: Error},
): VibrantTokenError | undefined {
	const {code, endpoint, tokenUrl, tries, detail, cause} = failure;
	const {proxy, stage} = tunnel;
	const host = tokenUrl.hostname;
	const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT';
	switch (stage) {
		case 'connect': {
			if (code === 'ECONNRESET') {
				return new VibrantTokenError(
					`The proxy ${proxy} reset the connection without answering the tunnel request (CONNECT) to ${tokenUrl.host}${tries}; check HTTPS_PROXY (scheme, host and port) and NO_PROXY, and that the proxy allows ${host}.`,
					{cause},
				);
			}

			return timedOut
				? new VibrantTokenError(
						`Token request to ${endpoint} timed out${tries} waiting for the proxy ${proxy}: it did not answer the tunnel request (CONNECT) in time (timeoutMs); check HTTPS_PROXY and NO_PROXY.`,
						{cause},
					)
				: new VibrantTokenError(
						`Could not reach the token endpoint ${endpoint} through the proxy ${proxy}${tries} (${code === 'ERR_PROXY_TUNNEL' ? detail : (code ?? 'network error')}); check HTTPS_PROXY and NO_PROXY.`,
						{cause},
					);
		}

		case 'closed': {
			return new VibrantTokenError(
				`The proxy ${proxy} closed the connection without answering the tunnel request (CONNECT) to ${tokenUrl.host}${tries}; check HTTPS_PROXY (scheme, host and port) and NO_PROXY, and that the proxy allows ${host}.`,
				{cause},
			);
		}

		case 'tls': {
			// The proxy answered and the tunnel is open: what failed is TLS with the token endpoint (or
			// the proxy's own connection to it), not the way to the proxy.
			return new VibrantTokenError(
				timedOut
					? `Token request to ${endpoint} timed out${tries} in the TLS handshake with the token endpoint, inside the tunnel the proxy ${proxy} opened; check that ${tokenUrl.host} serves https and is reachable from the proxy.`
					: `TLS with the token endpoint ${endpoint} failed${tries} inside the tunnel the proxy ${proxy} opened (${detail}); check that ${tokenUrl.host} serves https and is reachable from the proxy.`,
				{cause},
			);
		}

		case 'refused': {
			// Answered (the response above); anything after that is not about the tunnel.
			return undefined;
		}

		case 'open': {
			if (code === 'ECONNRESET' || code === 'EPIPE') {
				return new VibrantTokenError(
					`The token endpoint ${endpoint} closed the connection without answering${tries} (reached through the proxy ${proxy}, which opened the tunnel); try again later.`,
					{cause},
				);
			}

			// A timeout, or anything else, once TLS is up: the token endpoint's own failure.
			return undefined;
		}
	}
}

/** A proxy's non-2xx answer to CONNECT. */
function refusedTunnel(
	tunnel: TunnelRecord,
	tokenUrl: URL,
	response: AxiosResponse,
	tries: string,
	redact: (text: string) => string,
): VibrantTokenError {
	const answer = `${response.status}${response.statusText === '' ? '' : ` ${excerpt(redact(response.statusText))}`}`;
	const host = tokenUrl.hostname;
	let hint: string;
	if (response.status === 407) {
		hint = tunnel.hasCredentials
			? 'the proxy did not accept the credentials in HTTPS_PROXY (percent-escapes in them are sent as written, not decoded)'
			: 'the proxy wants credentials: put them in HTTPS_PROXY (http://user:password@host:port), or list the token host in NO_PROXY if it is to be reached directly';
	} else if (response.status >= 500) {
		hint = `the proxy could not reach ${host}; check that ${host} is reachable from the proxy, and HTTPS_PROXY and NO_PROXY`;
	} else {
		hint = `check HTTPS_PROXY and NO_PROXY, and that the proxy allows ${host}`;
	}

	return new VibrantTokenError(
		`The proxy ${tunnel.proxy} refused the tunnel to the token endpoint ${tokenUrl.origin}: it answered ${answer}${tries}; ${hint}.`,
		{cause: new Error(`CONNECT answered ${answer}`)},
	);
}

/** A plain Error with the failure's code and redacted message: never the AxiosError with its config. */
function sanitisedCause(error: AxiosError, redact: (text: string) => string): Error {
	const cause = new Error(redact(error.message));
	if (error.code !== undefined) {
		Object.assign(cause, {code: error.code});
	}

	return cause;
}
