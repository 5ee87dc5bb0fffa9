import path from 'node:path';
import {type Child, forkChild} from '../../harness/rpc.cjs';

/** How a fleet process reaches Redis. */
export type RedisConnection = {
	readonly kind: 'ioredis' | 'node-redis' | 'ioredis-cluster' | 'node-redis-cluster';
	readonly ports: readonly number[];
	/** The database to select (not on a cluster). @default 0 */
	readonly db?: number;
	/** false: do not wait until connected (Redis is down from the start). @default true */
	readonly awaitConnect?: boolean;
};

export type WorkerSetup = {
	readonly redis: RedisConnection;
	/** Client options (plain JSON); the worker adds the store. */
	readonly client: object;
	/** RedisTokenStore options; `encryptionKeyHex` becomes `encryptionKey`. */
	readonly store?: object;
	/** attachVibrantAuth on an axios instance with baseURL `${apiOrigin}/v1`. */
	readonly apiOrigin?: string;
};

export type Outcome = {ok: true; value: string | number} | {ok: false; name?: string; status?: number; message?: string};

/** One process of a fleet: the built package in a child process (fleet-worker.cjs lists its commands). */
export type FleetWorker = Child;

const workerPath = path.join(__dirname, 'fleet-worker.cjs');

/** Starts a process of its own, set up for a test (one the test kills, say); stop() it when the test ends. */
export async function startWorker(setup: WorkerSetup): Promise<FleetWorker> {
	const worker = forkChild(workerPath, {name: 'fleet worker'});
	await worker.call('reset', setup);
	return worker;
}

/**
 * The processes of a test file, forked once and set up afresh for every test: starting a Node
 * process with the package and a Redis client costs far more than a test that uses it.
 */
export type FleetPool = {
	/** Forks `count` processes (beforeAll). */
	start(count: number): Promise<void>;
	/** `count` processes no other part of this test holds, each set up with `setup` (more are forked if needed). */
	take(count: number, setup: WorkerSetup): Promise<FleetWorker[]>;
	/** Every process taken since the last release drops its Client and Redis connection (afterEach). */
	release(): Promise<void>;
	/** Kills every process (afterAll). */
	stop(): Promise<void>;
};

export function fleetPool(): FleetPool {
	// In the order they were forked: a test takes the first idle ones, so the processes that loaded
	// a Redis client library for one test are the ones the next test of that kind gets.
	const workers: FleetWorker[] = [];
	const taken = new Set<FleetWorker>();
	const fork = (): FleetWorker => {
		const worker = forkChild(workerPath, {name: 'fleet worker'});
		workers.push(worker);
		return worker;
	};

	return {
		async start(count) {
			await Promise.all(Array.from({length: count}, async () => fork().ready));
		},
		async take(count, setup) {
			const chosen = workers.filter(worker => !taken.has(worker)).slice(0, count);
			chosen.push(...Array.from({length: count - chosen.length}, fork));
			for (const worker of chosen) {
				taken.add(worker);
			}

			await Promise.all(chosen.map(async worker => worker.call('reset', setup)));
			return chosen;
		},
		async release() {
			const released = [...taken];
			taken.clear();
			const dropped = await Promise.allSettled(released.map(async worker => worker.call('reset', null)));
			const failures = released.filter((_worker, index) => dropped[index]!.status === 'rejected');
			// A process that cannot drop its client is of no use to the next test.
			await Promise.all(failures.map(async worker => worker.stop()));
			workers.splice(0, workers.length, ...workers.filter(worker => !failures.includes(worker)));
			const failure = dropped.find(result => result.status === 'rejected');
			if (failure !== undefined) {
				throw failure.reason;
			}
		},
		async stop() {
			await Promise.all(workers.splice(0).map(async worker => worker.stop()));
			taken.clear();
		},
	};
}
