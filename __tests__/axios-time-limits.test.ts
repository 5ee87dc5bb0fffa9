import type http from 'node:http';
import {performance} from 'node:perf_hooks';
import {inspect} from 'node:util';
import axios, {AxiosError, type AxiosInstance, type AxiosRequestConfig, CanceledError, type CreateAxiosDefaults} from 'axios';
import {attachVibrantAuth, Client} from '../lib/index.js';
import {waitFor} from './helpers/deferred.js';
import {listen, readBody, type TestServer} from './helpers/http-server.js';
import {clientId, expectNoSecret, secret} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

// SPEC, round 3, "Every wait ends when the caller says so": while the axios integration waits for a
// token, the request's signal, cancelToken and timeout end the call as they would end the request
// itself. Without that, each of these calls waits for the token endpoint (here: forever).

/**
 * A protected API on 127.0.0.1 whose answers take time: `/hang` never answers, `/after/<ms>` answers
 * 200 after that long, `/unauthorized/<ms>` 401 after that long; anything else 200 at once. A
 * token that is not `Bearer token-N` gets 401.
 */
type SlowApi = TestServer & {readonly calls: Array<{path: string; authorization: string | undefined}>};

async function startSlowApi(): Promise<SlowApi> {
	const calls: Array<{path: string; authorization: string | undefined}> = [];
	const server = await listen(async (request: http.IncomingMessage, response: http.ServerResponse) => {
		await readBody(request);
		const path = request.url ?? '';
		const {authorization} = request.headers;
		calls.push({path, authorization});
		if (path.endsWith('/hang')) {
			return;
		}

		const delayed = /\/(after|unauthorized)\/(\d+)$/.exec(path);
		if (delayed) {
			await sleep(Number(delayed[2]));
		}

		const accepted = delayed?.[1] !== 'unauthorized' && authorization !== undefined && /^Bearer token-\d+$/.test(authorization);
		response.writeHead(accepted ? 200 : 401, {'Content-Type': 'application/json'}).end(JSON.stringify({authorization}));
	});
	return Object.assign(server, {calls});
}

let tokens: TokenServer;
let api: SlowApi;
let client: Client;

beforeEach(async () => {
	[tokens, api] = await Promise.all([startTokenServer(), startSlowApi()]);
	// The client's own limits are far beyond every bound below: only the caller's limits can end these calls.
	client = new Client({clientId, clientSecret: secret, tokenUrl: tokens.url, timeoutMs: 20_000, retries: 0});
});
afterEach(async () => {
	await Promise.all([tokens.close(), api.close()]);
});

function attached(defaults: CreateAxiosDefaults = {}): AxiosInstance {
	return attachVibrantAuth(axios.create({baseURL: api.origin, ...defaults}), {client});
}

async function sleep(ms: number): Promise<void> {
	return new Promise(resolve => {
		setTimeout(resolve, ms);
	});
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
	return promise.then(
		() => {
			throw new Error('expected a rejection');
		},
		(error: unknown) => error,
	);
}

/** The rejection of `call`, with how long it took from `from` (default: the call). */
async function timed(call: () => Promise<unknown>): Promise<{error: unknown; elapsedMs: number}> {
	const started = performance.now();
	const error = await rejection(call());
	return {error, elapsedMs: performance.now() - started};
}

// SPEC: an abort ends the wait at once (≤ 50 ms for getToken); slack for a loaded 2-core machine,
// while the broken behaviour waits for a token endpoint that never answers.
const atOnceMs = 250;
// SPEC: `timeout: T` with a hanging token endpoint rejects within T + 200 ms.
const timeoutSlackMs = 200;

/** A way to cancel an axios request, and the CanceledError message axios gives it. */
type Cancellation = {
	readonly options: AxiosRequestConfig;
	readonly cancel: () => void;
	readonly message: string;
};

function bySignal(): Cancellation {
	const controller = new AbortController();
	// axios rejects with CanceledError('canceled') whatever the signal's reason.
	return {
		options: {signal: controller.signal},
		cancel: () => {
			controller.abort(new Error('the caller left'));
		},
		message: 'canceled',
	};
}

function byCancelToken(): Cancellation {
	const source = axios.CancelToken.source();
	return {
		options: {cancelToken: source.token},
		cancel: () => {
			source.cancel('the user went away');
		},
		message: 'the user went away',
	};
}

