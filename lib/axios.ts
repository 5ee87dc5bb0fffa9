import type {AxiosError, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig} from 'axios';
// The same instance under axios's ES module typings, which TypeScript holds apart from the CommonJS
// ones: an ES module program passes that one (this package's declarations are CommonJS, like its code).
import type {AxiosInstance as EsmAxiosInstance} from 'axios' with {'resolution-mode': 'import'};
import type {Client} from './client.js';
import {shortenTimeout, timeoutOf, tokenWithinLimits} from './axios-limits.js';
import {authorizationKey, isReplayable, resolveRequestAuth, retriesUnauthorized} from './request-auth.js';
import type {TokenCache} from './token-cache.js';

declare module 'axios' {
	interface AxiosRequestConfig {
		/**
		 * `false` keeps `attachVibrantAuth` away from this request: no token is added and a 401 is
		 * not retried.
		 *
		 * @default true
		 */
		vibrantAuth?: boolean;
	}
}

/** Options of {@link attachVibrantAuth}. */
export type AttachOptions = {
	/**
	 * The token source.
	 *
	 * @default a `new Client()` built from the environment when `attachVibrantAuth` is called
	 */
	readonly client?: Client | undefined;

	/**
	 * The origins (`https://host[:port]`) that may receive the token. A request to any other origin
	 * is sent untouched. Each must be `https:`, or `http:` to a loopback host.
	 *
	 * @default the origin of `instance.defaults.baseURL` when set, else `https://api.vibrant-wellness.com`
	 */
	readonly origins?: readonly string[] | undefined;
};

/**
 * Per-request state, under a string key because axios's `mergeConfig` drops symbol keys and this
 * state must survive a retry (ours, or the caller's axios-retry). Its presence means this package
 * set the request's `Authorization`, so it may replace it on a later attempt. It never holds the
 * token. Without a timeout, the two states are shared and frozen: a request costs no allocation
 * for them.
 */
type RequestState = {
	/** The request was already retried after a 401. */
	readonly retried: boolean;
	/** With a timeout: when the call must be done (`performance.now()` clock), so that our retry gets only what is left. */
	readonly deadline: number | undefined;
	/** With a timeout: the caller's, for the messages. */
	readonly timeoutMs: number;
};

const firstAttempt: RequestState = Object.freeze({retried: false, deadline: undefined, timeoutMs: 0});
const retryAttempt: RequestState = Object.freeze({retried: true, deadline: undefined, timeoutMs: 0});

type BeforeRedirect = (options: Record<string, unknown>, responseDetails: {headers: Record<string, string>; statusCode: number}) => void;

type Config = InternalAxiosRequestConfig & {[stateKey]?: RequestState};

/** What the interceptors of one attachment share. */
type Attachment = {
	readonly instance: AxiosInstance;
	readonly cache: TokenCache;
	readonly isAllowed: (url: string) => boolean;
	readonly beforeRedirect: BeforeRedirect;
};

const stateKey = 'vibrant-oauth2-client';
// axios's own test for an absolute URL (lib/helpers/isAbsoluteURL.js): a scheme, or "//".
const absoluteUrlPattern = /^([a-z][a-z\d+\-.]*:)?\/\//i;

const attachments = new WeakMap<object, {request: readonly number[]; response: number}>();

/**
 * Makes an axios instance authenticate its requests to the Vibrant API: every request to an allowed
 * origin gets `Authorization: <token>`, and a 401 answer invalidates the token and is retried once
 * with a fresh one.
 *
 * Attaching again to the same instance replaces the earlier attachment.
 *
 * @param instance - an `axios.create()` instance or the default `axios` export.
 * @param options - the token source and the origins that may receive the token.
 * @returns the same instance.
 * @throws {@link VibrantConfigError} when the options, or the environment for the default client,
 * are invalid.
 *
 * @example
 * ```ts
 * import axios from "axios";
 * import { attachVibrantAuth } from "vibrant-oauth2-client";
 *
 * const api = attachVibrantAuth(axios.create({ baseURL: "https://api.vibrant-wellness.com/v1" }));
 * const response = await api.get("/some-endpoint");
 * ```
 */
export function attachVibrantAuth<T extends AxiosInstance | EsmAxiosInstance>(instance: T, options: AttachOptions = {}): T {
	attach(instance as AxiosInstance, options);
	return instance;
}

