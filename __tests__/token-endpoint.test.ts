import axios, {AxiosError, AxiosHeaders, type InternalAxiosRequestConfig} from 'axios';
import {isRetryable, parseRetryAfter, retryDelay} from '../lib/token-retry.js';
import {Client, VibrantTokenError, type ClientOptions} from '../lib/index.js';
import {listen} from './helpers/http-server.js';
import {clientId, expectNoSecret, secret} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

let server: TokenServer;
beforeEach(async () => {
	server = await startTokenServer();
});
afterEach(async () => {
	await server.close();
});

function client(options: ClientOptions = {}): Client {
	return new Client({clientId, clientSecret: secret, tokenUrl: server.url, ...options});
}

async function tokenError(promise: Promise<unknown>): Promise<VibrantTokenError> {
	const error = await promise.then(
		() => {
			throw new Error('expected a VibrantTokenError');
		},
		(error: unknown) => error,
	);
	expect(error).toBeInstanceOf(VibrantTokenError);
	expectNoSecret(error);
	return error as VibrantTokenError;
}

const form = (value: string) => new URLSearchParams({v: value}).toString().slice(2);

describe('the token request', () => {
	test('client_secret_post: a form POST with the credentials in the body', async () => {
		expect(await client().getToken()).toBe('Bearer token-1');
		expect(server.requests).toHaveLength(1);
		const [request] = server.requests;
		expect(request!.method).toBe('POST');
		expect(request!.path).toBe('/v1/oauth2/token');
		expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
		expect(request!.headers.accept).toBe('application/json');
		expect(request!.headers.authorization).toBeUndefined();
		expect(request!.body).toBe(`grant_type=client_credentials&client_id=${form(clientId)}&client_secret=${form(secret)}`);
		expect(Object.fromEntries(request!.form)).toEqual({grant_type: 'client_credentials', client_id: clientId, client_secret: secret});
	});

	test('client_secret_basic: RFC 6749 §2.3.1 encoding in a Basic header, no credentials in the body', async () => {
		expect(await client({authMethod: 'client_secret_basic'}).getToken()).toBe('Bearer token-1');
		const [request] = server.requests;
		expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64')}`);
		expect(request!.body).toBe('grant_type=client_credentials');
	});

	test('scope is sent space-separated, and not at all when there is none', async () => {
		await client({scope: ['labs:read', 'orders:write']}).getToken();
		await client({scope: ''}).getToken();
		expect(server.requests.map(request => request.form.get('scope'))).toEqual(['labs:read orders:write', null]);
	});

	test('any 2xx with a token is a success', async () => {
		server.reply({status: 201, body: {access_token: 'abc', token_type: 'BEARER', expires_in: '3600'}});
		expect(await client().getToken()).toBe('Bearer abc');
	});
});