describe.each([
	['signal', bySignal],
	['cancelToken', byCancelToken],
])('axios %s', (_name, cancellation) => {
	test('cancelled while the token request hangs: rejects at once with CanceledError, and nothing is sent', async () => {
		tokens.reply('hang');
		const {options, cancel, message} = cancellation();
		const pending = rejection(attached().get('/a', options));
		await waitFor(() => tokens.requests.length === 1);
		const cancelledAt = performance.now();
		cancel();
		const error = await pending;
		expect(performance.now() - cancelledAt).toBeLessThan(atOnceMs);
		expect(axios.isCancel(error)).toBe(true);
		expect(error).toBeInstanceOf(CanceledError);
		expect(error).toMatchObject({code: 'ERR_CANCELED', message});
		// Nothing was sent: no request on the error.
		expect(Reflect.get(error as object, 'request')).toBeUndefined();
		expect(api.calls).toHaveLength(0);
		expect(tokens.requests).toHaveLength(1);
	});

	test('cancelled before the call: rejects with CanceledError and starts no token request', async () => {
		const {options, cancel, message} = cancellation();
		cancel();
		const error = await rejection(attached().get('/a', options));
		expect(axios.isCancel(error)).toBe(true);
		expect(error).toMatchObject({code: 'ERR_CANCELED', message});
		await sleep(50);
		expect(tokens.requests).toHaveLength(0);
		expect(api.calls).toHaveLength(0);
	});

	test("one caller's cancel does not cancel the shared token request: a concurrent request gets its token", async () => {
		const release = tokens.hold();
		const instance = attached();
		const {options, cancel} = cancellation();
		const cancelled = rejection(instance.get('/a', options));
		const patient = instance.get('/b');
		await waitFor(() => tokens.requests.length === 1);
		cancel();
		expect(axios.isCancel(await cancelled)).toBe(true);
		release();
		expect((await patient).data).toEqual({authorization: 'Bearer token-1'});
		expect(tokens.requests).toHaveLength(1);
		expect(api.calls.map(call => call.path)).toEqual(['/b']);
	});
});

