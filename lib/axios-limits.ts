// A request's own limits (its signal, its cancelToken, its timeout) over its wait for a token, in
// axios's own errors (SPEC: every wait ends when the caller says so). Only a request that has to
// wait comes here: the warm path never does.

import type {AxiosError, AxiosStatic, InternalAxiosRequestConfig} from 'axios';
import {axiosOf} from './axios-module.js';
import type {TokenCache} from './token-cache.js';

// setTimeout's limit: a longer timeout is none here (the client's totalTimeoutMs bounds the wait).
const maxTimerMs = 2_147_483_647;

/**
 * The request's timeout in milliseconds, or 0 for none (axios's default) or one too long for a timer.
 *
 * @internal
 */
export function timeoutOf(config: InternalAxiosRequestConfig): number {
	const {timeout} = config;
	return typeof timeout === 'number' && timeout > 0 && timeout <= maxTimerMs ? timeout : 0;
}

/**
 * The token for a request that has to wait for one, within the request's limits. Its `cancelToken`
 * and `signal` end the wait as they would end the request, with axios's `CanceledError`; its
 * timeout with the `AxiosError` of a timed-out request. The request is then not sent. The wait
 * counts against the timeout: the exchange gets what is left. The limits end this request's wait
 * only (`TokenCache.get`): the token request goes on for the other callers and fills the cache.
 *
 * @param callerTimeoutMs - the timeout the caller gave, which the messages name (on our retry after
 * a 401, `config.timeout` is what was left of it); `config.timeout` when undefined.
 * @internal
 */
export async function tokenWithinLimits(config: InternalAxiosRequestConfig, cache: TokenCache, callerTimeoutMs?: number): Promise<string> {
	const startedAt = performance.now();
	const timeoutMs = timeoutOf(config);
	const namedTimeoutMs = callerTimeoutMs ?? timeoutMs;
	const token = await waitWithin(config, cache, timeoutMs, namedTimeoutMs);
	if (timeoutMs > 0) {
		const leftMs = startedAt + timeoutMs - performance.now();
		if (leftMs < 1) {
			// A timeout > 0 made waitWithin load axios already.
			throw timeoutError(await axiosOf(config), config, namedTimeoutMs);
		}

		shortenTimeout(config, leftMs, namedTimeoutMs);
	}

	return token;
}

/**
 * Gives the rest of the call what is left of the caller's timeout; axios's message for it still
 * names the caller's timeout (unless the caller set a `timeoutErrorMessage` of their own).
 *
 * @internal
 */
export function shortenTimeout(config: InternalAxiosRequestConfig, leftMs: number, callerTimeoutMs: number): void {
	config.timeoutErrorMessage ??= `timeout of ${callerTimeoutMs}ms exceeded`;
	config.timeout = Math.ceil(leftMs);
}

async function waitWithin(config: InternalAxiosRequestConfig, cache: TokenCache, waitMs: number, callerTimeoutMs: number): Promise<string> {
	const {signal, cancelToken} = config;
	if (!signal && !cancelToken && waitMs === 0) {
		return cache.get();
	}

	// axios's own errors, of the application's copy of axios (loaded on first use).
	const axios = await axiosOf(config);
	// One signal for the cache's one abortable wait, aborted by whichever limit comes first.
	const controller = new AbortController();
	const {CanceledError} = axios;
	const onAbort = () => {
		controller.abort(new CanceledError(undefined, config));
	};

	// A CancelToken's reason is the CanceledError that cancel(message) made, which axios rejects with.
	const onCancel = (reason: unknown) => {
		controller.abort(reason);
	};

	// As axios's dispatchRequest: an already-cancelled token first, then an already-aborted signal.
	cancelToken?.subscribe(onCancel);
	if (signal?.aborted) {
		onAbort();
	}

	signal?.addEventListener?.('abort', onAbort);
	const timer =
		waitMs > 0
			? setTimeout(() => {
					controller.abort(timeoutError(axios, config, callerTimeoutMs));
				}, waitMs)
			: undefined;
	try {
		return await cache.get(controller.signal);
	} finally {
		clearTimeout(timer);
		cancelToken?.unsubscribe(onCancel);
		signal?.removeEventListener?.('abort', onAbort);
	}
}

/** The error axios gives a request that timed out (lib/adapters/http.js), saying what was waited for. */
function timeoutError(axios: AxiosStatic, config: InternalAxiosRequestConfig, callerTimeoutMs: number): AxiosError {
	const {AxiosError: AxiosErrorClass} = axios;
	const code = config.transitional?.clarifyTimeoutError === true ? AxiosErrorClass.ETIMEDOUT : AxiosErrorClass.ECONNABORTED;
	return new AxiosErrorClass(`timeout of ${callerTimeoutMs}ms exceeded while waiting for an access token`, code, config);
}
