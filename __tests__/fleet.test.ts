import {type FleetWorker, type Outcome, type WorkerSetup, startFleet, stopFleets} from './helpers/fleet.js';
import {type RedisServer, describeWithRedis, startRedisServer} from './helpers/redis-server.js';
import {type TokenServer, startTokenServer} from './helpers/token-server.js';

jest.setTimeout(60_000);

let redis: RedisServer;
let tokens: TokenServer;

describeWithRedis('a fleet of processes sharing one Redis', () => {
	beforeEach(async () => {
		[redis, tokens] = await Promise.all([startRedisServer(), startTokenServer()]);
	});

	afterEach(async () => {
		await stopFleets();
		await Promise.all([redis.stop(), tokens.close()]);
	});

	const setup = (kind: 'ioredis' | 'node-redis' = 'ioredis'): WorkerSetup => ({
		redis: {kind, ports: [redis.port]},
		client: {clientId: 'fleet-client', clientSecret: 'fleet-secret', tokenUrl: tokens.url},
	});

	async function everyProcess<T>(fleet: FleetWorker[], command: string, args?: Record<string, unknown>): Promise<T[]> {
		return Promise.all(fleet.map(async worker => worker.send<T>(command, args)));
	}

	test.each(['ioredis', 'node-redis'] as const)('cold start, 6 processes x 20 callers: one token request in all (%s)', async kind => {
		const fleet = await startFleet(6, setup(kind));
		const release = tokens.hold();
		const pending = everyProcess<Outcome[]>(fleet, 'tokens', {count: 20});
		await new Promise(resolve => {
			setTimeout(resolve, 300);
		});
		release();
		const results = (await pending).flat();
		expect(results).toHaveLength(120);
		expect(new Set(results.map(result => (result.ok ? result.value : result.message)))).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(1);
		await everyProcess(fleet, 'ping');
		expect(fleet.flatMap(worker => worker.problems)).toEqual([]);
	});
});
