import {setTimeout as delay} from 'node:timers/promises';
import {clockKey} from '../lib/client.js';
import {Client, VibrantTokenError, type ClientOptions} from '../lib/index.js';
import {observeChannels} from '../harness/observe-channels.cjs';
import {waitFor} from '../harness/wait.cjs';
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

/** A client on a clock the test moves (epoch milliseconds): expiry is checked without waiting for it. */
function clockedClient(options: ClientOptions = {}): {subject: Client; clock: {now: number}} {
	const clock = {now: 1_800_000_000_000};
	const subject = new Client({
		clientId,
		clientSecret: secret,
		tokenUrl: server.url,
		...options,
		[clockKey]: () => clock.now,
	} as ClientOptions);
	return {subject, clock};
}

describe('Client.getToken', () => {
	test('100 concurrent cold calls make exactly one token request and all get the same token', async () => {
		const release = server.hold();
		const subject = client();
		const calls = Array.from({length: 100}, async () => subject.getToken());
		await waitFor(() => server.requests.length > 0);
		await delay(20);
		expect(server.requests).toHaveLength(1);
		release();
		expect(await Promise.all(calls)).toEqual(Array.from({length: 100}, () => 'Bearer token-1'));
		expect(server.requests).toHaveLength(1);
	});

	test('a cached token is returned with no request', async () => {
		const subject = client();
		expect(await subject.getToken()).toBe('Bearer token-1');
		for (let call = 0; call < 10; call++) {
			expect(await subject.getToken()).toBe('Bearer token-1');
		}

		expect(server.requests).toHaveLength(1);
	});

	test('clients do not share their caches', async () => {
		expect([await client().getToken(), await client().getToken()]).toEqual(['Bearer token-1', 'Bearer token-2']);
	});

	test('a failed fetch is not cached: every waiting caller gets the error and the next call tries again', async () => {
		server.reply({status: 400, body: {error: 'invalid_request'}}, {body: {access_token: 'second'}});
		const release = server.hold();
		const subject = client();
		const waiting = Array.from({length: 5}, async () => subject.getToken());
		await waitFor(() => server.requests.length > 0);
		release();
		const results = await Promise.allSettled(waiting);
		expect(results.map(result => result.status)).toEqual(Array.from({length: 5}, () => 'rejected'));
		const reasons = new Set(results.map(result => (result as PromiseRejectedResult).reason as unknown));
		expect(reasons.size).toBe(1);
		expect([...reasons][0]).toBeInstanceOf(VibrantTokenError);
		expect(server.requests).toHaveLength(1);
		expect(await subject.getToken()).toBe('Bearer second');
		expect(server.requests).toHaveLength(2);
	});

	test('expires_in 0: the token answers its callers but is not reused', async () => {
		server.reply((_request, index) => ({body: {access_token: `t${index + 1}`, expires_in: 0}}));
		const subject = client();
		expect(await subject.getToken()).toBe('Bearer t1');
		expect(await subject.getToken()).toBe('Bearer t2');
		expect(server.requests).toHaveLength(2);
	});

	test('a short real lifetime: reused for half of it, then refetched', async () => {
		server.reply((_request, index) => ({body: {access_token: `t${index + 1}`, expires_in: 1}}));
		const {subject, clock} = clockedClient({refreshAheadRatio: false});
		expect(await subject.getToken()).toBe('Bearer t1');
		// Half of its 1 s (the 60 s buffer is more than half of it).
		clock.now += 499;
		expect(await subject.getToken()).toBe('Bearer t1');
		clock.now += 1;
		expect(await subject.getToken()).toBe('Bearer t2');
		expect(server.requests).toHaveLength(2);
	});

	test('expires_at from the server wins over expires_in', async () => {
		const {subject, clock} = clockedClient({expiryBufferSeconds: 0, refreshAheadRatio: false});
		const expiresAt = clock.now + 400;
		server.reply((_request, index) => ({body: {access_token: `t${index + 1}`, expires_in: 3600, expires_at: expiresAt / 1000}}));
		expect(await subject.getToken()).toBe('Bearer t1');
		clock.now = expiresAt - 1;
		expect(await subject.getToken()).toBe('Bearer t1');
		clock.now = expiresAt;
		expect(await subject.getToken()).toBe('Bearer t2');
		expect(server.requests).toHaveLength(2);
	});

	// A one-hour expires_in shows which of the two fields the client used.
	test.each([
		['epoch seconds', (expiresAt: number) => expiresAt / 1000],
		['epoch milliseconds', (expiresAt: number) => expiresAt],
	])('expires_at in %s: the token is reused until then and refetched after', async (_form, toWire) => {
		const {subject, clock} = clockedClient({expiryBufferSeconds: 0, refreshAheadRatio: false});
		const expiresAt = clock.now + 1000;
		server.reply((_request, index) => ({body: {access_token: `t${index + 1}`, expires_in: 3600, expires_at: toWire(expiresAt)}}));
		expect(await subject.getToken()).toBe('Bearer t1');
		clock.now = expiresAt - 1;
		expect(await subject.getToken()).toBe('Bearer t1');
		expect(server.requests).toHaveLength(1);
		// t1 until expires_at, then t2 at once (the hour of expires_in plays no part).
		clock.now = expiresAt;
		expect(await subject.getToken()).toBe('Bearer t2');
		expect(server.requests).toHaveLength(2);
	});
});