function attach(instance: AxiosInstance, options: AttachOptions): void {
	const {cache, isAllowed} = resolveRequestAuth(options, 'attachVibrantAuth', {
		url: instance.defaults.baseURL,
		setting: 'instance.defaults.baseURL',
	});
	detach(instance);
	const attachment: Attachment = {instance, cache, isAllowed, beforeRedirect: stripForeignAuthorization(isAllowed)};

	// Two request interceptors, of which axios runs one per request (it asks runWhen first, in the
	// order of registration). With a token cached, the synchronous one: when every interceptor that
	// applies is synchronous, axios runs them without a promise hop, so a warm request costs what a
	// bare one does. Without a token, the asynchronous one, which waits for it.
	let coldConfig: object | undefined;
	const cold = instance.interceptors.request.use(config => authorize(config as Config, attachment, false), undefined, {
		runWhen(config) {
			if (config.vibrantAuth === false || cache.cached() !== undefined) {
				return false;
			}

			coldConfig = config;
			return true;
		},
	});
	const warm = instance.interceptors.request.use(config => authorize(config as Config, attachment, true), undefined, {
		synchronous: true,
		runWhen(config) {
			if (config === coldConfig) {
				coldConfig = undefined;
				return false;
			}

			return config.vibrantAuth !== false;
		},
	});
	const response = instance.interceptors.response.use(undefined, async (error: unknown) => retryOnUnauthorized(error, attachment));
	attachments.set(instance, {request: [cold, warm], response});
}

/**
 * Removes what {@link attachVibrantAuth} added to an instance; does nothing if it has none.
 *
 * @param instance - the instance given to `attachVibrantAuth`.
 */
export function detachVibrantAuth(instance: AxiosInstance | EsmAxiosInstance): void {
	detach(instance as AxiosInstance);
}

function detach(instance: AxiosInstance): void {
	const ids = attachments.get(instance);
	if (ids !== undefined) {
		for (const id of ids.request) {
			instance.interceptors.request.eject(id);
		}

		instance.interceptors.response.eject(ids.response);
		attachments.delete(instance);
	}
}

/**
 * axios and follow-redirects drop Authorization on some cross-origin redirects; older versions keep
 * it for subdomains. Whatever the version, only allowed origins get our token.
 */
function stripForeignAuthorization(isAllowed: (url: string) => boolean): BeforeRedirect {
	return redirect => {
		const href = redirect['href'];
		const headers = redirect['headers'] as Record<string, unknown> | undefined;
		if (headers !== undefined && (typeof href !== 'string' || !isAllowed(href))) {
			for (const name of Object.keys(headers)) {
				if (name.toLowerCase() === 'authorization') {
					Reflect.deleteProperty(headers, name);
				}
			}
		}
	};
}

/**
 * Sets our token on a request that is ours to authorize. `warm`: axios was told a moment ago
 * (runWhen) that a token is cached and runs this synchronously, so it must not wait: a token that
 * has just passed its usable life is still valid (the expiry buffer), and is taken. Only when the
 * cache was emptied in between (a 401 or `clearCache()` during an asynchronous interceptor of the
 * caller's) does it return a promise, which an asynchronous chain waits for.
 */
function authorize(config: Config, attachment: Attachment, warm: boolean): Config | Promise<Config> {
	if (config.vibrantAuth === false) {
		return config;
	}

	const state = config[stateKey];
	const {headers} = config;
	const key = authorizationKey(headers);
	// A header we did not set (from the call or the instance's defaults) or basic `auth` is the
	// caller's: never replaced. Ours, from an earlier attempt, is replaced by the current token.
	if (state === undefined && ((key !== undefined && headers[key] !== undefined) || config.auth !== undefined)) {
		return config;
	}

	if (!isAllowedRequest(config, attachment.isAllowed)) {
		// A later attempt whose URL was changed (by an interceptor of the caller's) keeps no token of ours.
		if (state !== undefined && key !== undefined) {
			Reflect.deleteProperty(headers, key);
		}

		return config;
	}

	const {cache} = attachment;
	const token = warm ? (cache.cached() ?? cache.peek()) : cache.cached();
	if (token !== undefined) {
		return setToken(config, token, key, attachment, state ?? firstState(config));
	}

	return authorizeWithin(config, key, attachment, state);
}

/**
 * Waits for the token within the request's own limits (axios-limits.ts), then sets it. On our
 * retry after a 401, the timeout is already what was left of the caller's, which the messages name.
 */
