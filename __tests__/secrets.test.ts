import {execFile} from 'node:child_process';
import path from 'node:path';
import {inspect, promisify} from 'node:util';
import axios from 'axios';
import {attachVibrantAuth, Client, VibrantAuthError, type ClientOptions} from '../lib/index.js';
import {listen} from './helpers/http-server.js';
import {clientId, expectNoSecret, renderings, secret, secretForms} from './helpers/secrets.js';
import {type Reply, type RecordedRequest, startTokenServer, type TokenServer} from './helpers/token-server.js';

let server: TokenServer;
beforeAll(async () => {
	server = await startTokenServer();
});
afterAll(async () => {
	await server.close();
});

const echo = (request: RecordedRequest) => `${request.body} ${String(request.headers.authorization)}`;
const failures: Array<[string, Reply | ((request: RecordedRequest) => Reply)]> = [
	['401 invalid_client', {status: 401, body: {error: 'invalid_client', error_description: 'bad secret'}}],
	['400 echoing the request as text', request => ({status: 400, body: echo(request)})],
	[
		'400 echoing the request in error_description',
		request => ({status: 400, body: {error: 'invalid_request', error_description: echo(request)}}),
	],
	['200 echoing the request as HTML', request => ({body: `<p>${echo(request)}</p>`})],
	['200 with an error echoing the request', request => ({body: {error: echo(request)}})],
	['503 echoing the request', request => ({status: 503, body: echo(request)})],
	['429 with a long Retry-After', {status: 429, headers: {'Retry-After': '120'}}],
	['a redirect', {status: 307, headers: {Location: 'https://elsewhere.example/token'}}],
	['a body over 1 MiB', {body: 'x'.repeat(1024 * 1024 + 1)}],
	['400 echoing the raw secret', request => ({status: 400, body: `bad secret ${request.form.get('client_secret') ?? 'none'}`})],
	[
		'400 echoing it percent-encoded',
		request => ({status: 400, body: `bad ${encodeURIComponent(request.form.get('client_secret') ?? '')}`}),
	],
	['400 echoing it in JSON', request => ({status: 400, body: JSON.stringify({message: `bad ${request.form.get('client_secret') ?? ''}`})})],
	[
		'400 echoing it in PHP-style JSON',
		request => ({
			status: 400,
			body: JSON.stringify({m: request.form.get('client_secret') ?? ''})
				.replaceAll('/', '\\/')
				.replaceAll('é', '\\u00e9'),
		}),
	],
	[
		'400 echoing it in HTML',
		request => ({status: 400, body: `<p>${(request.form.get('client_secret') ?? '').replaceAll('&', '&amp;')}</p>`}),
	],
	['a reset socket', 'reset'],
	['a hang', 'hang'],
];

