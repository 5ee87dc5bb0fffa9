import {Readable} from 'node:stream';
import axios, {AxiosError, type AxiosInstance} from 'axios';
import axiosRetry from 'axios-retry';
import {attachVibrantAuth, Client, detachVibrantAuth, VibrantConfigError, VibrantTokenError} from '../lib/index.js';
import {type ApiServer, startApiServer} from './helpers/api-server.js';
import {clientId, secret} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

let tokens: TokenServer;
let api: ApiServer;
let foreign: ApiServer;
let client: Client;
let instance: AxiosInstance;

beforeEach(async () => {
	[tokens, api, foreign] = await Promise.all([startTokenServer(), startApiServer(), startApiServer()]);
	client = new Client({clientId, clientSecret: secret, tokenUrl: tokens.url});
	instance = attachVibrantAuth(axios.create({baseURL: `${api.origin}/v1`}), {client});
});
afterEach(async () => {
	await Promise.all([tokens.close(), api.close(), foreign.close()]);
});

const authorizations = (server: ApiServer) => server.calls.map(call => call.headers.authorization ?? null);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
	return promise.then(
		() => {
			throw new Error('expected a rejection');
		},
		(error: unknown) => error,
	);
}

describe('the request interceptor', () => {
	test('returns the same instance and authorizes its requests with one cached token', async () => {
		const responses = [await instance.get('/a'), await instance.get('/b'), await instance.post('/c', {x: 1})];
		expect(responses.map(response => response.status)).toEqual([200, 200, 200]);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
		expect(api.calls.map(call => call.path)).toEqual(['/v1/a', '/v1/b', '/v1/c']);
		expect(tokens.requests).toHaveLength(1);
	});

	test('50 concurrent cold requests share one token request', async () => {
		const responses = await Promise.all(Array.from({length: 50}, async (_, index) => instance.get(`/item/${index}`)));
		expect(responses.every(response => response.status === 200)).toBe(true);
		expect(tokens.requests).toHaveLength(1);
		expect(api.calls).toHaveLength(50);
		expect(new Set(authorizations(api))).toEqual(new Set(['Bearer token-1']));
	});

	test('a request to another origin gets no token, and none is fetched for it', async () => {
		const response = await instance.get(`${foreign.origin}/public`);
		expect(response.status).toBe(200);
		expect(authorizations(foreign)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('tricky URLs that resolve elsewhere get no token', async () => {
		const {port} = new URL(api.origin);
		const lookalikes = [
			`http://localhost:${port}/public`, // same server, another origin
			`http://127.0.0.1:${port}@${new URL(foreign.origin).host}/public`, // userinfo trick
		];
		for (const url of lookalikes) {
			await instance.get(url);
		}

		// The second one's userinfo becomes the caller's own Basic header (axios does that); never our token.
		expect(authorizations(api)).toEqual([null]);
		expect(authorizations(foreign)).toEqual([`Basic ${Buffer.from(`127.0.0.1:${port}`).toString('base64')}`]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('with allowAbsoluteUrls: false, an absolute URL elsewhere gets no token (older axios sends it there)', async () => {
		const strict = attachVibrantAuth(axios.create({baseURL: api.origin, allowAbsoluteUrls: false}), {client});
		// axios 1.8.2+ sends it to the baseURL joined with the absolute URL; the token stays home anyway.
		await strict.get(`${foreign.origin}/public`);
		expect([...authorizations(api), ...authorizations(foreign)]).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
		await strict.get('/ok');
		expect(authorizations(api).at(-1)).toBe('Bearer token-1');
	});

	test('a URL object is resolved like a string', async () => {
		// axios takes one only without a baseURL.
		const bare = attachVibrantAuth(axios.create(), {client, origins: [api.origin]});
		await bare.request({url: new URL(`${api.origin}/v1/a`) as unknown as string});
		await bare.request({url: new URL(`${foreign.origin}/public`) as unknown as string});
		expect([authorizations(api), authorizations(foreign)]).toEqual([['Bearer token-1'], [null]]);
	});

	test('an allowed origin with user:password@ gets no token', async () => {
		const {host} = new URL(api.origin);
		await instance.get(`http://user:pw@${host}/public`);
		expect(authorizations(api)).toEqual([`Basic ${Buffer.from('user:pw').toString('base64')}`]);
		expect(tokens.requests).toHaveLength(0);
	});

	test("the caller's auth option is the caller's Authorization", async () => {
		await rejection(instance.get('/private', {auth: {username: 'me', password: 'pw'}}));
		expect(authorizations(api)).toEqual([`Basic ${Buffer.from('me:pw').toString('base64')}`]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('an absolute URL to the allowed origin gets the token', async () => {
		await instance.get(`${api.origin}/other`);
		expect(authorizations(api)).toEqual(['Bearer token-1']);
	});

	test('without a baseURL, only https://api.vibrant-wellness.com is allowed by default', async () => {
		const bare = attachVibrantAuth(axios.create(), {client});
		await bare.get(`${api.origin}/public`);
		expect(authorizations(api)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('the origins option replaces the default', async () => {
		const both = attachVibrantAuth(axios.create({baseURL: api.origin}), {client, origins: [foreign.origin]});
		await both.get(`${foreign.origin}/x`);
		await both.get('/public');
		expect(authorizations(foreign)).toEqual(['Bearer token-1']);
		expect(authorizations(api)).toEqual([null]);
	});

	test('a redirect to another origin does not carry the token; one to the same origin does', async () => {
		const away = await instance.get(`/redirect?to=${encodeURIComponent(`${foreign.origin}/public`)}`);
		expect(away.status).toBe(200);
		expect(authorizations(foreign)).toEqual([null]);
		const home = await instance.get(`/redirect?to=${encodeURIComponent(`${api.origin}/v1/home`)}`);
		expect(home.status).toBe(200);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
	});

	test("the caller's beforeRedirect still runs; a 401 from a redirect target that got no token changes nothing", async () => {
		const redirects: string[] = [];
		const error = await rejection(
			instance.get(`/redirect?to=${encodeURIComponent(`${foreign.origin}/private`)}`, {
				beforeRedirect(options) {
					redirects.push(String(options['href']));
				},
			}),
		);
		expect((error as AxiosError).response?.status).toBe(401);
		expect(redirects).toEqual([`${foreign.origin}/private`]);
		expect(authorizations(foreign)).toEqual([null]);
		// Not retried, and token-1 is still the cached token.
		expect(api.calls).toHaveLength(1);
		await instance.get('/after');
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1']);
		expect(tokens.requests).toHaveLength(1);
	});

	test('whatever axios does on redirects, our beforeRedirect strips the token for an origin that is not allowed', async () => {
		const response = await instance.get('/a');
		const beforeRedirect = response.config.beforeRedirect as (options: Record<string, unknown>, details: unknown) => void;
		const hop = (href: string) => ({href, headers: {Authorization: 'Bearer token-1', 'X-Other': '1'}});
		const away = hop(`${foreign.origin}/x`);
		const subdomain = hop(`${api.origin.replace('127.0.0.1', 'sub.localhost')}/x`);
		const home = hop(`${api.origin}/v1/y`);
		for (const options of [away, subdomain, home]) {
			beforeRedirect(options, {headers: {}, statusCode: 302});
		}

		expect([away.headers, subdomain.headers, home.headers]).toEqual([
			{'X-Other': '1'},
			{'X-Other': '1'},
			{Authorization: 'Bearer token-1', 'X-Other': '1'},
		]);
	});

	test('vibrantAuth: false gets no token and no 401 retry', async () => {
		const error = await rejection(instance.get('/private', {vibrantAuth: false}));
		expect((error as AxiosError).response?.status).toBe(401);
		expect(authorizations(api)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test("the caller's own Authorization wins and is not retried", async () => {
		const error = await rejection(instance.get('/private', {headers: {authorization: 'Bearer mine'}}));
		expect((error as AxiosError).response?.status).toBe(401);
		expect(authorizations(api)).toEqual(['Bearer mine']);
		expect(tokens.requests).toHaveLength(0);
	});

	test("an Authorization from the instance defaults is the caller's too", async () => {
		instance.defaults.headers.common['Authorization'] = 'Bearer default';
		await rejection(instance.get('/private'));
		expect(authorizations(api)).toEqual(['Bearer default']);
		expect(tokens.requests).toHaveLength(0);
	});

	test('when no token can be had, the request is not sent and rejects with the VibrantTokenError', async () => {
		tokens.reply({status: 401, body: {error: 'invalid_client'}});
		const error = await rejection(instance.get('/private'));
		expect(error).toBeInstanceOf(VibrantTokenError);
		expect((error as VibrantTokenError).oauthError).toBe('invalid_client');
		expect(api.calls).toHaveLength(0);
	});
});

describe('the 401 retry', () => {
	test('a rejected token is invalidated and the request retried once with a fresh one', async () => {
		await instance.get('/a');
		api.revoke('Bearer token-1');
		const response = await instance.get('/b');
		expect(response.status).toBe(200);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
		expect(tokens.requests).toHaveLength(2);
		await instance.get('/c');
		expect(tokens.requests).toHaveLength(2);
	});

	test('a token sent with trailing spaces is recovered too (the API sees it trimmed)', async () => {
		tokens.reply((_request, index) => ({body: {access_token: `token-${index + 1}  `}}));
		await instance.get('/a');
		api.revoke('Bearer token-1');
		expect((await instance.get('/b')).status).toBe(200);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
		expect(tokens.requests).toHaveLength(2);
	});

	test("a second 401 rejects with the retry's AxiosError", async () => {
		api.revoke('Bearer token-1');
		api.revoke('Bearer token-2');
		const error = await rejection(instance.get('/a'));
		expect(error).toBeInstanceOf(AxiosError);
		expect((error as AxiosError).response?.status).toBe(401);
		expect((error as AxiosError).config?.headers.get('Authorization')).toBe('Bearer token-2');
		expect(api.calls).toHaveLength(2);
		expect(tokens.requests).toHaveLength(2);
	});

	test('a storm of 50 concurrent 401s causes one token request and 50 successes', async () => {
		await instance.get('/warm');
		api.revoke('Bearer token-1');
		const responses = await Promise.all(Array.from({length: 50}, async (_, index) => instance.get(`/item/${index}`)));
		expect(responses.filter(response => response.status === 200)).toHaveLength(50);
		expect(tokens.requests).toHaveLength(2);
		expect(api.calls).toHaveLength(101);
		expect(authorizations(api).filter(value => value === 'Bearer token-2')).toHaveLength(50);
	});

	test.each([403, 500, 503])('%i is not retried', async status => {
		const error = await rejection(instance.get(`/status/${status}`));
		expect((error as AxiosError).response?.status).toBe(status);
		expect(api.calls).toHaveLength(1);
		expect(tokens.requests).toHaveLength(1);
	});

	test('a JSON body is sent again unchanged', async () => {
		await instance.get('/warm');
		api.revoke('Bearer token-1');
		const response = await instance.post<{body: string}>('/orders', {panel: 'gut', tests: [1, 2]});
		expect(response.data.body).toBe('{"panel":"gut","tests":[1,2]}');
		const posts = api.calls.filter(call => call.method === 'POST');
		expect(posts.map(call => [call.body, call.headers['content-type'], call.headers.authorization])).toEqual([
			['{"panel":"gut","tests":[1,2]}', 'application/json', 'Bearer token-1'],
			['{"panel":"gut","tests":[1,2]}', 'application/json', 'Bearer token-2'],
		]);
	});

	test('a form body is sent again unchanged', async () => {
		await instance.get('/warm');
		api.revoke('Bearer token-1');
		await instance.post('/form', new URLSearchParams({a: '1', b: 'two words'}));
		const posts = api.calls.filter(call => call.method === 'POST');
		expect(posts.map(call => call.body)).toEqual(['a=1&b=two+words', 'a=1&b=two+words']);
		expect(posts.map(call => call.headers['content-type'])).toEqual([
			'application/x-www-form-urlencoded;charset=utf-8',
			'application/x-www-form-urlencoded;charset=utf-8',
		]);
	});

	test('a stream body is not retried, but its 401 still invalidates the token', async () => {
		await instance.get('/warm');
		api.revoke('Bearer token-1');
		const error = await rejection(instance.post('/upload', Readable.from(['chunk-1', 'chunk-2'])));
		expect((error as AxiosError).response?.status).toBe(401);
		expect(api.calls.filter(call => call.method === 'POST')).toHaveLength(1);
		const before = api.calls.length;
		await instance.get('/next');
		// One call: the token was already dropped, so /next did not need a 401 of its own.
		expect(authorizations(api).slice(before)).toEqual(['Bearer token-2']);
		expect(tokens.requests).toHaveLength(2);
	});

	test("the retry's 401 does not drop the fresh token: one token request per rejected request", async () => {
		for (let request = 0; request < 3; request++) {
			await rejection(instance.get('/status/401'));
		}

		expect(api.calls).toHaveLength(6);
		expect(tokens.requests).toHaveLength(4);
	});

	test('the body is not transformed again on the retry', async () => {
		const wrapped = attachVibrantAuth(
			axios.create({baseURL: api.origin, transformRequest: [(data: unknown) => JSON.stringify({wrapped: data})]}),
			{client},
		);
		await wrapped.get('/warm');
		api.revoke('Bearer token-1');
		await wrapped.post('/orders', 'x', {headers: {'Content-Type': 'application/json'}});
		expect(api.calls.filter(call => call.method === 'POST').map(call => call.body)).toEqual(['{"wrapped":"x"}', '{"wrapped":"x"}']);
	});

	test('a caller whose validateStatus accepts 401 gets the 401 untouched', async () => {
		await instance.get('/warm');
		api.revoke('Bearer token-1');
		const response = await instance.get('/a', {validateStatus: () => true});
		expect(response.status).toBe(401);
		expect(api.calls).toHaveLength(2);
		expect(tokens.requests).toHaveLength(1);
	});
});

describe('the warm path', () => {
	/** Whether axios called the adapter (a real http adapter underneath) inside the call to request(). */
	function synchronousDispatch(target: AxiosInstance) {
		const http = axios.getAdapter('http');
		const state = {inside: false, dispatchedInside: [] as boolean[]};
		target.defaults.adapter = async config => {
			state.dispatchedInside.push(state.inside);
			return http(config);
		};

		return {
			async request(path: string) {
				state.inside = true;
				const pending = target.get(path);
				state.inside = false;
				return pending;
			},
			state,
		};
	}

	test('with a token cached, no asynchronous step of ours: axios dispatches within the call', async () => {
		const probe = synchronousDispatch(instance);
		await probe.request('/cold');
		await probe.request('/warm');
		await probe.request('/warm-again');
		// Cold: the interceptor waits for the token. Warm: the whole chain runs synchronously.
		expect(probe.state.dispatchedInside).toEqual([false, true, true]);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
		expect(tokens.requests).toHaveLength(1);
	});

	test("an asynchronous interceptor of the caller's makes the chain asynchronous, and the token still goes on", async () => {
		instance.interceptors.request.use(async config => Promise.resolve(config));
		const probe = synchronousDispatch(instance);
		await probe.request('/cold');
		await probe.request('/warm');
		expect(probe.state.dispatchedInside).toEqual([false, false]);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1']);
	});

	test('a token cleared while a warm request waits in an asynchronous interceptor: the request waits for a fresh one', async () => {
		await instance.get('/warm-up');
		let release!: () => void;
		const gate = new Promise<void>(resolve => {
			release = resolve;
		});
		// Registered after attaching, so it runs before ours, after axios has chosen our warm interceptor.
		instance.interceptors.request.use(async config => {
			await gate;
			return config;
		});
		const pending = instance.get('/after-clear');
		await new Promise(resolve => {
			setImmediate(resolve);
		});
		client.clearCache();
		release();
		expect((await pending).status).toBe(200);
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-2']);
		expect(tokens.requests).toHaveLength(2);
	});
});

describe('attaching', () => {
	const requestHandlers = (target: AxiosInstance) =>
		(target.interceptors.request as unknown as {handlers: unknown[]}).handlers.filter(Boolean).length;

	test('attaching again replaces the earlier attachment', async () => {
		const otherTokens = await startTokenServer();
		try {
			otherTokens.reply({body: {access_token: 'token-99'}});
			const other = new Client({clientId, clientSecret: secret, tokenUrl: otherTokens.url});
			expect(attachVibrantAuth(instance, {client: other})).toBe(instance);
			// One pair: the synchronous interceptor for a warm token, the asynchronous one for a cold one.
			expect(requestHandlers(instance)).toBe(2);
			await instance.get('/a');
			expect(authorizations(api)).toEqual(['Bearer token-99']);
			expect(tokens.requests).toHaveLength(0);
		} finally {
			await otherTokens.close();
		}
	});

	test('detachVibrantAuth removes both interceptors', async () => {
		detachVibrantAuth(instance);
		detachVibrantAuth(instance);
		expect(requestHandlers(instance)).toBe(0);
		expect((instance.interceptors.response as unknown as {handlers: unknown[]}).handlers.filter(Boolean)).toHaveLength(0);
		await rejection(instance.get('/a'));
		expect(authorizations(api)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('works on the default axios export', async () => {
		attachVibrantAuth(axios, {client, origins: [api.origin]});
		try {
			api.revoke('Bearer token-1');
			const response = await axios.get(`${api.origin}/a`);
			expect(response.status).toBe(200);
			expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-2']);
		} finally {
			detachVibrantAuth(axios);
		}

		await rejection(axios.get(`${api.origin}/b`));
		expect(authorizations(api).at(-1)).toBeNull();
	});

	test('a request interceptor added after attaching runs before ours: a URL it points elsewhere gets no token', async () => {
		instance.interceptors.request.use(config => {
			config.baseURL = foreign.origin;
			config.url = '/public';
			return config;
		});
		await instance.get('/a');
		expect(authorizations(foreign)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test("runs alongside the caller's own interceptors", async () => {
		const seen: string[] = [];
		instance.interceptors.request.use(config => {
			config.headers.set('X-Trace', 'abc');
			return config;
		});
		instance.interceptors.response.use(response => {
			seen.push(`response ${response.status}`);
			return response;
		});
		api.revoke('Bearer token-1');
		await instance.get('/a');
		expect(api.calls.map(call => [call.headers['x-trace'], call.headers.authorization])).toEqual([
			['abc', 'Bearer token-1'],
			['abc', 'Bearer token-2'],
		]);
		expect(seen).toEqual(['response 200', 'response 200']);
	});

	test('without a client, one is built from the environment at attach time', () => {
		const saved = {...process.env};
		try {
			delete process.env['VIBRANT_CLIENT_ID'];
			expect(() => attachVibrantAuth(axios.create())).toThrow(VibrantConfigError);
			process.env['VIBRANT_CLIENT_ID'] = 'id';
			process.env['VIBRANT_CLIENT_SECRET'] = 'secret';
			expect(attachVibrantAuth(axios.create())).toBeDefined();
		} finally {
			process.env = saved;
		}
	});

	test.each([
		[{origins: []}, /Option origins must be a non-empty array/],
		[{origins: ['http://api.example.com']}, /origins\[0\] uses plain http: to api.example.com/],
		[{origins: ['not a url']}, /origins\[0\] is not an absolute URL/],
		[{origins: ['ftp://x.example.com']}, /origins\[0\] must be an https: origin/],
		[{client: {getToken: () => Promise.resolve('Bearer x')}}, /Option client must be a Client/],
	])('rejects bad options %j', (options, message) => {
		expect(() => attachVibrantAuth(axios.create(), options as never)).toThrow(message);
	});

	test('rejects a plain-http baseURL to a host that is not loopback', () => {
		expect(() => attachVibrantAuth(axios.create({baseURL: 'http://api.example.com'}), {client})).toThrow(
			/instance.defaults.baseURL uses plain http:/,
		);
	});
});

describe('with axios-retry on the same instance', () => {
	test('a retry that an interceptor of the caller sends elsewhere loses our token', async () => {
		axiosRetry(instance, {retries: 1, retryCondition: error => error.response?.status === 503});
		let attempt = 0;
		instance.interceptors.request.use(config => {
			if (attempt++ > 0) {
				config.baseURL = foreign.origin;
				config.url = '/public';
			}

			return config;
		});
		await instance.get('/status/503');
		expect([authorizations(api), authorizations(foreign)]).toEqual([['Bearer token-1'], [null]]);
	});

	test('its retry carries the current token, not the one of the failed attempt', async () => {
		axiosRetry(instance, {
			retries: 1,
			retryCondition: error => error.response?.status === 503,
			onRetry() {
				client.clearCache();
			},
		});
		await rejection(instance.get('/status/503'));
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-2']);
	});

	test('its retries carry our token, and our 401 retry does not disturb its count', async () => {
		axiosRetry(instance, {retries: 2, retryCondition: error => error.response?.status === 503});
		const error = await rejection(instance.get('/status/503'));
		expect((error as AxiosError).response?.status).toBe(503);
		expect(api.calls).toHaveLength(3);
		expect(new Set(authorizations(api))).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(1);
	});

	test('a 401 is recovered by us, a 503 by axios-retry, in either order of attachment', async () => {
		for (const order of ['ours first', 'theirs first']) {
			const local = await startApiServer();
			const target = axios.create({baseURL: local.origin});
			if (order === 'ours first') {
				attachVibrantAuth(target, {client});
				axiosRetry(target, {retries: 1, retryCondition: error => error.response?.status === 503});
			} else {
				axiosRetry(target, {retries: 1, retryCondition: error => error.response?.status === 503});
				attachVibrantAuth(target, {client});
			}

			client.clearCache();
			await target.get('/warm');
			local.revoke(authorizations(local)[0]!);
			const response = await target.get('/data');
			expect(response.status).toBe(200);
			expect(local.calls).toHaveLength(3);
			expect(authorizations(local)[2]).not.toBe(authorizations(local)[1]);
			await local.close();
		}
	});
});

describe('types', () => {
	test('vibrantAuth is part of axios request config', async () => {
		await rejection(instance.get('/a', {vibrantAuth: false}));
		// @ts-expect-error vibrantAuth is a boolean
		expect((await instance.get('/a', {vibrantAuth: 'no'})).status).toBe(200);
		expect(authorizations(api)).toEqual([null, 'Bearer token-1']);
	});
});
