// A redis-server of our own for the bench and the demo (the tests have theirs in TypeScript,
// __tests__/helpers/redis-server.ts): a free loopback port, a temporary directory, no persistence,
// killed when the process exits whatever happens. Never a system service, never a fixed port.
import {spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import {join} from 'node:path';
import {Redis} from 'ioredis';

/** Whether `redis-server` can be run here. */
export function hasRedisServer() {
	return spawnSync('redis-server', ['--version'], {stdio: 'ignore'}).status === 0;
}

async function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const {port} = server.address();
			server.close(() => resolve(port));
		});
	});
}

/**
 * Starts redis-server and waits until it answers. Returns its port, URL, version, an admin
 * connection (ioredis), pause() (SIGSTOP), resume() (SIGCONT) and stop().
 */
export async function startRedisServer() {
	const port = await freePort();
	const directory = mkdtempSync(join(os.tmpdir(), 'vibrant-redis-'));
	const child = spawn(
		'redis-server',
		['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory, '--loglevel', 'warning'],
		{stdio: 'ignore'},
	);
	const kill = () => {
		child.kill('SIGCONT');
		child.kill('SIGKILL');
		rmSync(directory, {recursive: true, force: true});
	};

	// Even when the caller fails or its watchdog fires.
	process.on('exit', kill);
	const admin = new Redis({host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50});
	admin.on('error', () => {});
	const deadline = Date.now() + 10_000;
	for (;;) {
		try {
			await admin.connect();
			await admin.ping();
			break;
		} catch (error) {
			admin.disconnect();
			if (Date.now() > deadline || child.exitCode !== null) {
				process.off('exit', kill);
				kill();
				throw new Error(`redis-server on port ${port} did not start: ${error.message}`, {cause: error});
			}

			await new Promise(resolve => {
				setTimeout(resolve, 50);
			});
		}
	}

	const version = /redis_version:(\S+)/.exec(String(await admin.info('server')))?.[1] ?? 'unknown';
	return {
		port,
		url: `redis://127.0.0.1:${port}`,
		version,
		admin,
		pause: () => child.kill('SIGSTOP'),
		resume: () => child.kill('SIGCONT'),
		stop() {
			admin.disconnect();
			process.off('exit', kill);
			kill();
		},
	};
}