describe('retries', () => {
	test('5xx twice, then a token: three requests', async () => {
		server.reply({status: 503}, {status: 500, body: 'oops'}, {body: {access_token: 'abc'}});
		expect(await client().getToken()).toBe('Bearer abc');
		expect(server.requests).toHaveLength(3);
	});

	test('5xx beyond the retry budget: retries + 1 requests, then the 5xx as VibrantTokenError', async () => {
		server.reply({status: 502, body: '<html><body>Bad gateway</body></html>'});
		const error = await tokenError(client({retries: 2}).getToken());
		expect(server.requests).toHaveLength(3);
		expect(error.status).toBe(502);
		expect(error.message).toBe(
			`Token endpoint answered 502 (body: "<html><body>Bad gateway</body></html>") after 3 attempts: the token endpoint failed; try again later.`,
		);
	});

	test('429 with Retry-After in seconds is waited for', async () => {
		server.reply({status: 429, headers: {'Retry-After': '1'}}, {body: {access_token: 'abc'}});
		const started = Date.now();
		expect(await client().getToken()).toBe('Bearer abc');
		const elapsed = Date.now() - started;
		expect(server.requests).toHaveLength(2);
		expect(elapsed).toBeGreaterThanOrEqual(950);
		expect(elapsed).toBeLessThan(3000);
	});

	test('503 with Retry-After as an HTTP-date is waited for', async () => {
		server.reply(() => ({status: 503, headers: {'Retry-After': new Date(Date.now() + 2000).toUTCString()}}), {body: {access_token: 'abc'}});
		const started = Date.now();
		expect(await client().getToken()).toBe('Bearer abc');
		// HTTP-dates have whole seconds: the wait is between 1 and 2 s.
		expect(Date.now() - started).toBeGreaterThanOrEqual(900);
		expect(server.requests).toHaveLength(2);
	});

	test('a Retry-After over 30 s is not waited for: the 429 is raised at once', async () => {
		server.reply({status: 429, headers: {'Retry-After': '31'}, body: {error: 'slow_down'}});
		const started = Date.now();
		const error = await tokenError(client().getToken());
		expect(Date.now() - started).toBeLessThan(1000);
		expect(server.requests).toHaveLength(1);
		expect(error.status).toBe(429);
		expect(error.message).toContain('the server asks to wait 31 s (Retry-After), longer than the 30 s this client waits');
	});

	test.each([400, 401, 403, 404])('%i is never retried', async status => {
		server.reply({status, body: {error: 'invalid_request'}});
		const error = await tokenError(client().getToken());
		expect(server.requests).toHaveLength(1);
		expect(error.status).toBe(status);
		expect(error.oauthError).toBe('invalid_request');
	});

	test('a reset socket is retried', async () => {
		server.reply('reset', {body: {access_token: 'abc'}});
		expect(await client().getToken()).toBe('Bearer abc');
		expect(server.requests).toHaveLength(2);
	});

	test('connection refused: retries, then a VibrantTokenError with a sanitised cause', async () => {
		const closed = await listen(() => {});
		await closed.close();
		const started = Date.now();
		const error = await tokenError(new Client({clientId, clientSecret: secret, tokenUrl: `${closed.origin}/token`, retries: 2}).getToken());
		expect(Date.now() - started).toBeLessThan(3000);
		expect(error.status).toBeUndefined();
		expect(error.message).toBe(
			`Could not reach the token endpoint ${closed.origin}/token after 3 attempts (ECONNREFUSED); check tokenUrl / VIBRANT_TOKEN_URL and the network.`,
		);
		expect(error.cause).toBeInstanceOf(Error);
		expect(error.cause).not.toBeInstanceOf(AxiosError);
		expect((error.cause as {code?: string}).code).toBe('ECONNREFUSED');
		expect(Object.keys(error.cause as object)).toEqual(['code']);
	});

	test('a hang beyond timeoutMs times out each attempt', async () => {
		server.reply('hang');
		const started = Date.now();
		const error = await tokenError(client({timeoutMs: 200, retries: 1}).getToken());
		const elapsed = Date.now() - started;
		expect(server.requests).toHaveLength(2);
		expect(elapsed).toBeGreaterThanOrEqual(400);
		expect(elapsed).toBeLessThan(2500);
		expect(error.message).toBe(`Token request to ${server.url} timed out after 2 attempts; the server did not answer in time (timeoutMs).`);
	});
});

