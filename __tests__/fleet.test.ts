import {freePort} from '../harness/ports.cjs';
import {
	type KeyDump,
	type RedisCluster,
	type RedisServer,
	commandStats,
	dumpKeys,
	hasRedisServer,
	startRedisCluster,
	startRedisServer,
} from '../harness/redis-server.cjs';
import {sleep, waitFor} from '../harness/wait.cjs';
import {type ApiServer, startApiServer} from './helpers/api-server.js';
import {describeWithRedis} from './helpers/describe-with-redis.js';
import {type FleetWorker, type Outcome, type WorkerSetup, fleetPool, startWorker} from './helpers/fleet.js';
import {clientId, secret, secretForms} from './helpers/secrets.js';
import {type TokenServer, startTokenServer, tokenReply} from './helpers/token-server.js';

// A fleet is separate Node processes (the built package, each with its own Redis client) sharing
// one real redis-server; the token endpoint counts what the whole fleet asked for. The processes
// are a pool forked once for the file, each given a new Client and Redis connection per test; the
// tests share one redis-server, each in a database of its own (so key names stay the defaults).
jest.setTimeout(60_000);

const pool = fleetPool();
let redis: RedisServer;
let tokens: TokenServer;
let api: ApiServer;
/** The current test's database on `redis`. */
let db = 0;
/** The cluster forms in the background while the first tests run. */
let clusterStarting: Promise<RedisCluster> | undefined;

beforeAll(async () => {
	if (hasRedisServer()) {
		clusterStarting = startRedisCluster();
		// Awaited, and its failure reported, by the cluster's tests.
		clusterStarting.catch(() => {});
		[redis] = await Promise.all([startRedisServer({args: ['--databases', '64']}), pool.start(8)]);
	}
});

afterAll(async () => {
	if (hasRedisServer()) {
		const cluster = await clusterStarting!.catch(() => undefined);
		await Promise.all([pool.stop(), redis.stop(), cluster?.stop()]);
	}
});

async function everyProcess<T>(fleet: readonly FleetWorker[], command: string, args?: object): Promise<T[]> {
	return Promise.all(fleet.map(async worker => worker.call<T>(command, args)));
}

/** Until every process has `count` calls in flight: they have all asked for a token. */
async function waitForInFlight(fleet: readonly FleetWorker[], count: number): Promise<void> {
	await everyProcess(fleet, 'inFlight', {atLeast: count});
}

/** The values the outcomes carry, or their error names: what a test expects all callers agree on. */
function valuesOf(outcomes: readonly Outcome[]): Set<string | number | undefined> {
	return new Set(outcomes.map(outcome => (outcome.ok ? outcome.value : outcome.name)));
}

/**
 * No process saw an unhandled rejection or an uncaught exception, and no message any process
 * published on the package's channels holds a secret or a token the endpoint issued.
 */
async function expectNoProblems(fleet: readonly FleetWorker[]): Promise<void> {
	const messages = (await everyProcess<Array<{channel: string; text: string}>>(fleet, 'messages')).flat();
	expect(fleet.flatMap(worker => worker.problems)).toEqual([]);
	expect(messages.length).toBeGreaterThan(0);
	const issued = tokens.requests.map((_request, index) => `token-${index + 1}`);
	for (const {text} of messages) {
		for (const form of [...secretForms, 'fleet-secret', 'cluster-secret', ...issued]) {
			expect(text).not.toContain(form);
		}
	}
}

/** Polls the test's database until `condition` holds for its keys (the holder writes and unlocks after answering). */
async function waitForKeys(condition: (keys: KeyDump[]) => boolean): Promise<void> {
	try {
		await waitFor(async () => condition(await dumpKeys(redis.admin)));
	} catch {
		throw new Error(`waitForKeys: ${JSON.stringify(await dumpKeys(redis.admin))}`);
	}
}

/** Until every process's store back-off is over (the end of the latest `failed` event's backoffMs). */
async function waitForBackoffs(fleet: readonly FleetWorker[]): Promise<void> {
	for (;;) {
		const counts = await everyProcess<{storeResumesAt: number}>(fleet, 'counts');
		const resumesAt = Math.max(...counts.map(count => count.storeResumesAt));
		if (Date.now() > resumesAt) {
			return;
		}

		await sleep(resumesAt - Date.now() + 20);
	}
}

