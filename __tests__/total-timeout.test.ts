import {Client, VibrantConfigError, VibrantTokenError, type ClientOptions} from '../lib/index.js';
import {listen} from './helpers/http-server.js';
import {clientId, expectNoSecret, secret} from './helpers/secrets.js';
import {startTokenServer, tokenReply, type TokenServer} from './helpers/token-server.js';

// totalTimeoutMs: one token request, every attempt and back-off included, never takes longer.

let server: TokenServer;
beforeEach(async () => {
	server = await startTokenServer();
});
afterEach(async () => {
	await server.close();
});

function client(options: ClientOptions): Client {
	return new Client({clientId, clientSecret: secret, tokenUrl: server.url, refreshAheadRatio: false, ...options});
}

/** The rejection of `promise` and how long it took, in ms. */
async function timedFailure(promise: Promise<unknown>): Promise<{error: VibrantTokenError; elapsed: number}> {
	const started = performance.now();
	const error = await promise.then(
		() => {
			throw new Error('expected a rejection');
		},
		(error: unknown) => error,
	);
	expect(error).toBeInstanceOf(VibrantTokenError);
	return {error: error as VibrantTokenError, elapsed: performance.now() - started};
}

describe('totalTimeoutMs', () => {
	test('slow 503s: the request stops at the limit, not after every retry, and the error names the limit', async () => {
		// Each answer takes 400 ms; 10 retries would take over 8 s with their back-offs.
		server.reply({status: 503, body: {error: 'temporarily_unavailable'}, delayMs: 400});
		const {error, elapsed} = await timedFailure(client({retries: 10, totalTimeoutMs: 1000}).getToken());
		expect(elapsed).toBeLessThan(1600);
		expect(server.requests.length).toBeGreaterThanOrEqual(2);
		expect(server.requests.length).toBeLessThanOrEqual(3);
		expect(error.message).toContain('totalTimeoutMs (1000 ms)');
		expect(error.message).toContain(`after ${server.requests.length} attempts`);
		// The last attempt either got its 503 or was cut short by the limit.
		if (error.status === undefined) {
			expect(error.message).toMatch(/Last attempt: .*timed out/);
		} else {
			expect(error.status).toBe(503);
			expect(error.oauthError).toBe('temporarily_unavailable');
		}

		expectNoSecret(error);
	});

	test('each attempt gets what is left: two hanging attempts end at the limit, not at 2 × timeoutMs', async () => {
		server.reply('hang');
		const {error, elapsed} = await timedFailure(client({timeoutMs: 700, retries: 5, totalTimeoutMs: 1000}).getToken());
		// Attempt 1 times out at 700 ms, the back-off is 100–200 ms, attempt 2 gets the rest.
		expect(elapsed).toBeGreaterThanOrEqual(950);
		expect(elapsed).toBeLessThan(1350);
		expect(server.requests).toHaveLength(2);
		expect(error.message).toContain('totalTimeoutMs (1000 ms)');
		expect(error.message).toContain('timed out');
	});

	test('a limit below timeoutMs bounds the first attempt too', async () => {
		server.reply('hang');
		const {error, elapsed} = await timedFailure(client({timeoutMs: 30_000, totalTimeoutMs: 400}).getToken());
		expect(elapsed).toBeGreaterThanOrEqual(380);
		expect(elapsed).toBeLessThan(900);
		expect(server.requests).toHaveLength(1);
		expect(error.message).toContain('gave up after 1 attempt:');
		expect(error.message).toContain('totalTimeoutMs (400 ms)');
	});

	test('a Retry-After longer than what is left is not waited for: the error comes at once and says why', async () => {
		server.reply({status: 503, headers: {'Retry-After': '5'}, body: {error: 'temporarily_unavailable'}});
		const {error, elapsed} = await timedFailure(client({totalTimeoutMs: 2000}).getToken());
		expect(elapsed).toBeLessThan(500);
		expect(server.requests).toHaveLength(1);
		expect(error.status).toBe(503);
		expect(error.message).toContain('Retry-After');
		expect(error.message).toContain('totalTimeoutMs (2000 ms)');
	});

	test('a Retry-After within what is left is waited for, and the retry succeeds', async () => {
		server.reply({status: 429, headers: {'Retry-After': '1'}}, tokenReply);
		const started = performance.now();
		expect(await client({totalTimeoutMs: 5000}).getToken()).toBe('Bearer token-2');
		expect(performance.now() - started).toBeGreaterThanOrEqual(990);
		expect(server.requests).toHaveLength(2);
	});

	test('retries used up within the limit: the ordinary error, which does not blame the limit', async () => {
		server.reply({status: 500, body: {error: 'server_error'}});
		const {error} = await timedFailure(client({retries: 1, totalTimeoutMs: 10_000}).getToken());
		expect(server.requests).toHaveLength(2);
		expect(error.message).toContain('after 2 attempts');
		expect(error.message).not.toContain('totalTimeoutMs');
	});

	test('a body that trickles in after the headers is cut off at the limit (axios stops timing an attempt at the headers)', async () => {
		// The headers at once, then one byte every 200 ms: 5 s for the whole body.
		const body = JSON.stringify({access_token: 'slow-token', token_type: 'bearer', expires_in: 3600}).padEnd(25, ' ');
		let requests = 0;
		const trickling = await listen(async (_request, response) => {
			requests++;
			response.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': String(body.length)});
			for (const character of body) {
				if (response.destroyed) {
					return;
				}

				response.write(character);
				await new Promise(resolve => {
					setTimeout(resolve, 200);
				});
			}

			response.end();
		});
		try {
			const subject = new Client({
				clientId,
				clientSecret: secret,
				tokenUrl: `${trickling.origin}/token`,
				timeoutMs: 500,
				totalTimeoutMs: 1000,
			});
			const {error, elapsed} = await timedFailure(subject.getToken());
			expect(elapsed).toBeGreaterThanOrEqual(950);
			expect(elapsed).toBeLessThan(1600);
			expect(requests).toBe(1);
			expect(error.message).toContain('the total time limit totalTimeoutMs (1000 ms) was reached');
			expect(error.message).toContain('Last attempt: Token request to');
			expect(error.message).toContain('timed out; the server did not answer in time.');
			expectNoSecret(error);
		} finally {
			await trickling.close();
		}
	});

	test('the last attempt cut short by the limit says so, also with retries: 0', async () => {
		server.reply('hang');
		const {error, elapsed} = await timedFailure(client({retries: 0, timeoutMs: 5000, totalTimeoutMs: 600}).getToken());
		expect(elapsed).toBeLessThan(1200);
		expect(server.requests).toHaveLength(1);
		expect(error.message).toMatch(
			/gave up after 1 attempt: the total time limit totalTimeoutMs \(600 ms\) was reached\. Last attempt: .* timed out; the server did not answer in time\.$/,
		);
	});

	test.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2_147_483_648, '1000'])(
		'totalTimeoutMs %p is a VibrantConfigError naming it',
		value => {
			expect(() => client({totalTimeoutMs: value as number})).toThrow(VibrantConfigError);
			expect(() => client({totalTimeoutMs: value as number})).toThrow(/totalTimeoutMs/);
		},
	);
});