describe('the client secret never leaks', () => {
	test.each(['client_secret_post', 'client_secret_basic'] as const)('from any failing token request (%s)', async authMethod => {
		const errors: unknown[] = [];
		for (const [, reply] of failures) {
			server.reply(reply);
			const options: ClientOptions = {clientId, clientSecret: secret, tokenUrl: server.url, authMethod, retries: 1, timeoutMs: 100};
			errors.push(await new Client(options).getToken().catch((error: unknown) => error));
		}

		expect(errors).toHaveLength(failures.length);
		for (const error of errors) {
			expect(error).toBeInstanceOf(VibrantAuthError);
			expectNoSecret(error);
		}
	});

	test('from the errors of the time limits: the total limit, a Retry-After past it, a request that timed out waiting', async () => {
		const errors: unknown[] = [];
		const options: ClientOptions = {clientId, clientSecret: secret, tokenUrl: server.url, timeoutMs: 1000};
		// The total limit reached while the last attempt's answer echoed the request (the secret).
		server.reply(request => ({status: 503, body: echo(request), delayMs: 150}));
		errors.push(await new Client({...options, totalTimeoutMs: 400}).getToken().catch((error: unknown) => error));
		// A Retry-After longer than what is left, after an answer that echoed the request.
		server.reply(request => ({status: 503, headers: {'Retry-After': '5'}, body: echo(request)}));
		errors.push(await new Client({...options, totalTimeoutMs: 2000}).getToken().catch((error: unknown) => error));
		for (const error of errors) {
			expect(error).toBeInstanceOf(VibrantAuthError);
			expect((error as Error).message).toContain('totalTimeoutMs');
		}

		// axios's own error for a request whose timeout ran out while it waited for a token.
		server.reply('hang');
		const client = new Client({...options, totalTimeoutMs: 2000});
		const api = attachVibrantAuth(axios.create({baseURL: server.origin}), {client, origins: [server.origin]});
		const timedOut: unknown = await api.get('/api', {timeout: 100}).catch((error: unknown) => error);
		expect(axios.isAxiosError(timedOut) && timedOut.code).toBe('ECONNABORTED');
		for (const error of [...errors, timedOut]) {
			expectNoSecret(error);
		}
	});

	test('the check itself finds every form of the secret', () => {
		for (const form of secretForms) {
			const leaky = new Error(`x ${form} y`);
			expect(renderings(leaky).some(text => text.includes(form))).toBe(true);
			// util.inspect escapes backslashes inside an object, so an escaped form is found in messages only.
			if (!form.includes('\\')) {
				expect(() => {
					expectNoSecret(new Error('wrapped', {cause: {config: {data: form}}}));
				}).toThrow();
			}
		}
	});

	test('from configuration errors', () => {
		const attempts: Array<() => unknown> = [
			() => new Client({clientId, clientSecret: secret, tokenUrl: `http://u:${secret}@example.com/`}),
			() => new Client({clientId, clientSecret: secret, tokenUrl: `http://example.com/?s=${secret}`}),
			() => new Client({clientId, clientSecret: secret, tokenUrl: secret}),
			() => new Client({clientId, clientSecret: secret, retries: -1}),
			() => new Client({clientId: '', clientSecret: secret}),
		];
		for (const attempt of attempts) {
			let thrown: unknown;
			try {
				attempt();
			} catch (error) {
				thrown = error;
			}

			expect(thrown).toBeInstanceOf(VibrantAuthError);
			expectNoSecret(thrown);
		}
	});

	test('from util.inspect of the objects we create', () => {
		const client = new Client({clientId, clientSecret: secret, tokenUrl: server.url});
		const api = attachVibrantAuth(axios.create({baseURL: 'https://api.vibrant-wellness.com'}), {client});
		for (const object of [client, api, api.interceptors]) {
			const text = inspect(object, {showHidden: true, depth: 6});
			for (const form of secretForms) {
				expect(text).not.toContain(form);
			}
		}
	});

	test('from NODE_DEBUG=vibrant log lines', async () => {
		const api = await listen((_request, response) => {
			response.end('ok');
		});
		server.reply(
			{status: 503, body: 'busy'},
			request => ({body: {access_token: 'abc', expires_in: 3600, echo: echo(request)}}),
			request => ({status: 401, body: {error: 'invalid_client', error_description: echo(request)}}),
		);
		try {
			const script = `
				const {Client} = require(${JSON.stringify(path.resolve('dist/cjs/index.js'))});
				const options = {clientId: process.env.ID, clientSecret: process.env.SECRET, tokenUrl: process.env.TOKEN_URL, retries: 1};
				(async () => {
					const client = new Client(options);
					console.log(await client.getToken());
					await client.getToken();
					client.clearCache();
					await client.getToken().catch(error => console.log(error.message));
				})();
			`;
			const {stdout, stderr} = await promisify(execFile)(process.execPath, ['-e', script], {
				env: {...process.env, NODE_DEBUG: 'vibrant', ID: clientId, SECRET: secret, TOKEN_URL: server.url},
			});
			expect(stdout).toContain('Bearer abc');
			expect(stdout).toContain('Token endpoint answered 401 invalid_client');
			expect(stderr).toContain('VIBRANT');
			expect(stderr).toContain('requesting a token from');
			expect(stderr).toContain('retrying');
			expect(stderr).toContain('cache miss');
			expect(stderr).toContain('cache cleared');
			expect(stderr).toContain('cache hit');
			for (const form of secretForms) {
				expect(stdout).not.toContain(form);
				expect(stderr).not.toContain(form);
			}
		} finally {
			await api.close();
		}
	});
});
