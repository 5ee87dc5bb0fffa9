// Real redis-server processes for the tests, the bench and the demo: each on a free loopback port,
// in a temporary directory, without persistence; stopped by its user, and killed (its directory
// removed) when this process exits, whatever happens. Never a system service, never a fixed port.
'use strict';
const {execFile, spawn, spawnSync} = require('node:child_process');
const {mkdtempSync, rmSync} = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const Redis = require('ioredis');
const {freePort} = require('./ports.cjs');
const {sleep} = require('./wait.cjs');

let installed;

/** Whether `redis-server` can be run here. */
function hasRedisServer() {
	installed ??= spawnSync('redis-server', ['--version'], {stdio: 'ignore'}).status === 0;
	return installed;
}

/** Servers started here and not yet stopped: their process and directory. */
const running = new Map();
process.on('exit', () => {
	for (const [child, directory] of running) {
		child.kill('SIGCONT');
		child.kill('SIGKILL');
		rmSync(directory, {recursive: true, force: true});
	}
});

/** Whether something on `port` answers PING with PONG (a raw socket: no client library's retries). */
async function answersPing(port) {
	return new Promise(resolve => {
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
}

async function waitForPing(port, child) {
	let spawnError;
	child.once('error', error => {
		spawnError = error;
	});
	const deadline = Date.now() + 10_000;
	while (Date.now() < deadline) {
		if (spawnError !== undefined || child.exitCode !== null) {
			throw new Error(`redis-server on port ${port} did not start (${spawnError?.message ?? `exit code ${child.exitCode}`})`, {
				cause: spawnError,
			});
		}

		if (await answersPing(port)) {
			return;
		}

		await sleep(20);
	}

	throw new Error(`redis-server on port ${port} did not answer PING`);
}

/**
 * Starts redis-server with `args` added to ours (`cluster`: a cluster node) and waits until it
 * answers; returns its port, URL, version, an admin connection (ioredis), pause() (SIGSTOP),
 * resume() (SIGCONT) and stop().
 */
async function startRedisServer({args = [], cluster = false} = {}) {
	const port = await freePort({withBusPort: cluster});
	const directory = mkdtempSync(path.join(os.tmpdir(), 'vibrant-redis-'));
	const child = spawn(
		'redis-server',
		[
			...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory, '--loglevel', 'warning'],
			...(cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '3000'] : []),
			...args,
		],
		{stdio: 'ignore'},
	);
	running.set(child, directory);
	// A redis-server that could not be spawned emits 'error' and never 'exit'.
	const exited = new Promise(resolve => {
		child.once('exit', resolve);
		child.once('error', resolve);
	});
	const kill = async () => {
		child.kill('SIGCONT');
		child.kill('SIGKILL');
		await exited;
		running.delete(child);
		rmSync(directory, {recursive: true, force: true});
	};

	try {
		await waitForPing(port, child);
	} catch (error) {
		await kill();
		throw error;
	}

	const admin = new Redis({host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1});
	admin.on('error', () => {});
	await admin.connect();
	const version = /redis_version:(\S+)/.exec(String(await admin.info('server')))?.[1] ?? 'unknown';
	let stopping;
	return {
		port,
		url: `redis://127.0.0.1:${port}`,
		version,
		admin,
		pause() {
			child.kill('SIGSTOP');
		},
		resume() {
			child.kill('SIGCONT');
		},
		async stop() {
			stopping ??= (async () => {
				admin.disconnect();
				await kill();
			})();
			return stopping;
		},
	};
}

/** A real cluster of three masters (no replicas), created with `redis-cli --cluster create`. */
async function startRedisCluster() {
	const nodes = await Promise.all([0, 1, 2].map(async () => startRedisServer({cluster: true})));
	const stop = async () => {
		await Promise.all(nodes.map(async node => node.stop()));
	};

	// Not spawnSync: a test running meanwhile (the cluster may form in the background) must not freeze.
	const failure = await new Promise(resolve => {
		execFile(
			'redis-cli',
			['--cluster', 'create', ...nodes.map(node => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'],
			{encoding: 'utf8', timeout: 30_000},
			(error, stdout, stderr) => {
				resolve(error === null ? undefined : `${error.message} ${stdout}${stderr}`);
			},
		);
	});
	if (failure !== undefined) {
		await stop();
		throw new Error(`redis-cli --cluster create failed: ${failure}`);
	}

	const deadline = Date.now() + 20_000;
	for (const node of nodes) {
		while (!String(await node.admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
			if (Date.now() > deadline) {
				await stop();
				throw new Error('the cluster did not reach cluster_state:ok');
			}

			await sleep(50);
		}
	}

	return {nodes, stop};
}

/** Every key of the connection's database, with its value and remaining time to live (ms; -1: none). */
async function dumpKeys(connection) {
	const keys = [];
	let cursor = '0';
	do {
		const [next, batch] = await connection.call('SCAN', cursor, 'COUNT', '1000');
		cursor = next;
		keys.push(...batch);
	} while (cursor !== '0');
	return Promise.all(
		keys.map(async key => ({
			key,
			value: String(await connection.call('GET', key)),
			pttl: Number(await connection.call('PTTL', key)),
		})),
	);
}

/** The commands the server ran since the last `CONFIG RESETSTAT`, by name, with their call counts. */
async function commandStats(connection) {
	const info = String(await connection.call('INFO', 'commandstats'));
	const stats = {};
	for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
		stats[match[1]] = Number(match[2]);
	}

	return stats;
}

module.exports = {commandStats, dumpKeys, hasRedisServer, startRedisCluster, startRedisServer};
