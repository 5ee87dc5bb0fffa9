// `npm run demo:fleet` (demo/fleet.mjs over the built package, which `npm test` builds first): its
// exit code and the counts it prints, which come from the servers. With redis-server it runs the
// whole story; without it, it says so in one line and exits 0.
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {describeWithRedis} from './helpers/describe-with-redis.js';

const demo = path.join(__dirname, '..', 'demo', 'fleet.mjs');

type Run = {code: number | null; stdout: string; stderr: string};

/** Runs the demo as `npm run demo:fleet` does after its build: `node demo/fleet.mjs`. */
async function runDemo(environment: NodeJS.ProcessEnv = process.env): Promise<Run> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [demo], {env: environment, stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
		child.once('error', reject);
		child.once('close', code => {
			resolve({code, stdout, stderr});
		});
	});
}

describeWithRedis('npm run demo:fleet', () => {
	// 8 worker processes start on a shared 2-core machine; the demo itself gives up after 90 s.
	jest.setTimeout(120_000);

	test('8 processes share one token: 1 token request at the cold start, 1 after a revocation, 8 while Redis is stopped, 1 again after SIGCONT', async () => {
		const {code, stdout, stderr} = await runDemo();
		expect(stderr).toBe('');
		expect(code).toBe(0);
		const lines = stdout.trimEnd().split('\n');
		expect(lines[0]).toBe('vibrant-oauth2-client fleet demo: 8 processes, each with its own Redis connection, share one token');
		expect(lines[2]).toBe('1. Cold start: 8 processes, 200 requests (25 concurrent in each) -> 200×200, 1 token request (API calls: 200).');
		expect(lines[3]).toBe(
			"2. The fleet's token revoked at the server; 80 requests (10 concurrent in each process) -> 80×200 after one retry each: 1 token request for the fleet (API calls: 160, of which 401: 80).",
		);
		expect(lines[4]).toBe(
			'3. Redis stopped (SIGSTOP) and the token revoked again; 80 requests -> 80×200: Redis did not answer within commandTimeoutMs (500 ms), so each process fetched for itself: 8 token requests (API calls: 160, of which 401: 80).',
		);
		expect(lines[5]).toBe(
			"4. Redis resumed (SIGCONT); after the clients' back-off, the 8 tokens revoked; 80 requests -> 80×200: sharing resumed, 1 token request for the fleet (API calls: 160, of which 401: 80).",
		);
		expect(lines[6]).toBe('Totals from the servers: 11 token requests (11 tokens issued), 680 API calls.');
		expect(lines[7]).toBe('All checks passed; redis-server, servers and processes stopped.');
		expect(lines).toHaveLength(8);
	});
});

test('demo:fleet without redis-server: one line saying how to install it, exit 0', async () => {
	// A PATH with no redis-server on it (the demo itself runs with this node's absolute path).
	const emptyPath = mkdtempSync(path.join(os.tmpdir(), 'vibrant-no-redis-'));
	try {
		const {code, stdout, stderr} = await runDemo({...process.env, PATH: emptyPath});
		expect({code, stdout, stderr}).toEqual({
			code: 0,
			stdout:
				'demo:fleet needs redis-server, which is not installed: `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), then run it again.\n',
			stderr: '',
		});
	} finally {
		rmSync(emptyPath, {recursive: true, force: true});
	}
});
