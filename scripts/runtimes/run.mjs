#!/usr/bin/env node
// The runtime matrix (`npm run test:runtimes`, after `npm run build`): proves the built package on
// every runtime pinned in versions.mjs — Node 20, 22, 24, 26, Bun and Deno.
//
// 1. Installs the runtimes that are missing from the cache folder (install.mjs), packs the package
//    and installs the tarball with axios, ioredis and redis into a fresh consumer folder under
//    os.tmpdir(), as an application would.
// 2. Starts the servers in this process (servers.mjs: token endpoint over http and https with a
//    private CA, a protected API, a CONNECT proxy per proxy cell) and one redis-server.
// 3. Runs each check (checks/) in its own child process of the runtime under test, so that a crash
//    or a hang is a failed cell, and counts on the servers what each cell sent.
// 4. Prints the matrix (check × runtime), then runs the whole Jest suite on the Node marked `jest`
//    in versions.mjs. Exits non-zero on any failed cell or test.
//
//   node scripts/runtimes/run.mjs [--runtimes=node26,bun] [--checks=proxy-ip,cli] [--no-jest] [--jobs=3] [--keep] [--verbose]
//
// Needs the repository's devDependencies (npm ci), a built dist/, openssl and redis-server.
import {spawn} from 'node:child_process';
import {copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import os from 'node:os';
import path from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';
import redisServer from '../../harness/redis-server.cjs';
import {ensureRuntimes, runtimesDirectory} from './install.mjs';
import {createCertificates, startApiServer, startConnectProxy, startTokenServer} from './servers.mjs';
import {runtimes as pinned} from './versions.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const started = performance.now();
const secret = 'runtimes-secret-Xq7!';

const {values: flags} = parseArgs({
	options: {
		runtimes: {type: 'string'},
		checks: {type: 'string'},
		jobs: {type: 'string'},
		'no-jest': {type: 'boolean'},
		keep: {type: 'boolean'},
		verbose: {type: 'boolean'},
	},
});

/**
 * What Deno is given: the permissions the package needs, no more. --allow-env whole, not a list of
 * names: axios's https-proxy-agent loads `debug`, which lists every variable at import.
 * --allow-read is not needed for node_modules.
 */
const denoPermissions = ['--allow-env', '--allow-net'];

// ---------------------------------------------------------------------------------------------
// Child processes of the runtime under test.

const children = new Set();

/** The environment of every child: nothing of this shell's proxies, CAs, VIBRANT_* or npm settings. */
function childEnvironment(runtime, extra) {
	const environment = {};
	for (const [name, value] of Object.entries(process.env)) {
		const lower = name.toLowerCase();
		const dropped =
			name.startsWith('VIBRANT_') ||
			lower.startsWith('npm_') ||
			lower.endsWith('_proxy') ||
			['INIT_CWD', 'NODE_OPTIONS', 'NODE_DEBUG', 'NODE_EXTRA_CA_CERTS', 'DENO_CERT', 'SSL_CERT_FILE', 'SSL_CERT_DIR'].includes(name);
		if (!dropped) {
			environment[name] = value;
		}
	}

	return {
		...environment,
		PATH: `${path.dirname(runtime.binary)}${path.delimiter}${process.env['PATH'] ?? ''}`,
		NO_COLOR: '1',
		FORCE_COLOR: '0',
		DENO_NO_UPDATE_CHECK: '1',
		DENO_NO_PROMPT: '1',
		DENO_DIR: path.join(runtimesDirectory(), 'deno-dir'),
		...extra,
	};
}

/** How `runtime` runs `file` (relative to the consumer folder) with `args`. */
function commandLine(runtime, file, args) {
	return runtime.kind === 'deno' ? ['run', ...denoPermissions, file, ...args] : [file, ...args];
}

/**
 * Runs a file with the runtime in the consumer folder; never rejects. `result` is the check's
 * `@@result` line, parsed.
 */
function runChild(runtime, consumer, file, {args = [], environment = {}, timeoutMs = 60_000, exitMs = 5000} = {}) {
	return new Promise(resolve => {
		const child = spawn(runtime.binary, commandLine(runtime, file, args), {
			cwd: consumer,
			env: childEnvironment(runtime, environment),
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
		});
		children.add(child);
		let stdout = '';
		let stderr = '';
		let timedOut = false;
		let exitTimer;
		const timer = setTimeout(() => {
			timedOut = true;
			kill(child);
		}, timeoutMs);
		child.stdout.setEncoding('utf8').on('data', chunk => {
			stdout += chunk;
			// Once it has printed its result, a process must exit by itself soon (no open handle).
			if (exitTimer === undefined && /^@@result .*\n/m.test(stdout)) {
				exitTimer = setTimeout(() => {
					timedOut = true;
					kill(child);
				}, exitMs);
			}
		});
		child.stderr.setEncoding('utf8').on('data', chunk => (stderr += chunk));
		const done = (code, signal, error) => {
			clearTimeout(timer);
			clearTimeout(exitTimer);
			children.delete(child);
			const line = /^@@result (.*)$/m.exec(stdout)?.[1];
			let result;
			try {
				result = line === undefined ? undefined : JSON.parse(line);
			} catch {
				result = undefined;
			}

			resolve({code, signal, stdout, stderr, timedOut, timeoutMs, exitMs, result, error});
		};

		child.on('error', error => done(null, null, error));
		child.on('close', (code, signal) => done(code, signal));
	});
}

function kill(child) {
	try {
		process.kill(-child.pid, 'SIGKILL');
	} catch {
		// already gone
	}
}

class CellFailed extends Error {}

function fail(reason) {
	throw new CellFailed(reason);
}

function lastLine(text) {
	return (
		text
			// eslint-disable-next-line no-control-regex -- Deno coloured its stack traces without --allow-env, NO_COLOR or not
			.replaceAll(/\x1b\[[0-9;]*m/g, '')
			.trim()
			.split('\n')
			.map(line => line.trim())
			.findLast(line => line !== '' && !line.startsWith('at ')) ?? ''
	);
}

/** The check's own verdict: passes only on a result line that says ok and exit code 0. */
function expectPassed(outcome) {
	if (outcome.error !== undefined) {
		fail(`could not start: ${outcome.error.message}`);
	}

	if (outcome.timedOut) {
		const stuck = `did not exit within ${outcome.exitMs / 1000} s of its result (an open handle)`;
		fail(
			outcome.result === undefined
				? `no result within ${outcome.timeoutMs / 1000} s`
				: outcome.result.ok
					? `passed, but ${stuck}`
					: `${outcome.result.reason}; and it ${stuck}`,
		);
	}

	if (outcome.result === undefined) {
		fail(`exited ${outcome.code ?? outcome.signal} with no result: ${lastLine(outcome.stderr) || lastLine(outcome.stdout) || 'no output'}`);
	}

	if (!outcome.result.ok) {
		fail(outcome.result.reason);
	}

	if (outcome.code !== 0) {
		fail(`exited ${outcome.code ?? outcome.signal} after passing: ${lastLine(outcome.stderr)}`);
	}

	return outcome.result;
}

function expectCount(what, actual, expected) {
	if (actual !== expected) {
		fail(`${actual} ${what}, expected exactly ${expected}`);
	}
}

// ---------------------------------------------------------------------------------------------
// The checks: one row of the matrix each. `run` resolves to a detail, or throws CellFailed.

/**
 * Every name the package exports, sorted, as Node's own require of the build gives them: what the
 * import and require checks must find in each runtime (packaging.test.ts holds the list itself).
 */
const exportedNames = Object.keys(createRequire(import.meta.url)('../../dist/cjs/index.js')).sort();

/** The settings a check reads (RUNTIME_CHECK) for this cell. */
function settingsFor(context, cell, extra = {}) {
	return {
		cell,
		exportedNames,
		clientId: `rt-${cell}`,
		clientSecret: secret,
		tokenUrl: context.tokens.url,
		apiOrigin: context.api.origin,
		...extra,
	};
}

function withSettings(settings) {
	return {RUNTIME_CHECK: JSON.stringify(settings)};
}

/** A check whose child does it all and whose servers must count `tokenRequests` (and `apiCalls`). */
function simpleCheck(file, {tokenRequests = 1, apiCalls, delayMs = 0} = {}) {
	return async (runtime, context, cell) => {
		const settings = settingsFor(context, cell);
		context.tokens.delay(settings.clientId, delayMs);
		const {detail} = expectPassed(await runChild(runtime, context.consumer, file, {environment: withSettings(settings)}));
		expectCount('token requests', context.tokens.requests(settings.clientId), tokenRequests);
		if (apiCalls !== undefined) {
			expectCount('API calls', context.api.requests(cell), apiCalls);
		}

		return detail;
	};
}

function redisCheck(library) {
	return async (runtime, context, cell) => {
		const settings = settingsFor(context, cell, {redisUrl: context.redis.url});
		context.tokens.delay(settings.clientId, 300);
		const workers = await Promise.all(
			[0, 1].map(() => runChild(runtime, context.consumer, 'redis-worker.mjs', {args: [library], environment: withSettings(settings)})),
		);
		const results = workers.map(worker => expectPassed(worker));
		const tokens = new Set(results.map(result => result.data.token));
		if (tokens.size !== 1 || !tokens.has(`Bearer at-${settings.clientId}-1`)) {
			fail(`the two processes got ${[...tokens].join(' and ')}`);
		}

		expectCount('token requests for 2 processes', context.tokens.requests(settings.clientId), 1);
		return `1 token request; store events: ${results.map(result => result.detail).join(' | ')}`;
	};
}

async function cliCheck(runtime, context, cell) {
	const cli = path.join('node_modules', 'vibrant-oauth2-client', 'dist', 'cjs', 'cli.js');
	const clientId = `rt-${cell}`;
	const environment = (clientSecret, id) => ({
		VIBRANT_CLIENT_ID: id,
		VIBRANT_CLIENT_SECRET: clientSecret,
		VIBRANT_TOKEN_URL: context.tokens.url,
	});
	const [good, bad] = await Promise.all([
		runChild(runtime, context.consumer, cli, {environment: environment(secret, clientId)}),
		runChild(runtime, context.consumer, cli, {environment: environment('wrong-secret-Yp3', `${clientId}-bad`)}),
	]);
	for (const outcome of [good, bad]) {
		if (outcome.error !== undefined || outcome.timedOut) {
			fail(outcome.error?.message ?? `no exit within ${outcome.timeoutMs / 1000} s`);
		}
	}

	if (good.code !== 0 || good.stdout !== `Bearer at-${clientId}-1\n` || good.stderr !== '') {
		fail(
			`with the right secret: exit ${good.code}, stdout ${JSON.stringify(good.stdout)}, stderr ${JSON.stringify(lastLine(good.stderr))}`,
		);
	}

	if (
		bad.code !== 1 ||
		bad.stdout !== '' ||
		!/^vibrant-token: [^\n]+\n$/.test(bad.stderr) ||
		`${bad.stdout}${bad.stderr}`.includes('wrong-secret')
	) {
		fail(`with a wrong secret: exit ${bad.code}, stdout ${JSON.stringify(bad.stdout)}, stderr ${JSON.stringify(bad.stderr.slice(0, 200))}`);
	}

	expectCount('token requests', context.tokens.requests(clientId), 1);
	expectCount('token requests with the wrong secret', context.tokens.requests(`${clientId}-bad`), 1);
	return 'prints the token (exit 0); a rejected secret: one line on stderr, exit 1';
}

function proxyCheck(host) {
	return async (runtime, context, cell) => {
		const proxy = await startConnectProxy();
		try {
			const settings = settingsFor(context, cell, {tokenUrl: context.tokens.secureUrl(host)});
			const outcome = await runChild(runtime, context.consumer, 'proxy.mjs', {
				environment: {...withSettings(settings), HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: context.certificates.caFile},
			});
			const targets = proxy.targets();
			try {
				expectPassed(outcome);
			} catch (error) {
				fail(`${error.message} (CONNECTs: ${targets.join(', ') || 'none'}; token requests: ${context.tokens.requests(settings.clientId)})`);
			}

			if (targets.length !== 1 || targets[0] !== `${host}:${context.tokens.securePort}`) {
				fail(`CONNECTs: ${targets.join(', ') || 'none'}, expected one to ${host}:${context.tokens.securePort}`);
			}

			expectCount('token requests', context.tokens.requests(settings.clientId), 1);
			return `1 CONNECT ${targets[0]}, private CA`;
		} finally {
			await proxy.close();
		}
	};
}

const checks = [
	{key: 'esm', label: 'import (ESM)', run: simpleCheck('esm.mjs')},
	{key: 'require', label: 'require (CommonJS)', run: simpleCheck('require.cjs')},
	{key: 'token', label: 'getToken ×20 → 1 request', run: simpleCheck('token.mjs', {delayMs: 200})},
	{key: 'axios', label: 'axios ×5, 401 → retry', run: simpleCheck('axios.mjs', {tokenRequests: 2, apiCalls: 10, delayMs: 100})},
	{key: 'fetch-abort', label: 'fetch abort → reason', run: simpleCheck('fetch-abort.mjs', {apiCalls: 0, delayMs: 1500})},
	{key: 'channel', label: 'tracing channel', run: simpleCheck('channel.mjs')},
	{key: 'ioredis', label: 'ioredis, 2 processes', run: redisCheck('ioredis')},
	{key: 'node-redis', label: 'node-redis, 2 processes', run: redisCheck('node-redis')},
	{key: 'cli', label: 'vibrant-token CLI', run: cliCheck},
	{key: 'proxy-host', label: 'proxy → https://localhost', run: proxyCheck('localhost')},
	{key: 'proxy-ip', label: 'proxy → https://127.0.0.1', run: proxyCheck('127.0.0.1')},
];

// ---------------------------------------------------------------------------------------------
// Setup: runtimes, a consumer folder with the packed package, servers, redis-server.

function selected(list, flag, key) {
	if (flag === undefined) {
		return list;
	}

	const wanted = flag.split(',').map(name => name.trim());
	const unknown = wanted.filter(name => !list.some(item => item[key] === name));
	if (unknown.length > 0) {
		throw new Error(`unknown ${unknown.join(', ')}; known: ${list.map(item => item[key]).join(', ')}`);
	}

	return list.filter(item => wanted.includes(item[key]));
}

/** Runs a command to completion (npm), rejecting with the end of its output. */
function command(file, args, cwd) {
	return new Promise((resolve, reject) => {
		const child = spawn(file, args, {cwd, stdio: ['ignore', 'pipe', 'pipe']});
		let output = '';
		child.stdout.setEncoding('utf8').on('data', chunk => (output += chunk));
		child.stderr.setEncoding('utf8').on('data', chunk => (output += chunk));
		child.on('error', reject);
		child.on('close', code =>
			code === 0 ? resolve(output) : reject(new Error(`${file} ${args.join(' ')} exited ${code}:\n${output.slice(-2000)}`)),
		);
	});
}

function versionInRepo(name) {
	return JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** A consumer project: the packed package, axios, ioredis and redis, and the checks beside them. */
async function prepareConsumer(directory) {
	if (!existsSync(path.join(repo, 'dist', 'cjs', 'index.js'))) {
		throw new Error('dist/ is missing: run `npm run build` first (npm run test:runtimes does)');
	}

	const packed = JSON.parse(await command('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', directory], repo));
	const tarball = path.join(directory, packed[0].filename);
	writeFileSync(path.join(directory, 'package.json'), `${JSON.stringify({name: 'runtimes-consumer', private: true}, undefined, 2)}\n`);
	const dependencies = ['axios', 'ioredis', 'redis'].map(name => `${name}@${versionInRepo(name)}`);
	await command(
		'npm',
		['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tarball, ...dependencies],
		directory,
	);
	for (const file of readdirSync(path.join(here, 'checks'))) {
		copyFileSync(path.join(here, 'checks', file), path.join(directory, file));
	}

	return dependencies;
}

const seconds = ms => `${(ms / 1000).toFixed(1)} s`;

async function main() {
	const runtimes = selected(pinned, flags.runtimes, 'name');
	const rows = selected(checks, flags.checks, 'key');
	const jobs = Number(flags.jobs ?? process.env['VIBRANT_RUNTIMES_JOBS'] ?? 3);
	const consumer = mkdtempSync(path.join(os.tmpdir(), 'vibrant-runtimes-'));
	const cleanups = [];
	const cleanup = async () => {
		for (const child of children) {
			kill(child);
		}

		for (const step of cleanups.reverse()) {
			await step();
		}

		if (flags.keep) {
			console.log(`kept ${consumer}`);
		} else {
			rmSync(consumer, {recursive: true, force: true});
		}
	};

	for (const signal of ['SIGINT', 'SIGTERM']) {
		process.once(signal, () => {
			void cleanup().finally(() => process.exit(130));
		});
	}

	try {
		console.log(`runtimes from ${runtimesDirectory()} (versions: scripts/runtimes/versions.mjs)`);
		const setupStarted = performance.now();
		const certificates = createCertificates();
		cleanups.push(() => certificates.remove());
		const [installed, dependencies, redis, tokens, api] = await Promise.all([
			ensureRuntimes(runtimes),
			prepareConsumer(consumer),
			redisServer.startRedisServer(),
			startTokenServer({secret, certificates}),
			startApiServer(),
		]);
		cleanups.push(
			() => redis.stop(),
			() => tokens.close(),
			() => api.close(),
		);
		for (const runtime of installed) {
			console.log(
				`  ${runtime.name.padEnd(7)} ${runtime.package}@${runtime.version}${runtime.installedMs > 0 ? ` (installed now, ${seconds(runtime.installedMs)})` : ''}`,
			);
		}

		console.log(
			`consumer: the packed package with ${dependencies.join(', ')}; redis-server ${redis.version}; set up in ${seconds(performance.now() - setupStarted)}`,
		);

		// The cells, a few at a time (each is a child process or two).
		const context = {consumer, certificates, redis, tokens, api};
		const cells = rows.flatMap(check => installed.map(runtime => ({check, runtime, cell: `${runtime.name}-${check.key}`})));
		const matrixStarted = performance.now();
		const pending = [...cells];
		await Promise.all(
			Array.from({length: Math.max(1, jobs)}, async () => {
				for (let item = pending.shift(); item !== undefined; item = pending.shift()) {
					const cellStarted = performance.now();
					try {
						item.detail = await item.check.run(item.runtime, context, item.cell);
						item.ok = true;
					} catch (error) {
						item.ok = false;
						item.reason = error instanceof CellFailed ? error.message : `the matrix itself failed: ${error.stack}`;
					}

					item.ms = performance.now() - cellStarted;
				}
			}),
		);
		printMatrix(rows, installed, cells, performance.now() - matrixStarted);
		const failedCells = cells.filter(item => !item.ok).length;

		let jestFailed = false;
		const jestRuntime = installed.find(runtime => runtime.jest);
		if (flags['no-jest'] !== true && jestRuntime !== undefined) {
			jestFailed = !(await runJest(jestRuntime));
		}

		console.log(`\ntest:runtimes took ${seconds(performance.now() - started)}`);
		console.log(`runtimes: ${cells.length - failedCells} passed, ${failedCells} failed`);
		process.exitCode = failedCells > 0 || jestFailed ? 1 : 0;
	} finally {
		await cleanup();
	}
}

function printMatrix(rows, runtimes, cells, ms) {
	const failures = cells.filter(item => !item.ok);
	const mark = item => (item.ok ? 'pass' : `FAIL ${failures.indexOf(item) + 1}`);
	const labelWidth = Math.max(...rows.map(row => row.label.length));
	const columnWidth = Math.max(8, ...runtimes.map(runtime => runtime.name.length + 2));
	const header = `${'check'.padEnd(labelWidth)}  ${runtimes.map(runtime => runtime.name.padEnd(columnWidth)).join('')}`;
	console.log(`\n${header.trimEnd()}`);
	console.log(`${'-'.repeat(labelWidth)}  ${runtimes.map(() => '-'.repeat(columnWidth - 2).padEnd(columnWidth)).join('')}`.trimEnd());
	for (const row of rows) {
		const line = runtimes
			.map(runtime => mark(cells.find(item => item.check === row && item.runtime === runtime)).padEnd(columnWidth))
			.join('');
		console.log(`${row.label.padEnd(labelWidth)}  ${line}`.trimEnd());
	}

	console.log(`\n${runtimes.map(runtime => `${runtime.name} = ${runtime.kind} ${runtime.version}`).join(', ')}`);
	console.log(`${cells.length - failures.length} of ${cells.length} cells passed in ${seconds(ms)}`);
	for (const [index, item] of failures.entries()) {
		console.log(`  FAIL ${index + 1}: ${item.runtime.name} × ${item.check.label}: ${item.reason}`);
	}

	if (flags.verbose === true) {
		for (const item of cells.filter(cell => cell.ok)) {
			console.log(`  pass: ${item.runtime.name} × ${item.check.label}: ${item.detail} (${seconds(item.ms)})`);
		}
	}
}

/** The whole Jest suite, with `runtime` as node (first on PATH too, for the tests' child processes). */
async function runJest(runtime) {
	console.log(`\nJest on ${runtime.name} (${runtime.kind} ${runtime.version}): the whole suite…`);
	const jestStarted = performance.now();
	const log = path.join(os.tmpdir(), `vibrant-runtimes-jest-${runtime.name}-${process.pid}.log`);
	const environment = {...process.env, PATH: `${path.dirname(runtime.binary)}${path.delimiter}${process.env['PATH'] ?? ''}`};
	const outcome = await new Promise(resolve => {
		const child = spawn(runtime.binary, [path.join(repo, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci'], {
			cwd: repo,
			env: environment,
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
		});
		children.add(child);
		let output = '';
		child.stdout.setEncoding('utf8').on('data', chunk => (output += chunk));
		child.stderr.setEncoding('utf8').on('data', chunk => (output += chunk));
		child.on('close', code => {
			children.delete(child);
			resolve({code, output});
		});
	});
	writeFileSync(log, outcome.output);
	const summary = outcome.output.split('\n').filter(line => /^(Test Suites|Tests|Snapshots|Time):/.test(line));
	const failing = [...new Set(outcome.output.split('\n').filter(line => /^\s+● /.test(line)))];
	for (const line of [...summary, ...failing]) {
		console.log(`  ${line.trim()}`);
	}

	console.log(
		`  Jest on ${runtime.name} ${outcome.code === 0 ? 'passed' : `FAILED (exit ${outcome.code})`} in ${seconds(performance.now() - jestStarted)}; its output: ${log}`,
	);
	return outcome.code === 0;
}

await main();