describe('untrusted answers', () => {
	test('a redirect is not followed', async () => {
		const elsewhere = await startTokenServer();
		try {
			server.reply({status: 302, headers: {Location: elsewhere.url}});
			const error = await tokenError(client().getToken());
			expect(error.status).toBe(302);
			expect(error.message).toContain('a redirect could carry the client secret to another host');
			expect(elsewhere.requests).toHaveLength(0);
			expect(server.requests).toHaveLength(1);
		} finally {
			await elsewhere.close();
		}
	});

	test('reads at most 1 MiB', async () => {
		server.reply({body: {access_token: 'abc', padding: 'x'.repeat(1024 * 1024)}});
		const error = await tokenError(client().getToken());
		expect(error.message).toBe(`Token endpoint ${server.url} sent a response larger than 1 MiB; refusing to read it.`);
		expect(server.requests).toHaveLength(1);
	});

	test.each([
		[
			'an HTML page',
			'<html><title>Sign in</title></html>',
			'Token endpoint answered 200 but the body is not valid JSON (body: "<html><title>Sign in</title></html>"): it is not a usable OAuth2 token response.',
		],
		['an empty body', '', 'Token endpoint answered 200 but the body is empty: it is not a usable OAuth2 token response.'],
		[
			'truncated JSON',
			'{"access_token": "abc", "expires',
			// A token in a body that is not a usable answer is not quoted either.
			'Token endpoint answered 200 but the body is not valid JSON (body: "{"access_token": "[redacted]", "expires"): it is not a usable OAuth2 token response.',
		],
		[
			'JSON that is not an object',
			'["abc"]',
			'Token endpoint answered 200 but the body is not a JSON object (body: "["abc"]"): it is not a usable OAuth2 token response.',
		],
		[
			'no access_token',
			{token_type: 'bearer', expires_in: 60},
			'Token endpoint answered 200 but the body has no access_token: it is not a usable OAuth2 token response.',
		],
		[
			'a negative expires_in',
			{access_token: 'abc', expires_in: -1},
			'Token endpoint answered 200 but expires_in is not a non-negative number: it is not a usable OAuth2 token response.',
		],
		[
			'an error inside a 200',
			{error: 'invalid_scope', error_description: 'no such scope'},
			'Token endpoint answered 200 with error invalid_scope (no such scope) and no access_token.',
		],
	])('%s in a 200 is a VibrantTokenError, not retried', async (_name, body, message) => {
		server.reply({body});
		const error = await tokenError(client().getToken());
		expect(error.message).toBe(message);
		expect(error.status).toBe(200);
		expect(server.requests).toHaveLength(1);
	});

	test('a 200 with an error field carries it', async () => {
		server.reply({body: {error: 'invalid_scope', error_description: 'no such scope'}});
		const error = await tokenError(client().getToken());
		expect([error.oauthError, error.oauthErrorDescription]).toEqual(['invalid_scope', 'no such scope']);
	});

	test('401 invalid_client says what to check', async () => {
		server.reply({status: 401, body: {error: 'invalid_client', error_description: 'client authentication failed'}});
		const error = await tokenError(client().getToken());
		expect(error).toMatchObject({
			name: 'VibrantTokenError',
			status: 401,
			oauthError: 'invalid_client',
			oauthErrorDescription: 'client authentication failed',
			message:
				'Token endpoint answered 401 invalid_client (client authentication failed): check VIBRANT_CLIENT_ID / VIBRANT_CLIENT_SECRET (or the clientId / clientSecret options) and authMethod.',
		});
	});

	test('a long non-JSON error body is quoted as a short, single-line excerpt', async () => {
		server.reply({status: 400, body: `<html>\n<body>\n${'A'.repeat(500)}</body></html>`});
		const error = await tokenError(client().getToken());
		const quoted = /\(body: "(.*)"\)/.exec(error.message)![1]!;
		expect(quoted).toBe(`<html> <body> ${'A'.repeat(106)}…`);
		expect(error.oauthError).toBeUndefined();
	});

	test('a server that echoes the request never gets the secret into the error', async () => {
		server.reply(request => ({status: 400, body: `bad request: ${request.body} ${String(request.headers.authorization)}`}));
		await tokenError(client().getToken());
		server.reply(request => ({status: 400, body: {error: 'invalid_request', error_description: `echo ${request.body}`}}));
		const error = await tokenError(client({authMethod: 'client_secret_post'}).getToken());
		expect(error.oauthErrorDescription).toContain('client_secret=[redacted]');
		server.reply(request => ({status: 400, body: `echo ${String(request.headers.authorization)}`}));
		const basic = await tokenError(client({authMethod: 'client_secret_basic'}).getToken());
		expect(basic.message).toContain('echo Basic [redacted]');
	});
});

