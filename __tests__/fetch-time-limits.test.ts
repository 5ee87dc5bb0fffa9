import {performance} from 'node:perf_hooks';
import {Client, withVibrantAuth, type VibrantFetch} from '../lib/index.js';
import {type ApiServer, startApiServer} from './helpers/api-server.js';
import {waitFor} from './helpers/deferred.js';
import {listen} from './helpers/http-server.js';
import {clientId, secret} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

// SPEC, round 3: withVibrantAuth's wait for a token ends with the request's AbortSignal, and
// AbortSignal.timeout(ms) works the same, rejecting with its TimeoutError; nothing is sent.

let tokens: TokenServer;
let api: ApiServer;
let authFetch: VibrantFetch;

beforeEach(async () => {
	[tokens, api] = await Promise.all([startTokenServer(), startApiServer()]);
	// The client's own limits are far beyond every bound below: only the signal can end these calls.
	const client = new Client({clientId, clientSecret: secret, tokenUrl: tokens.url, timeoutMs: 20_000, retries: 0});
	authFetch = withVibrantAuth(fetch, {client, origins: [api.origin]});
});
afterEach(async () => {
	await Promise.all([tokens.close(), api.close()]);
});

async function timedRejection(call: () => Promise<unknown>): Promise<{error: unknown; elapsedMs: number}> {
	const started = performance.now();
	const error = await call().then(
		() => {
			throw new Error('expected a rejection');
		},
		(error_: unknown) => error_,
	);
	return {error, elapsedMs: performance.now() - started};
}

// 200 ms of signal, and slack for a loaded 2-core machine; the broken behaviour waits for a token
// endpoint that never answers (20 s).
const signalMs = 200;
const boundMs = 600;

describe('withVibrantAuth and AbortSignal.timeout', () => {
	test.each([
		['in init', (url: string) => authFetch(url, {signal: AbortSignal.timeout(signalMs)})],
		['on a Request', (url: string) => authFetch(new Request(url, {method: 'POST', body: 'x', signal: AbortSignal.timeout(signalMs)}))],
	])('%s: a hanging token request rejects with its TimeoutError, and nothing is sent', async (_name, call) => {
		tokens.reply('hang');
		const {error, elapsedMs} = await timedRejection(async () => call(`${api.origin}/v1/a`));
		expect(error).toBeInstanceOf(DOMException);
		expect(error).toMatchObject({name: 'TimeoutError'});
		expect(elapsedMs).toBeGreaterThanOrEqual(signalMs - 5);
		expect(elapsedMs).toBeLessThan(boundMs);
		expect(api.calls).toHaveLength(0);
		expect(tokens.requests).toHaveLength(1);
	});

	test('the 401 retry waits for its fresh token within the same signal', async () => {
		await authFetch(`${api.origin}/v1/warm-up`);
		api.revoke('Bearer token-1');
		tokens.reply('hang');
		const {error, elapsedMs} = await timedRejection(async () => authFetch(`${api.origin}/v1/a`, {signal: AbortSignal.timeout(signalMs)}));
		expect(error).toMatchObject({name: 'TimeoutError'});
		expect(elapsedMs).toBeLessThan(boundMs);
		// The first attempt went out with token-1; the retry never did.
		expect(api.calls.map(call => [call.path, call.headers.authorization])).toEqual([
			['/v1/warm-up', 'Bearer token-1'],
			['/v1/a', 'Bearer token-1'],
		]);
		expect(tokens.requests).toHaveLength(2);
	});

	test("one caller's timeout does not cancel the shared token request: a concurrent request gets its token", async () => {
		const release = tokens.hold();
		const timedOut = timedRejection(async () => authFetch(`${api.origin}/v1/a`, {signal: AbortSignal.timeout(signalMs)}));
		const patient = authFetch(`${api.origin}/v1/b`);
		await waitFor(() => tokens.requests.length === 1);
		expect((await timedOut).error).toMatchObject({name: 'TimeoutError'});
		release();
		expect(await (await patient).json()).toMatchObject({authorization: 'Bearer token-1'});
		expect(tokens.requests).toHaveLength(1);
		expect(api.calls.map(call => call.path)).toEqual(['/v1/b']);
	});
});

describe('a discarded body that stalls', () => {
	test('a 401 whose body stalls halfway is given up after 1 s, and the retry is sent', async () => {
		let calls = 0;
		const stalling = await listen((request, response) => {
			calls++;
			if (request.headers.authorization === 'Bearer token-1') {
				// 100 bytes announced, 10 sent, then nothing: the connection stays open.
				response.writeHead(401, {'Content-Type': 'text/plain', 'Content-Length': '100'});
				response.write('0123456789');
				return;
			}

			response.writeHead(200).end('ok');
		});
		try {
			const client = new Client({clientId, clientSecret: secret, tokenUrl: tokens.url});
			const wrapped = withVibrantAuth(fetch, {client, origins: [stalling.origin]});
			const started = performance.now();
			const response = await wrapped(`${stalling.origin}/a`);
			expect(await response.text()).toBe('ok');
			// The drain gives up after 1 s; without that limit the call would wait for ever.
			expect(performance.now() - started).toBeLessThan(2500);
			expect(calls).toBe(2);
			expect(tokens.requests).toHaveLength(2);
		} finally {
			await stalling.close();
		}
	});
});