describe('axios timeout', () => {
	const timeoutMs = 300;

	test.each([
		['the request’s own timeout', {}, {timeout: timeoutMs}, 'ECONNABORTED'],
		['the instance’s default timeout', {timeout: timeoutMs}, {}, 'ECONNABORTED'],
		['clarifyTimeoutError: true', {timeout: timeoutMs, transitional: {clarifyTimeoutError: true}}, {}, 'ETIMEDOUT'],
	] as const)(
		'%s bounds the wait for a hanging token endpoint with the AxiosError of a timed-out request, and nothing is sent',
		async (_name, defaults, options, code) => {
			tokens.reply('hang');
			const {error, elapsedMs} = await timed(async () => attached(defaults).get('/a', options));
			expect(error).toBeInstanceOf(AxiosError);
			expect(axios.isCancel(error)).toBe(false);
			expect(error).toMatchObject({
				code,
				message: `timeout of ${timeoutMs}ms exceeded while waiting for an access token`,
				config: {url: '/a', timeout: timeoutMs},
			});
			expect((error as AxiosError).request).toBeUndefined();
			expect(elapsedMs).toBeGreaterThanOrEqual(timeoutMs - 5);
			expect(elapsedMs).toBeLessThan(timeoutMs + timeoutSlackMs);
			expect(api.calls).toHaveLength(0);
			expect(tokens.requests).toHaveLength(1);
			expectNoSecret(error);
		},
	);

	test("the caller's timeoutErrorMessage stays axios's, for the exchange; the token wait's message says what was waited for", async () => {
		const options = {timeout: 300, timeoutErrorMessage: 'the API is slow today'};
		tokens.reply({delayMs: 100, body: {access_token: 'token-1', token_type: 'bearer', expires_in: 3600}}, 'hang');
		const exchange = await timed(async () => attached().get('/hang', options));
		expect(exchange.error).toMatchObject({code: 'ECONNABORTED', message: 'the API is slow today'});
		expect(exchange.elapsedMs).toBeLessThan(300 + timeoutSlackMs);
		client.clearCache();
		const wait = await timed(async () => attached().get('/a', options));
		expect(wait.error).toMatchObject({code: 'ECONNABORTED', message: 'timeout of 300ms exceeded while waiting for an access token'});
		expect(api.calls.map(call => call.path)).toEqual(['/hang']);
		expect(tokens.requests).toHaveLength(2);
	});

	test('the token request that outlived a timeout still fills the cache for the next request', async () => {
		tokens.reply({delayMs: 500, body: {access_token: 'token-1', token_type: 'bearer', expires_in: 3600}});
		const instance = attached();
		const {error} = await timed(async () => instance.get('/a', {timeout: 100}));
		expect(error).toMatchObject({code: 'ECONNABORTED'});
		expect((await instance.get('/b')).data).toEqual({authorization: 'Bearer token-1'});
		expect(tokens.requests).toHaveLength(1);
		expect(api.calls.map(call => call.path)).toEqual(['/b']);
	});

	test('a slow token and a hanging API share one timeout: the exchange gets only what is left', async () => {
		tokens.reply({delayMs: 400, body: {access_token: 'token-1', token_type: 'bearer', expires_in: 3600}});
		const {error, elapsedMs} = await timed(async () => attached().get('/hang', {timeout: 1000}));
		// axios's own timeout of the exchange, in axios's words, with the caller's T in them.
		expect(error).toMatchObject({code: 'ECONNABORTED', message: 'timeout of 1000ms exceeded'});
		expect(elapsedMs).toBeGreaterThanOrEqual(995);
		// Not 400 + 1000.
		expect(elapsedMs).toBeLessThan(1000 + timeoutSlackMs);
		expect(api.calls.map(call => call.authorization)).toEqual(['Bearer token-1']);
	});

	test('a slow token and a fast API within the timeout succeed', async () => {
		tokens.reply({delayMs: 400, body: {access_token: 'token-1', token_type: 'bearer', expires_in: 3600}});
		const response = await attached().get('/after/100', {timeout: 1000});
		expect(response.data).toEqual({authorization: 'Bearer token-1'});
		expect(tokens.requests).toHaveLength(1);
	});

	test('the 401 retry gets what is left of the timeout, not a fresh one (token fetched for the call)', async () => {
		// token-1 at once, a 401 after 500 ms, then a token request that hangs.
		tokens.reply(tokenAt(0), 'hang');
		const {error, elapsedMs} = await timed(async () => attached().get('/unauthorized/500', {timeout: 1000}));
		expect(error).toMatchObject({code: 'ECONNABORTED', message: 'timeout of 1000ms exceeded while waiting for an access token'});
		expect(elapsedMs).toBeGreaterThanOrEqual(995);
		// Not 500 + 1000.
		expect(elapsedMs).toBeLessThan(1000 + timeoutSlackMs);
		expect(tokens.requests).toHaveLength(2);
		expect(api.calls).toHaveLength(1);
	});

	test('the 401 retry gets what is left of the timeout, not a fresh one (token cached)', async () => {
		tokens.reply(tokenAt(0), 'hang');
		const instance = attached();
		await instance.get('/warm-up');
		const {error, elapsedMs} = await timed(async () => instance.get('/unauthorized/500', {timeout: 1000}));
		expect(error).toMatchObject({code: 'ECONNABORTED', message: 'timeout of 1000ms exceeded while waiting for an access token'});
		expect(elapsedMs).toBeGreaterThanOrEqual(995);
		expect(elapsedMs).toBeLessThan(1000 + timeoutSlackMs);
		expect(tokens.requests).toHaveLength(2);
		expect(api.calls.map(call => call.path)).toEqual(['/warm-up', '/unauthorized/500']);
		// The rejected token is not left on the error's config (axios's toJSON and inspect print it).
		expect([inspect(error, {depth: 8}), JSON.stringify(error)].filter(text => text.includes('token-1'))).toEqual([]);
	});

	test('a 401 retry within the time left succeeds', async () => {
		const instance = attached();
		await instance.get('/warm-up');
		tokens.reply(tokenAt(200, 2));
		const retried = await rejection(instance.get('/unauthorized/100', {timeout: 1000}));
		// The retry went out (with token-2, after 100 + 200 ms) and got its own 401, within the timeout.
		expect(retried).toMatchObject({response: {status: 401}});
		expect(api.calls.map(call => call.authorization)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
	});
});

/** Token replies after `delayMs`: `token-<first>`, then the next numbers. */
function tokenAt(delayMs: number, first = 1) {
	return (_request: unknown, index: number) => ({
		delayMs,
		body: {access_token: `token-${first + index}`, token_type: 'bearer', expires_in: 3600},
	});
}