describe('retry policy', () => {
	const config = {headers: new AxiosHeaders()} as InternalAxiosRequestConfig;
	const withStatus = (status: number, headers: Record<string, string> = {}) =>
		new AxiosError('failed', 'ERR_BAD_RESPONSE', config, undefined, {status, statusText: '', headers, config, data: ''});

	test.each([
		['a timeout (ECONNABORTED)', new AxiosError('timeout', 'ECONNABORTED', config), true],
		['a timeout (ETIMEDOUT)', new AxiosError('timeout', 'ETIMEDOUT', config), true],
		['a reset', new AxiosError('reset', 'ECONNRESET', config), true],
		['a cancelled request', new AxiosError('canceled', 'ERR_CANCELED', config), false],
		['a too-large body', new AxiosError('maxContentLength size of 1048576 exceeded', 'ERR_BAD_RESPONSE', config), false],
		['an unknown host', new AxiosError('getaddrinfo ENOTFOUND', 'ENOTFOUND', config), false],
		['500', withStatus(500), true],
		['503', withStatus(503), true],
		['429', withStatus(429), true],
		['429 with Retry-After 30', withStatus(429, {'retry-after': '30'}), true],
		['429 with Retry-After 31', withStatus(429, {'retry-after': '31'}), false],
		['400', withStatus(400), false],
		['401', withStatus(401), false],
		['302', withStatus(302), false],
	])('%s → retry: %p', (_name, error, expected) => {
		expect(isRetryable(error)).toBe(expected);
	});

	test('backoff grows exponentially with jitter and is capped at 5 s', () => {
		const network = new AxiosError('reset', 'ECONNRESET', config);
		for (const [retry, low, high] of [
			[1, 100, 200],
			[2, 200, 400],
			[3, 400, 800],
			[10, 2500, 5000],
		] as const) {
			for (let sample = 0; sample < 50; sample++) {
				const delay = retryDelay(retry, network);
				expect(delay).toBeGreaterThanOrEqual(low);
				expect(delay).toBeLessThanOrEqual(high);
			}
		}
	});

	test('Retry-After replaces the backoff', () => {
		expect(retryDelay(1, withStatus(503, {'retry-after': '7'}))).toBe(7000);
	});

	test('parses Retry-After in seconds or as an HTTP-date', () => {
		const now = Date.parse('Sat, 28 Nov 2026 10:00:00 GMT');
		expect(parseRetryAfter('12', now)).toBe(12_000);
		expect(parseRetryAfter('Sat, 28 Nov 2026 10:00:05 GMT', now)).toBe(5000);
		expect(parseRetryAfter('Sat, 28 Nov 2026 09:00:00 GMT', now)).toBe(0);
		expect([parseRetryAfter('soon', now), parseRetryAfter('', now), parseRetryAfter(undefined, now), parseRetryAfter('-3', now)]).toEqual([
			undefined,
			undefined,
			undefined,
			undefined,
		]);
	});
});

describe("isolation from the application's axios", () => {
	const saved = {...axios.defaults, headers: {...axios.defaults.headers, common: {...axios.defaults.headers.common}}};
	afterEach(() => {
		Object.assign(axios.defaults, saved);
		axios.defaults.headers.common = saved.headers.common;
		for (const key of ['auth', 'params', 'baseURL', 'allowAbsoluteUrls', 'proxy', 'socketPath'] as const) {
			if (!(key in saved)) {
				Reflect.deleteProperty(axios.defaults, key);
			}
		}
	});

	test('nothing set on axios.defaults reaches the token request', async () => {
		const transformed: unknown[] = [];
		axios.defaults.headers.common['Authorization'] = 'Bearer app-wide';
		axios.defaults.headers.common['X-Api-Key'] = 'app-key';
		axios.defaults.auth = {username: 'app', password: 'app-password'};
		axios.defaults.params = {api_key: 'app-key'};
		axios.defaults.baseURL = 'http://127.0.0.1:1/elsewhere';
		axios.defaults.allowAbsoluteUrls = false;
		axios.defaults.validateStatus = () => true;
		axios.defaults.transformRequest = [
			(data: unknown) => {
				transformed.push(data);
				return data;
			},
		];
		const adapterCalls: unknown[] = [];
		axios.defaults.adapter = async config => {
			adapterCalls.push(config.data);
			return Promise.reject(new Error('the application adapter'));
		};
		const proxy = await listen((request, response) => {
			adapterCalls.push(request.url);
			response.end();
		});
		axios.defaults.proxy = {protocol: 'http', host: '127.0.0.1', port: Number(new URL(proxy.origin).port)};
		axios.defaults.socketPath = '/nonexistent/socket';
		server.reply({status: 503}, {body: {access_token: 'abc'}});
		try {
			expect(await client().getToken()).toBe('Bearer abc');
		} finally {
			await proxy.close();
		}

		expect(adapterCalls).toEqual([]);
		expect(server.requests).toHaveLength(2);
		const [request] = server.requests;
		expect(request!.path).toBe('/v1/oauth2/token');
		expect(request!.headers.authorization).toBeUndefined();
		expect(request!.headers['x-api-key']).toBeUndefined();
		expect(request!.form.get('client_secret')).toBe(secret);
		expect(transformed).toEqual([]);
	});
});