const tokenKeys = (keys: KeyDump[]) => keys.filter(entry => !entry.key.endsWith(':lock'));
const oneEntryNoLock = (keys: KeyDump[]) => keys.length === 1 && !keys[0]!.key.endsWith(':lock');

describeWithRedis('a fleet of processes sharing one Redis', () => {
	beforeEach(async () => {
		db++;
		[tokens, api] = await Promise.all([startTokenServer(), startApiServer(), redis.admin.select(db)]);
	});

	afterEach(async () => {
		await pool.release();
		await Promise.all([tokens.close(), api.close()]);
	});

	const setup = (changes: {client?: object; store?: object; kind?: 'ioredis' | 'node-redis'} = {}): WorkerSetup => ({
		redis: {kind: changes.kind ?? 'ioredis', ports: [redis.port], db},
		client: {clientId: 'fleet-client', clientSecret: 'fleet-secret', tokenUrl: tokens.url, ...changes.client},
		store: changes.store ?? {},
		apiOrigin: api.origin,
	});

	test.each(['ioredis', 'node-redis'] as const)('cold start, 6 processes x 20 callers: one token request in all (%s)', async kind => {
		const fleet = await pool.take(6, setup({kind}));
		const release = tokens.hold();
		const pending = everyProcess<Outcome[]>(fleet, 'tokens', {count: 20});
		// Every caller of every process waits, behind the one token request the endpoint holds.
		await waitForInFlight(fleet, 20);
		await waitFor(() => tokens.requests.length === 1);
		release();
		const outcomes = (await pending).flat();
		expect(outcomes).toHaveLength(120);
		expect(valuesOf(outcomes)).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(1);
		await expectNoProblems(fleet);
	});

	test('a process that starts later adopts the token: no token request', async () => {
		const fleet = await pool.take(3, setup());
		await everyProcess(fleet, 'tokens', {count: 5});
		await waitForKeys(oneEntryNoLock);
		const late = (await pool.take(1, setup()))[0]!;
		expect(valuesOf(await late.call('tokens', {count: 10}))).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(1);
		await expectNoProblems([...fleet, late]);
	});

	test('clients that differ in scope, client id or token URL never share an entry', async () => {
		const groups = [
			setup({client: {scope: 'read'}}),
			setup({client: {scope: 'write'}}),
			setup({client: {clientId: 'other-client'}}),
			setup({client: {tokenUrl: `${tokens.origin}/other/oauth2/token`}}),
		];
		const fleet = await Promise.all(groups.map(async group => pool.take(2, group)));
		const outcomes = await Promise.all(fleet.map(async pair => everyProcess<Outcome[]>(pair, 'tokens', {count: 10})));
		// One request per distinct configuration, and each pair agrees on its own token.
		expect(tokens.requests).toHaveLength(4);
		const perGroup = outcomes.map(pair => valuesOf(pair.flat()));
		expect(perGroup.every(values => values.size === 1)).toBe(true);
		expect(new Set(perGroup.map(values => [...values][0]))).toEqual(
			new Set(['Bearer token-1', 'Bearer token-2', 'Bearer token-3', 'Bearer token-4']),
		);
		expect(
			new Set(tokens.requests.map(request => `${request.path} ${request.form.get('client_id')} ${request.form.get('scope')}`)),
		).toEqual(
			new Set([
				'/v1/oauth2/token fleet-client read',
				'/v1/oauth2/token fleet-client write',
				'/v1/oauth2/token other-client null',
				'/other/oauth2/token fleet-client null',
			]),
		);
		await waitForKeys(keys => tokenKeys(keys).length === 4);
		await expectNoProblems(fleet.flat());
	});

	test('Redis holds no form of the secret or the token, and every key has a TTL', async () => {
		const fleet = await pool.take(2, setup({client: {clientId, clientSecret: secret}, store: {lockTtlMs: 4000}}));
		// Catch the lock while its holder fetches, then the entry once it is written.
		const release = tokens.hold();
		const pending = everyProcess(fleet, 'tokens', {count: 5});
		await waitForKeys(keys => keys.some(entry => entry.key.endsWith(':lock')));
		const during = await dumpKeys(redis.admin);
		release();
		await pending;
		await waitForKeys(oneEntryNoLock);
		const after = await dumpKeys(redis.admin);
		const lock = during.find(entry => entry.key.endsWith(':lock'))!;
		expect(lock.pttl).toBeGreaterThan(0);
		expect(lock.pttl).toBeLessThanOrEqual(4000);
		expect(after[0]!.pttl).toBeGreaterThan(3_500_000);
		expect(after[0]!.pttl).toBeLessThanOrEqual(3_600_000);
		expect(after[0]!.key).toMatch(/^vibrant-oauth2-client:\{[\w-]+\}$/);
		const token = 'token-1';
		const forbidden = [
			...secretForms,
			clientId,
			token,
			Buffer.from(token).toString('base64'),
			Buffer.from(`Bearer ${token}`).toString('base64'),
		];
		for (const entry of [...during, ...after]) {
			for (const text of [entry.key, entry.value]) {
				for (const form of forbidden) {
					expect(text).not.toContain(form);
				}
			}
		}

		await expectNoProblems(fleet);
	});

	test('a process with another secret misses the entry, without an error', async () => {
		const [first] = await pool.take(1, setup());
		await first!.call('tokens', {count: 3});
		await waitForKeys(oneEntryNoLock);
		const rotated = (await pool.take(1, setup({client: {clientSecret: 'rotated-secret'}})))[0]!;
		expect(valuesOf(await rotated.call('tokens', {count: 3}))).toEqual(new Set(['Bearer token-2']));
		expect(tokens.requests).toHaveLength(2);
		await expectNoProblems([first!, rotated]);
	});

	test('a tampered entry is a miss, and the next token replaces it', async () => {
		const [first] = await pool.take(1, setup());
		await first!.call('tokens', {count: 1});
		await waitForKeys(oneEntryNoLock);
		const [entry] = await dumpKeys(redis.admin);
		const middle = Math.floor(entry!.value.length / 2);
		const flipped = entry!.value[middle] === 'A' ? 'B' : 'A';
		await redis.admin.call('SET', entry!.key, `${entry!.value.slice(0, middle)}${flipped}${entry!.value.slice(middle + 1)}`, 'KEEPTTL');
		const second = (await pool.take(1, setup()))[0]!;
		expect(valuesOf(await second.call('tokens', {count: 5}))).toEqual(new Set(['Bearer token-2']));
		expect(tokens.requests).toHaveLength(2);
		// The entry now holds token-2, readable again: a third process adopts it.
		await waitForKeys(keys => oneEntryNoLock(keys) && keys[0]!.value !== entry!.value);
		const third = (await pool.take(1, setup()))[0]!;
		expect(valuesOf(await third.call('tokens', {count: 5}))).toEqual(new Set(['Bearer token-2']));
		expect(tokens.requests).toHaveLength(2);
		await expectNoProblems([first!, second, third]);
	});

	test('a token revoked under load on 6 processes: one token request in all, no failure', async () => {
		const fleet = await pool.take(6, setup());
		await everyProcess(fleet, 'requests', {count: 1});
		expect(tokens.requests).toHaveLength(1);
		api.revoke('Bearer token-1');
		const callsBefore = api.calls.length;
		const outcomes = (await everyProcess<Outcome[]>(fleet, 'requests', {count: 25})).flat();
		expect(outcomes).toHaveLength(150);
		expect(valuesOf(outcomes)).toEqual(new Set([200]));
		expect(tokens.requests).toHaveLength(2);
		const calls = api.calls.slice(callsBefore);
		expect(calls.filter(call => call.headers.authorization === 'Bearer token-2')).toHaveLength(150);
		expect(calls.filter(call => call.headers.authorization === 'Bearer token-1')).toHaveLength(150);
		await expectNoProblems(fleet);
	});

	test('clearCache() fetches from the endpoint, not the store, and the new token replaces the entry', async () => {
		const fleet = await pool.take(3, setup());
		await everyProcess(fleet, 'tokens', {count: 2});
		await waitForKeys(oneEntryNoLock);
		const [before] = await dumpKeys(redis.admin);
		await fleet[0]!.call('clear');
		expect(valuesOf(await fleet[0]!.call('tokens', {count: 5}))).toEqual(new Set(['Bearer token-2']));
		expect(tokens.requests).toHaveLength(2);
		await waitForKeys(keys => oneEntryNoLock(keys) && keys[0]!.value !== before!.value);
		// The others keep serving their own copy (no store command on the hot path)…
		expect(valuesOf(await fleet[1]!.call('tokens', {count: 2}))).toEqual(new Set(['Bearer token-1']));
		// …and a process that needs a token now adopts the new one.
		const late = (await pool.take(1, setup()))[0]!;
		expect(valuesOf(await late.call('tokens', {count: 2}))).toEqual(new Set(['Bearer token-2']));
		expect(tokens.requests).toHaveLength(2);
		await expectNoProblems([...fleet, late]);
	});

	test('a request served from the process copy sends no command to Redis', async () => {
		const fleet = await pool.take(3, setup());
		await everyProcess(fleet, 'requests', {count: 2});
		await waitForKeys(oneEntryNoLock);
		await redis.admin.call('CONFIG', 'RESETSTAT');
		await everyProcess(fleet, 'tokens', {count: 200});
		await everyProcess(fleet, 'requests', {count: 50});
		const stats = await commandStats(redis.admin);
		// Only the test's own admin commands.
		expect(Object.keys(stats).filter(command => !['info', 'config|resetstat'].includes(command))).toEqual([]);
		expect(tokens.requests).toHaveLength(1);
		await expectNoProblems(fleet);
	});

	test('refresh ahead across processes: one token request per cycle for the fleet, and no caller waits', async () => {
		tokens.reply((_request, index) => ({body: {access_token: `token-${index + 1}`, expires_in: 2}}));
		const fleet = await pool.take(4, setup({client: {expiryBufferSeconds: 0, refreshAheadRatio: 0.5}}));
		await everyProcess(fleet, 'tokens', {count: 1});
		// Tokens live 2 s and are refreshed after 1 s: about 4 refresh cycles in 4.2 s.
		const runs = await everyProcess<{tokens: string[]; slowestMs: number; failures: number; calls: number}>(fleet, 'steady', {
			durationMs: 4200,
			intervalMs: 20,
		});
		expect(runs.map(run => run.failures)).toEqual([0, 0, 0, 0]);
		// One process alone makes 1 + 4 requests here; without the store the fleet would make about 4 x 4 + 1.
		expect(tokens.requests.length).toBeGreaterThanOrEqual(4);
		expect(tokens.requests.length).toBeLessThanOrEqual(6);
		for (const run of runs) {
			expect(run.slowestMs).toBeLessThan(100);
		}

		await expectNoProblems(fleet);
	});

	test("a waiter's abort ends its wait on another process's lock at once; the holder's token is adopted afterwards", async () => {
		const [holder, waiter] = await pool.take(2, setup());
		const release = tokens.hold();
		const holding = holder!.call<Outcome[]>('tokens', {count: 3});
		await waitFor(() => tokens.requests.length === 1);
		await waitForKeys(keys => keys.some(entry => entry.key.endsWith(':lock')));
		const started = performance.now();
		const [aborted] = await waiter!.call<Outcome[]>('tokens', {count: 1, abortAfterMs: 300});
		const elapsed = performance.now() - started;
		expect(aborted).toMatchObject({ok: false, name: 'TimeoutError'});
		// The held token request would keep it waiting for ever; the signal ends the wait at 300 ms.
		expect(elapsed).toBeGreaterThanOrEqual(290);
		expect(elapsed).toBeLessThan(1000);
		release();
		expect(valuesOf(await holding)).toEqual(new Set(['Bearer token-1']));
		expect(valuesOf(await waiter!.call<Outcome[]>('tokens', {count: 2}))).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(1);
		await expectNoProblems([holder!, waiter!]);
	});

	test('8 processes behind a lock holder whose fetch fails after F: the last is done within 2.5 × F, and no failure is adopted', async () => {
		const fetchMs = 1000;
		let holderStarted: number | undefined;
		tokens.reply(() => {
			holderStarted ??= performance.now();
			return {status: 503, body: {error: 'temporarily_unavailable'}, delayMs: fetchMs};
		});
		const fleet = await pool.take(8, setup({client: {retries: 0}}));
		const outcomes = (await everyProcess<Outcome[]>(fleet, 'tokens', {count: 5})).flat();
		const elapsed = performance.now() - holderStarted!;
		expect(outcomes).toHaveLength(40);
		expect(outcomes.every(outcome => !outcome.ok && outcome.name === 'VibrantTokenError' && outcome.status === 503)).toBe(true);
		// The holder's request, then each waiting process its own, at once (one after another: 8 × F).
		expect(tokens.requests).toHaveLength(8);
		expect(elapsed).toBeLessThan(2.5 * fetchMs);
		// The holder left a marker that says nothing but that it failed, which dies within lockTtlMs; no token entry.
		const keys = await dumpKeys(redis.admin);
		expect(keys.filter(entry => !entry.key.endsWith('.failed}'))).toEqual([]);
		const [marker] = keys;
		expect(marker!.key).toMatch(/^vibrant-oauth2-client:\{[\w-]+\.failed\}$/);
		expect(marker!.value).toMatch(/^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/);
		expect(marker!.pttl).toBeGreaterThan(0);
		expect(marker!.pttl).toBeLessThanOrEqual(5000);
		await expectNoProblems(fleet);
	});

	test('clearCache() then getToken() in one process: the next process to read Redis adopts the new token, even with writes held back (10 rounds, ioredis and node-redis)', async () => {
		// Each fetch after a clear holds Redis's writes back for 150 ms (reads go on): a token written
		// after getToken() resolved, instead of before, would leave the cleared one there to adopt.
		tokens.reply((_request, index) => {
			if (index > 0) {
				void redis.admin.call('CLIENT', 'PAUSE', '150', 'WRITE');
			}

			return {body: {access_token: `token-${index + 1}`, token_type: 'bearer', expires_in: 3600}, delayMs: 20};
		});
		const [clearing] = await pool.take(1, setup({kind: 'ioredis'}));
		const [reading] = await pool.take(1, setup({kind: 'node-redis'}));
		await clearing!.call('tokens', {count: 1});
		for (let round = 0; round < 10; round++) {
			const [renewed] = await clearing!.call<Outcome[]>('clearThenTokens', {count: 1});
			expect(renewed!.ok).toBe(true);
			const requests = tokens.requests.length;
			expect(await reading!.call<Outcome[]>('freshTokens', {count: 1})).toEqual([renewed]);
			expect(tokens.requests).toHaveLength(requests);
		}

		expect(tokens.requests).toHaveLength(11);
		await expectNoProblems([clearing!, reading!]);
	});

	test('the lock holder killed with SIGKILL mid-fetch delays the others by lockTtlMs at most', async () => {
		const lockTtlMs = 1000;
		tokens.reply('hang', tokenReply);
		// The holder is a process of its own: it does not come back to the pool.
		const [holder, others] = await Promise.all([startWorker(setup({store: {lockTtlMs}})), pool.take(2, setup({store: {lockTtlMs}}))]);
		try {
			void holder.call('tokens', {count: 5}).catch(() => {});
			await waitForKeys(keys => keys.some(entry => entry.key.endsWith(':lock')));
			await waitFor(() => tokens.requests.length > 0);
			const started = Date.now();
			const pending = everyProcess<Outcome[]>(others, 'tokens', {count: 10});
			await waitForInFlight(others, 10);
			holder.child.kill('SIGKILL');
			const outcomes = (await pending).flat();
			const elapsed = Date.now() - started;
			expect(valuesOf(outcomes)).toEqual(new Set(['Bearer token-2']));
			expect(tokens.requests).toHaveLength(2);
			expect(elapsed).toBeLessThan(lockTtlMs + 1500);
			await expectNoProblems(others);
		} finally {
			await holder.stop();
		}
	});

	test('a failing endpoint: no process adopts a failure, none hangs, and sharing resumes with the endpoint', async () => {
		tokens.reply({status: 500, body: {error: 'server_error'}});
		const fleet = await pool.take(4, setup({client: {retries: 0}}));
		const started = Date.now();
		const outcomes = (await everyProcess<Outcome[]>(fleet, 'tokens', {count: 5})).flat();
		expect(outcomes).toHaveLength(20);
		expect(outcomes.every(outcome => !outcome.ok && outcome.name === 'VibrantTokenError' && outcome.status === 500)).toBe(true);
		// Each process made its own attempt: a failure is not handed to the waiting processes.
		expect(tokens.requests).toHaveLength(4);
		expect(Date.now() - started).toBeLessThan(5000);
		tokens.reply(tokenReply);
		expect(valuesOf((await everyProcess<Outcome[]>(fleet, 'tokens', {count: 5})).flat())).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(5);
		await expectNoProblems(fleet);
	});

	test('Redis refused from the start: each process fetches for itself, promptly, without an error', async () => {
		// A loopback port where nothing listens.
		const down = {ports: [await freePort()]};
		const fleet = (
			await Promise.all([
				pool.take(3, {...setup(), redis: {kind: 'ioredis', awaitConnect: false, ...down}}),
				pool.take(1, {...setup(), redis: {kind: 'node-redis', awaitConnect: false, ...down}}),
			])
		).flat();
		const started = Date.now();
		const outcomes = await everyProcess<Outcome[]>(fleet, 'tokens', {count: 10});
		expect(Date.now() - started).toBeLessThan(3000);
		for (const own of outcomes) {
			expect(own.every(outcome => outcome.ok)).toBe(true);
			expect(valuesOf(own).size).toBe(1);
		}

		expect(tokens.requests).toHaveLength(4);
		await expectNoProblems(fleet);
	});

	test('Redis stopped (SIGSTOP) while tokens are needed: each process fetches for itself; after SIGCONT sharing resumes', async () => {
		// A redis-server of its own: the others' must never stop.
		const stopped = await startRedisServer();
		try {
			const fleet = await pool.take(3, {...setup({store: {commandTimeoutMs: 300}}), redis: {kind: 'ioredis', ports: [stopped.port]}});
			stopped.pause();
			try {
				const started = Date.now();
				const outcomes = (await everyProcess<Outcome[]>(fleet, 'requests', {count: 10})).flat();
				expect(valuesOf(outcomes)).toEqual(new Set([200]));
				expect(tokens.requests).toHaveLength(3);
				expect(Date.now() - started).toBeLessThan(3000);
			} finally {
				stopped.resume();
			}

			// Past every process's back-off (1 s after a first failure, 2 s after a second), a
			// revocation of every token is one request.
			await waitForBackoffs(fleet);
			for (const index of [1, 2, 3]) {
				api.revoke(`Bearer token-${index}`);
			}

			const outcomes = (await everyProcess<Outcome[]>(fleet, 'requests', {count: 10})).flat();
			expect(valuesOf(outcomes)).toEqual(new Set([200]));
			expect(tokens.requests).toHaveLength(4);
			await expectNoProblems(fleet);
		} finally {
			await stopped.stop();
		}
	});
});