async function authorizeWithin(
	config: Config,
	key: string | undefined,
	attachment: Attachment,
	state: RequestState | undefined,
): Promise<Config> {
	if (state !== undefined && key !== undefined) {
		// Our token of an earlier attempt is stale: an error of this wait (its config) carries no token.
		Reflect.deleteProperty(config.headers, key);
	}

	const first = state ?? firstState(config);
	const token = await tokenWithinLimits(config, attachment.cache, state?.deadline === undefined ? undefined : state.timeoutMs);
	return setToken(config, token, key, attachment, first);
}

/**
 * The state of a request we authorize for the first time. Only with a timeout is it a new object,
 * holding when the call must be done: the clock is read only then.
 */
function firstState(config: InternalAxiosRequestConfig): RequestState {
	const timeoutMs = timeoutOf(config);
	return timeoutMs === 0 ? firstAttempt : {retried: false, deadline: performance.now() + timeoutMs, timeoutMs};
}

function setToken(config: Config, token: string, key: string | undefined, attachment: Attachment, state: RequestState): Config {
	if (key === undefined || key === 'Authorization') {
		// A plain write, as axios's docs do it: AxiosHeaders.set would look the name up again and
		// sanitise a value that toCachedToken already checked (printable ASCII only).
		config.headers['Authorization'] = token;
	} else {
		// Held under another spelling (e.g. `authorization: undefined` in the defaults): let axios merge.
		config.headers.set('Authorization', token);
	}

	if (config[stateKey] === undefined) {
		const {beforeRedirect} = attachment;
		const callerBeforeRedirect = config.beforeRedirect as BeforeRedirect | undefined;
		config[stateKey] = state;
		config.beforeRedirect =
			callerBeforeRedirect === undefined
				? beforeRedirect
				: (options, responseDetails) => {
						beforeRedirect(options, responseDetails);
						callerBeforeRedirect(options, responseDetails);
					};
	}

	return config;
}

async function retryOnUnauthorized(error: unknown, {instance, cache}: Attachment): Promise<AxiosResponse> {
	const {config, response} = (error ?? {}) as Partial<AxiosError>;
	const state = (config as Config | undefined)?.[stateKey];
	if (config === undefined || response?.status !== 401 || state === undefined) {
		throw error;
	}

	const sent = config.headers.get('Authorization');
	// After a redirect, the 401 may come from a hop that did not get our token (it was stripped):
	// that says nothing about the token. Node's adapter exposes the last hop's request.
	const lastRequest = response.request as {getHeader?: (name: string) => unknown} | undefined;
	if (typeof sent !== 'string' || (typeof lastRequest?.getHeader === 'function' && lastRequest.getHeader('authorization') !== sent)) {
		throw error;
	}

	const {deadline} = state;
	const leftMs = deadline === undefined ? undefined : deadline - performance.now();
	const retry = retriesUnauthorized(cache, {
		integration: 'axios',
		method: config.method ?? 'get',
		url: () => instance.getUri(config),
		sent,
		retried: state.retried,
		resendable: isReplayable(config.data) && (leftMs === undefined || leftMs >= 1),
	});
	if (!retry) {
		throw error;
	}

	(config as Config)[stateKey] = leftMs === undefined ? retryAttempt : {...state, retried: true};
	if (leftMs !== undefined) {
		// The retry is part of the same call: it gets what is left of the timeout, not a fresh one.
		shortenTimeout(config, leftMs, state.timeoutMs);
	}

	// The body was serialised by the first attempt; do not transform it twice (as axios-retry does).
	config.transformRequest = [(data: unknown) => data];
	return instance.request(config);
}

/**
 * Whether the request goes to an allowed origin, resolved as axios's buildFullPath does but without
 * its config merge. Fails closed: with `allowAbsoluteUrls: false` and an absolute `url`, axios
 * 1.8.2+ joins it to the baseURL while older versions send it to `url` itself, so both must pass.
 */
function isAllowedRequest(config: InternalAxiosRequestConfig, isAllowed: (url: string) => boolean): boolean {
	const {baseURL} = config;
	// axios also takes a URL object from JavaScript callers.
	const requested = config.url as string | URL | undefined;
	const url = requested === undefined ? '' : requested.toString();
	// The common case first: a path such as "/items" is relative without a regular expression.
	if (baseURL && url.charCodeAt(0) === 47 && url.charCodeAt(1) !== 47) {
		return isAllowed(baseURL);
	}

	const absolute = absoluteUrlPattern.test(url);
	if (!baseURL || (absolute && config.allowAbsoluteUrls !== false)) {
		return isAllowed(url);
	}

	// axios joins them with exactly one "/", so the joined URL's origin is the baseURL's.
	return isAllowed(baseURL) && (!absolute || isAllowed(url));
}
