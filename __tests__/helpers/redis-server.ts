import {type ChildProcess, spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

/**
 * Real `redis-server` processes for the tests: each on a free loopback port, in a temporary
 * directory, without persistence; stopped by the test (and killed if the test process exits).
 * Never a system service, never a fixed port.
 */

/** Whether `redis-server` can be run here (see jest.global-setup.ts for the notice when it cannot). */
export const hasRedisServer = spawnSync('redis-server', ['--version'], {stdio: 'ignore'}).status === 0;

/** `describe` when redis-server is installed, else `describe.skip`. */
export const describeWithRedis = hasRedisServer ? describe : describe.skip;

export type RedisServer = {
	readonly port: number;
	readonly url: string;
	/** An admin connection (ioredis), for the test's own commands. */
	readonly admin: Redis;
	/** SIGSTOP: the server keeps its sockets but answers nothing. */
	pause(): void;
	/** SIGCONT. */
	resume(): void;
	stop(): Promise<void>;
};

const running = new Set<ChildProcess>();
process.on('exit', () => {
	for (const child of running) {
		child.kill('SIGKILL');
	}
});

/** A port that is free now (and, for a cluster node, its bus port too). */
async function freePort(withBusPort = false): Promise<number> {
	for (;;) {
		const port = await new Promise<number>((resolve, reject) => {
			const server = net.createServer();
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => {
				const {port: chosen} = server.address() as net.AddressInfo;
				server.close(() => {
					resolve(chosen);
				});
			});
		});
		if (!withBusPort) {
			return port;
		}

		if (port + 10_000 < 65_536 && (await isFree(port + 10_000))) {
			return port;
		}
	}
}

async function isFree(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const server = net.createServer();
		server.once('error', () => {
			resolve(false);
		});
		server.listen(port, '127.0.0.1', () => {
			server.close(() => {
				resolve(true);
			});
		});
	});
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
	const deadline = Date.now() + 10_000;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) {
			throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
		}

		const answered = await new Promise<boolean>(resolve => {
			const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
			socket.setTimeout(500, () => {
				socket.destroy();
				resolve(false);
			});
			socket.once('data', data => {
				socket.destroy();
				resolve(data.toString().startsWith('+PONG'));
			});
			socket.once('error', () => {
				resolve(false);
			});
		});
		if (answered) {
			return;
		}

		await new Promise(resolve => {
			setTimeout(resolve, 50);
		});
	}

	throw new Error(`redis-server on port ${port} did not answer PING`);
}

async function startProcess(extraArguments: string[] = [], cluster = false): Promise<RedisServer> {
	const port = await freePort(cluster);
	const directory = mkdtempSync(path.join(os.tmpdir(), 'vibrant-redis-'));
	const child = spawn(
		'redis-server',
		[
			'--port',
			String(port),
			'--bind',
			'127.0.0.1',
			'--save',
			'',
			'--appendonly',
			'no',
			'--dir',
			directory,
			'--loglevel',
			'warning',
			...(cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '3000'] : []),
			...extraArguments,
		],
		{stdio: 'ignore'},
	);
	running.add(child);
	try {
		await waitForPing(port, child);
	} catch (error) {
		child.kill('SIGKILL');
		running.delete(child);
		throw error;
	}

	const admin = new Redis({port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1});
	admin.on('error', () => {});
	await admin.connect();
	let stopped = false;
	return {
		port,
		url: `redis://127.0.0.1:${port}`,
		admin,
		pause() {
			child.kill('SIGSTOP');
		},
		resume() {
			child.kill('SIGCONT');
		},
		async stop() {
			if (stopped) {
				return;
			}

			stopped = true;
			admin.disconnect();
			child.kill('SIGCONT');
			const exited = new Promise(resolve => child.once('exit', resolve));
			child.kill('SIGKILL');
			await exited;
			running.delete(child);
			rmSync(directory, {recursive: true, force: true});
		},
	};
}

/** One standalone redis-server. */
export async function startRedisServer(): Promise<RedisServer> {
	return startProcess();
}

export type RedisCluster = {
	readonly nodes: readonly RedisServer[];
	stop(): Promise<void>;
};

/** A real cluster of three masters (no replicas), created with `redis-cli --cluster create`. */
export async function startRedisCluster(): Promise<RedisCluster> {
	const nodes = await Promise.all([startProcess([], true), startProcess([], true), startProcess([], true)]);
	const created = spawnSync(
		'redis-cli',
		['--cluster', 'create', ...nodes.map(node => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'],
		{encoding: 'utf8', timeout: 30_000},
	);
	if (created.status !== 0) {
		await Promise.all(nodes.map(async node => node.stop()));
		throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
	}

	const deadline = Date.now() + 20_000;
	for (const node of nodes) {
		for (;;) {
			const info = String(await node.admin.call('CLUSTER', 'INFO'));
			if (info.includes('cluster_state:ok')) {
				break;
			}

			if (Date.now() > deadline) {
				throw new Error('the cluster did not reach cluster_state:ok');
			}

			await new Promise(resolve => {
				setTimeout(resolve, 100);
			});
		}
	}

	return {
		nodes,
		async stop() {
			await Promise.all(nodes.map(async node => node.stop()));
		},
	};
}

/** Every key of a server, with its value and remaining time to live (ms; -1 means none). */
export async function dumpKeys(server: RedisServer): Promise<Array<{key: string; value: string; pttl: number}>> {
	const keys: string[] = [];
	let cursor = '0';
	do {
		const [next, batch] = (await server.admin.call('SCAN', cursor, 'COUNT', '1000')) as [string, string[]];
		cursor = next;
		keys.push(...batch);
	} while (cursor !== '0');
	return Promise.all(
		keys.map(async key => ({
			key,
			value: String(await server.admin.call('GET', key)),
			pttl: Number(await server.admin.call('PTTL', key)),
		})),
	);
}

/** The commands the server ran since the last `CONFIG RESETSTAT`, by name, with their call counts. */
export async function commandStats(server: RedisServer): Promise<Record<string, number>> {
	const info = String(await server.admin.call('INFO', 'commandstats'));
	const stats: Record<string, number> = {};
	for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
		stats[match[1]!] = Number(match[2]);
	}

	return stats;
}
