import type {AxiosInstance, AxiosRequestConfig, AxiosResponse} from 'axios';
import axiosRetry from 'axios-retry';
import {loadAxios} from './axios-module.js';
import type {ResolvedConfig} from './config.js';
import {basicAuthorization, createServerTextRedactor} from './credentials.js';
import {VibrantTokenError} from './errors.js';
import {log} from './log.js';
import {type CachedToken, InvalidTokenResponse, type TokenResponse, toCachedToken} from './token.js';
import {type BudgetEnd, parseTokenBody, toBadBodyError, toTokenError, unparsableProblem} from './token-errors.js';
import {isRetryable, parseRetryAfter, retryDelay} from './token-retry.js';
import {tunnelAgentFor} from './proxy-tunnel.js';

/** Reads at most this much of a token response (golang/oauth2 uses the same cap). */
const maxResponseBytes = 1024 * 1024;

/**
 * Fetches one token from the token endpoint: builds the request, retries what is worth retrying
 * within the client's total budget, and checks the answer. It never caches. `response` is the
 * checked wire body (for the CLI).
 *
 * @internal
 */
/**
 * Fetches a token. `waitedMs`: what the caller already spent waiting for another process's token
 * request, which counts against `totalTimeoutMs` (0 when it did not wait).
 */
export type TokenFetcher = (waitedMs?: number) => Promise<{token: CachedToken; response: TokenResponse}>;

/** The token request of one client, built once: where it goes and what it carries. */
type TokenRequest = {
	readonly url: string;
	/** The URL without query, as messages and logs show it. */
	readonly endpoint: string;
	readonly body: string;
	readonly headers: Readonly<Record<string, string>>;
};

/**
 * Builds the fetcher for one client, with its own private axios instance. `now` dates the tokens
 * it receives (epoch milliseconds).
 *
 * @internal
 */
export function createTokenFetcher(config: ResolvedConfig, now: () => number = Date.now): TokenFetcher {
	const request = buildTokenRequest(config);
	const redact = createServerTextRedactor(config);
	// On the first fetch: the axios the application uses may still have to be imported (axios-module.ts).
	let instance: Promise<AxiosInstance> | undefined;
	return async function fetchToken(waitedMs = 0) {
		if (waitedMs >= config.totalTimeoutMs) {
			throw new VibrantTokenError(
				`Token request to ${request.endpoint} not sent: the total time limit totalTimeoutMs (${config.totalTimeoutMs} ms) went by waiting for another process's token request (${Math.round(waitedMs)} ms).`,
			);
		}

		const budget = startBudget(config, waitedMs);
		let response: AxiosResponse<string>;
		try {
			instance ??= createTokenInstance(config, request.headers).catch((error: unknown) => {
				instance = undefined;
				throw error;
			});
			const http = await instance;
			log('requesting a token from %s', request.endpoint);
			response = await http.post<string>(request.url, request.body, budget.requestConfig);
		} catch (error) {
			throw toTokenError(error, request.endpoint, redact, budget.end(error));
		} finally {
			budget.done();
		}

		return readToken(response, now(), redact);
	};
}

/** The form body and headers of a client-credentials request (RFC 6749 §4.4.2), with the client's authentication. */
function buildTokenRequest(config: ResolvedConfig): TokenRequest {
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

	return {
		url: config.tokenUrl.href,
		endpoint: `${config.tokenUrl.origin}${config.tokenUrl.pathname}`,
		body: form.toString(),
		headers,
	};
}

/**
 * A private axios instance for the token request: the caller's interceptors and axios-retry never
 * see it, it follows no redirect, reads at most 1 MiB, and retries with our own policy.
 */
async function createTokenInstance(config: ResolvedConfig, headers: Readonly<Record<string, string>>): Promise<AxiosInstance> {
	const axios = await loadAxios();
	const identity = (data: unknown) => data;
	const instance = axios.create({
		timeout: attemptTimeoutMs(config.timeoutMs, config.timeoutMs),
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

			// Never axios's own proxy handling. A plain http: URL is loopback only (resolveConfig): a proxy
			// would carry the secret off the machine in clear text. An https: URL takes the environment's
			// proxy (HTTPS_PROXY, NO_PROXY), through our own CONNECT tunnel.
			request.proxy = false;
			if (!plainHttp) {
				request.httpsAgent = tunnelAgentFor(config.tokenUrl);
			}

			return request;
		},
		undefined,
		{synchronous: true},
	);
	// The retry policy itself comes with each request (startBudget): it depends on the time left.
	axiosRetry(instance, {retries: config.retries, shouldResetTimeout: true});
	return instance;
}

