import {type ChildProcess, fork} from 'node:child_process';
import path from 'node:path';

/** How a fleet process reaches Redis. */
export type RedisConnection = {
	readonly kind: 'ioredis' | 'node-redis' | 'ioredis-cluster' | 'node-redis-cluster';
	readonly ports: readonly number[];
	/** false: do not wait for node-redis's connect() (Redis is down from the start). */
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

/** One process of a fleet: the built package in a child process, driven over IPC. */
export type FleetWorker = {
	readonly child: ChildProcess;
	send<T = unknown>(command: string, args?: object): Promise<T>;
	/** The unhandled rejections and uncaught exceptions the process saw (as of its last answer). */
	readonly problems: string[];
};

const workerPath = path.join(__dirname, 'fleet-worker.cjs');
const children = new Set<ChildProcess>();

/** Starts a process and sets it up (its Redis client connected, its Client built). */
export async function startWorker(setup: WorkerSetup): Promise<FleetWorker> {
	const child = fork(workerPath, {stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: {...process.env}});
	children.add(child);
	child.once('exit', () => children.delete(child));
	const pending = new Map<number, {resolve: (value: unknown) => void; reject: (error: Error) => void}>();
	let nextId = 0;
	const problems: string[] = [];
	const ready = new Promise<void>((resolve, reject) => {
		child.once('error', reject);
		child.once('exit', code => {
			reject(new Error(`fleet worker exited (${code})`));
			for (const call of pending.values()) {
				call.reject(new Error(`fleet worker exited (${code})`));
			}
		});
		child.on('message', (message: {ready?: true; id?: number; result?: unknown; error?: string; problems?: string[]}) => {
			if (message.ready) {
				resolve();
				return;
			}

			problems.splice(0, problems.length, ...(message.problems ?? []));
			const call = pending.get(message.id!);
			pending.delete(message.id!);
			if (message.error === undefined) {
				call?.resolve(message.result);
			} else {
				call?.reject(new Error(message.error));
			}
		});
	});
	await ready;
	const worker: FleetWorker = {
		child,
		problems,
		async send<T>(command: string, args: object = {}) {
			return new Promise<T>((resolve, reject) => {
				const id = ++nextId;
				pending.set(id, {resolve: resolve as (value: unknown) => void, reject});
				child.send({id, command, args});
			});
		},
	};
	await worker.send('init', setup);
	return worker;
}

/** Starts `count` processes with the same setup, in parallel. */
export async function startFleet(count: number, setup: WorkerSetup): Promise<FleetWorker[]> {
	return Promise.all(Array.from({length: count}, async () => startWorker(setup)));
}

/** Kills every fleet process still running (afterEach). */
export async function stopFleets(): Promise<void> {
	await Promise.all(
		[...children].map(
			async child =>
				new Promise<void>(resolve => {
					if (child.exitCode !== null || child.signalCode !== null) {
						resolve();
						return;
					}

					child.once('exit', () => {
						resolve();
					});
					child.kill('SIGKILL');
				}),
		),
	);
}