describeWithRedis('a fleet on a Redis Cluster of three masters', () => {
	let cluster: RedisCluster;

	beforeAll(async () => {
		cluster = await clusterStarting!;
	});

	beforeEach(async () => {
		[tokens, api] = await Promise.all([startTokenServer(), startApiServer()]);
	});

	afterEach(async () => {
		await pool.release();
		await Promise.all([tokens.close(), api.close()]);
	});

	test.each(['ioredis-cluster', 'node-redis-cluster'] as const)(
		'6 processes x 20 callers: one token request, and a revocation is one more (%s)',
		async kind => {
			const fleet = await pool.take(6, {
				redis: {kind, ports: cluster.nodes.map(node => node.port)},
				client: {clientId: `cluster-${kind}`, clientSecret: 'cluster-secret', tokenUrl: tokens.url},
				apiOrigin: api.origin,
			});
			const outcomes = (await everyProcess<Outcome[]>(fleet, 'requests', {count: 20})).flat();
			expect(valuesOf(outcomes)).toEqual(new Set([200]));
			expect(tokens.requests).toHaveLength(1);
			api.revoke('Bearer token-1');
			const again = (await everyProcess<Outcome[]>(fleet, 'requests', {count: 20})).flat();
			expect(valuesOf(again)).toEqual(new Set([200]));
			expect(tokens.requests).toHaveLength(2);
			await expectNoProblems(fleet);
		},
	);
});