/** One token request's budget: its per-request config, and how it ended. */
type Budget = {
	readonly requestConfig: AxiosRequestConfig;
	/** Whether the budget, not the retry policy, ended the request that failed with `error`. */
	end(error: unknown): BudgetEnd | undefined;
	/** The request settled: the deadline's timer goes. */
	done(): void;
};

/**
 * The time one token request may take, all attempts and back-offs included (`totalTimeoutMs`):
 * each attempt gets what is left, `timeoutMs` at most, and no back-off starts that would end past
 * it (a Retry-After longer than what is left is not waited for). At the deadline the request is
 * aborted, whatever it is doing: axios's timeout stops counting once the response headers are in,
 * and a body that trickles in would otherwise hold the request (and a fleet's lock) past it.
 */
function startBudget(config: ResolvedConfig, waitedMs: number): Budget {
	const {totalTimeoutMs} = config;
	const leftMs = totalTimeoutMs - waitedMs;
	const deadline = performance.now() + leftMs;
	const controller = new AbortController();
	const timer = setTimeout(() => {
		controller.abort();
	}, Math.ceil(leftMs));
	let backoffMs = 0;
	let attemptMs = attemptTimeoutMs(config.timeoutMs, leftMs);
	let stopped: BudgetEnd | undefined;
	return {
		requestConfig: {
			timeout: attemptMs,
			signal: controller.signal,
			'axios-retry': {
				retryCondition(error) {
					if (!isRetryable(error)) {
						return false;
					}

					const retriesDone = (error.config?.['axios-retry'] as {retryCount?: number} | undefined)?.retryCount ?? 0;
					backoffMs = retryDelay(retriesDone + 1, error);
					if (backoffMs >= deadline - performance.now()) {
						const retryAfter = parseRetryAfter(error.response?.headers['retry-after']) === undefined ? undefined : backoffMs;
						stopped = {totalTimeoutMs, waitedMs, retryAfterMs: retryAfter, reached: false};
						return false;
					}

					return true;
				},
				retryDelay: () => backoffMs,
				onRetry(retryCount, error, requestConfig) {
					attemptMs = attemptTimeoutMs(config.timeoutMs, deadline - performance.now() - backoffMs);
					requestConfig.timeout = attemptMs;
					log(
						'token request attempt %d failed (%s); retrying in %d ms',
						retryCount,
						error.response?.status ?? error.code,
						Math.round(backoffMs),
					);
				},
			},
		},
		end(error) {
			const code = (error as {code?: unknown} | null)?.code;
			// The deadline aborted the request, or the last attempt timed out on what was left of the
			// budget rather than on timeoutMs.
			const reached = controller.signal.aborted || ((code === 'ECONNABORTED' || code === 'ETIMEDOUT') && attemptMs < config.timeoutMs);
			return stopped ?? (reached ? {totalTimeoutMs, waitedMs, reached: true} : undefined);
		},
		done() {
			clearTimeout(timer);
		},
	};
}

/** An attempt's timeout for axios: whole milliseconds, at least 1 (axios takes 0 for none). */
function attemptTimeoutMs(timeoutMs: number, leftMs: number): number {
	return Math.max(1, Math.ceil(Math.min(timeoutMs, leftMs)));
}

/** Checks a 2xx answer: a JSON object with a usable access_token, else the error that says why not. */
function readToken(
	response: AxiosResponse<string>,
	receivedAt: number,
	redact: (text: string) => string,
): {token: CachedToken; response: TokenResponse} {
	const body = parseTokenBody(response.data);
	const problem = unparsableProblem(body);
	if (problem !== undefined) {
		throw toBadBodyError(response.status, body, problem, redact);
	}

	try {
		const token = toCachedToken(body.json, receivedAt);
		log('token received; expires in %ds', Math.round((token.expiresAt - receivedAt) / 1000));
		// toCachedToken checked the fields that matter; the others are passed through untouched.
		return {token, response: body.json as TokenResponse};
	} catch (error) {
		if (!(error instanceof InvalidTokenResponse)) {
			throw error;
		}

		throw toBadBodyError(response.status, body, error.message, redact);
	}
}