describe('Client.clearCache', () => {
	test('the next call fetches a fresh token', async () => {
		const subject = client();
		expect(await subject.getToken()).toBe('Bearer token-1');
		subject.clearCache();
		expect(await subject.getToken()).toBe('Bearer token-2');
		expect(await subject.getToken()).toBe('Bearer token-2');
		expect(server.requests).toHaveLength(2);
	});

	test('during a fetch: the waiting caller gets that token, a later caller a new one, and the newer one is kept', async () => {
		const release = server.hold();
		const subject = client();
		const before = subject.getToken();
		await waitFor(() => server.requests.length === 1);
		subject.clearCache();
		const after = subject.getToken();
		await waitFor(() => server.requests.length === 2);
		release();
		expect(await before).toBe('Bearer token-1');
		expect(await after).toBe('Bearer token-2');
		expect(await subject.getToken()).toBe('Bearer token-2');
		expect(server.requests).toHaveLength(2);
	});
});

describe('refresh ahead', () => {
	test('past the ratio, the cached token is returned at once and one background fetch replaces it', async () => {
		server.reply((_request, index) => ({body: {access_token: `t${index + 1}`, expires_in: 2}}));
		// usable life 2 s (no buffer); refresh from 0.5 s.
		const {subject, clock} = clockedClient({expiryBufferSeconds: 0, refreshAheadRatio: 0.25});
		expect(await subject.getToken()).toBe('Bearer t1');
		clock.now += 600;
		// The token server holds its answer: a caller that waited for the refresh would never return.
		const release = server.hold();
		const during = await Promise.all([subject.getToken(), subject.getToken(), subject.getToken()]);
		expect(during).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t1']);
		await waitFor(() => server.requests.length === 2);
		await delay(20);
		expect(server.requests).toHaveLength(2);
		release();
		// Hits keep answering t1 (starting nothing new) until the background answer lands.
		let latest = await subject.getToken();
		for (const deadline = Date.now() + 1000; latest === 'Bearer t1' && Date.now() < deadline;) {
			await delay(5);
			latest = await subject.getToken();
		}

		expect(latest).toBe('Bearer t2');
		expect(server.requests).toHaveLength(2);
	});

	test('a failing background fetch keeps the old token and is no unhandled rejection', async () => {
		const unhandled: unknown[] = [];
		const onUnhandled = (reason: unknown) => unhandled.push(reason);
		process.on('unhandledRejection', onUnhandled);
		// The end of each token request's trace: the background fetch has failed when the second ends.
		let traced = 0;
		const unobserve = observeChannels(channel => {
			traced += channel === 'token:asyncEnd' ? 1 : 0;
		});
		try {
			server.reply({body: {access_token: 'first', expires_in: 2}}, {status: 400, body: {error: 'invalid_client'}});
			const {subject, clock} = clockedClient({expiryBufferSeconds: 0, refreshAheadRatio: 0.25});
			expect(await subject.getToken()).toBe('Bearer first');
			clock.now += 600;
			expect(await subject.getToken()).toBe('Bearer first');
			await waitFor(() => server.requests.length === 2 && traced === 2);
			expect(await subject.getToken()).toBe('Bearer first');
			expect(server.requests).toHaveLength(2);
			await delay(50);
			expect(unhandled).toEqual([]);
		} finally {
			unobserve();
			process.off('unhandledRejection', onUnhandled);
		}
	});
});

describe('errors', () => {
	test('VibrantTokenError is a VibrantAuthError and an Error, with its own name', async () => {
		server.reply({status: 401, body: {error: 'invalid_client'}});
		const error = await client()
			.getToken()
			.catch((error: unknown) => error);
		expect(error).toBeInstanceOf(VibrantTokenError);
		expect(error).toBeInstanceOf(Error);
		expect((error as Error).name).toBe('VibrantTokenError');
		expectNoSecret(error);
	});
});
