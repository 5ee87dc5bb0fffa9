import {execFile} from 'node:child_process';
import {mkdtemp, readFile, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {build} from 'esbuild';
import {startTokenServer, tokenReply} from './helpers/token-server.js';

// The built package (npm test builds it first), loaded by plain Node the way users load it.
const root = path.resolve(__dirname, '..');
const run = async (args: string[]) => promisify(execFile)(process.execPath, args, {cwd: root, env: {...process.env}});
const names = [
	'CachedToken',
	'Client',
	'RedisTokenStore',
	'VibrantAuthError',
	'VibrantConfigError',
	'VibrantTokenError',
	'attachVibrantAuth',
	'detachVibrantAuth',
	'withVibrantAuth',
];

describe('the built package', () => {
	test('require() and import export the same names', async () => {
		const required = await run(['-e', 'console.log(JSON.stringify(Object.keys(require("vibrant-oauth2-client")).sort()))']);
		const imported = await run([
			'--input-type=module',
			'-e',
			'const m = await import("vibrant-oauth2-client"); console.log(JSON.stringify(Object.keys(m).sort()))',
		]);
		expect(JSON.parse(required.stdout)).toEqual(names);
		// `import` loads CommonJS (one implementation): Node adds the module object as `default`, and
		// Node 24+ also as 'module.exports'.
		const importedNames = (JSON.parse(imported.stdout) as string[]).filter(name => name !== 'module.exports');
		expect(importedNames).toEqual([...names, 'default'].sort());
	});

	test('require() and import load one implementation: instanceof holds across them', async () => {
		const script = `
			import {createRequire} from 'node:module';
			import {VibrantConfigError, Client} from 'vibrant-oauth2-client';
			const required = createRequire(import.meta.url)('vibrant-oauth2-client');
			let thrown;
			try { new required.Client({}); } catch (error) { thrown = error; }
			console.log(JSON.stringify([required.Client === Client, thrown instanceof VibrantConfigError]));
		`;
		const {stdout} = await run(['--input-type=module', '-e', script]);
		expect(JSON.parse(stdout)).toEqual([true, true]);
	});

	test('the CommonJS build does not require the ESM-only p-memoize', async () => {
		const {stdout} = await run([
			'-e',
			'require("vibrant-oauth2-client"); console.log(JSON.stringify(Object.keys(require.cache).filter(f => /p-memoize|mimic-function/.test(f))))',
		]);
		expect(JSON.parse(stdout)).toEqual([]);
	});

	test('an ES module application loads one copy of axios: no CommonJS axios after an import and a token fetch', async () => {
		const tokens = await startTokenServer();
		try {
			const script = `
				import {createRequire} from 'node:module';
				import axios from 'axios';
				import {Client} from 'vibrant-oauth2-client';
				const token = await new Client({clientId: 'one-axios', clientSecret: 'secret', tokenUrl: '${tokens.url}'}).getToken();
				const loaded = Object.keys(createRequire(import.meta.url).cache).filter(file => /[\\\\/]node_modules[\\\\/]axios[\\\\/]/.test(file));
				console.log(JSON.stringify([token, loaded, typeof axios.create]));
			`;
			const {stdout} = await run(['--input-type=module', '-e', script]);
			expect(JSON.parse(stdout)).toEqual(['Bearer token-1', [], 'function']);
		} finally {
			await tokens.close();
		}
	});

	/**
	 * Runs a program (written by `program` around the lines it is given) in which a request with
	 * `timeout: 100` waits for its token from an endpoint that never answers, then prints
	 * `JSON.stringify(report)`, an expression over `error`. Returns what it printed.
	 */
	async function timedOutWaiting(
		report: string,
		program: (attachAndTimeOut: string) => {args: string[]} | {bundle: string},
	): Promise<unknown> {
		const tokens = await startTokenServer();
		tokens.reply('hang');
		const directory = await mkdtemp(path.join(os.tmpdir(), 'vibrant-axios-copy-'));
		try {
			const lines = `
				const client = new Client({clientId: 'one-axios', clientSecret: 'secret', tokenUrl: '${tokens.url}'});
				const api = attachVibrantAuth(axios.create({baseURL: '${tokens.origin}'}), {client, origins: ['${tokens.origin}']});
				api.get('/api', {timeout: 100}).catch(error => {
					console.log(JSON.stringify(${report}));
					process.exit(0);
				});
			`;
			const given = program(lines);
			if ('args' in given) {
				return JSON.parse((await run(given.args)).stdout);
			}

			const outfile = path.join(directory, 'bundle.cjs');
			const stdin = {contents: given.bundle, resolveDir: root, loader: 'js' as const};
			await build({stdin, bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'silent'});
			return JSON.parse((await promisify(execFile)(process.execPath, [outfile], {cwd: directory})).stdout);
		} finally {
			await tokens.close();
			await rm(directory, {recursive: true, force: true});
		}
	}

	// An expression: the files of axios's CommonJS build in the module cache.
	const commonJsAxiosFiles =
		'Object.keys(createRequire(import.meta.url).cache).filter(file => /[\\\\/]node_modules[\\\\/]axios[\\\\/]/.test(file))';
	const esmHead = `
		import {createRequire} from 'node:module';
		import axios from 'axios';
		import {Client, attachVibrantAuth} from 'vibrant-oauth2-client';
	`;

	test("an ES module application: a request that waits for its token within a timeout fails with axios's own error, and no CommonJS axios loads", async () => {
		const report = `[error instanceof axios.AxiosError, error.code, ${commonJsAxiosFiles}]`;
		const printed = await timedOutWaiting(report, lines => ({args: ['--input-type=module', '-e', esmHead + lines]}));
		expect(printed).toEqual([true, 'ECONNABORTED', []]);
	});

	test("an ES module application with a CommonJS dependency that requires axios: a timeout waiting for the token is still the application's AxiosError", async () => {
		// As a CommonJS SDK among the application's dependencies would.
		const dependency = "const commonJsAxios = createRequire(import.meta.url)('axios');";
		const report = '[error instanceof axios.AxiosError, error instanceof commonJsAxios.AxiosError, error.code]';
		const printed = await timedOutWaiting(report, lines => ({args: ['--input-type=module', '-e', esmHead + dependency + lines]}));
		expect(printed).toEqual([true, false, 'ECONNABORTED']);
	});

	const cjsHead = (pkg: string) => `
		const axios = require('axios');
		const {Client, attachVibrantAuth} = require(${JSON.stringify(pkg)});
	`;

	test("a CommonJS application that required axios: a request that waits for its token within a timeout fails with that axios's own error", async () => {
		// One file serves import and require: the copy of axios that the application holds is found at first use.
		const printed = await timedOutWaiting('[error instanceof axios.AxiosError, error.code]', lines => ({
			args: ['-e', cjsHead('vibrant-oauth2-client') + lines],
		}));
		expect(printed).toEqual([true, 'ECONNABORTED']);
	});

	test("a CommonJS application bundled by esbuild: a timeout waiting for the token is the bundled axios's AxiosError", async () => {
		const printed = await timedOutWaiting('[error instanceof axios.AxiosError, error.code]', lines => ({
			bundle: cjsHead(path.join(root, 'dist/cjs/index.js')) + lines,
		}));
		expect(printed).toEqual([true, 'ECONNABORTED']);
	});

	test('a CommonJS application loads axios only when a token is fetched', async () => {
		const {stdout} = await run([
			'-e',
			'require("vibrant-oauth2-client"); console.log(JSON.stringify(Object.keys(require.cache).filter(f => /[\\\\/]node_modules[\\\\/]axios[\\\\/]/.test(f))))',
		]);
		expect(JSON.parse(stdout)).toEqual([]);
	});
});

// A cheap import: the Redis store, the fetch integration and the token request (with axios-retry)
// are files of their own, loaded on first use. The same checks for require and for import, each in
// a fresh process: what importing loads, then each first use, what it loads and that it works.
describe('the built package loads the parts most applications do not use on first use', () => {
	// Run inside an async function, with `pkg` (the package) and `loaded()` (the package's files and
	// the axios-retry files in the CommonJS module cache, relative to the repository) in scope.
	const firstUses = (tokenUrl: string) => `
		const util = require('node:util');
		const Redis = require('ioredis');
		const steps = {};
		steps.atImport = loaded();

		// A token request loads the token endpoint, and axios-retry retries the 503.
		const client = new pkg.Client({clientId: 'lazy', clientSecret: 'secret', tokenUrl: ${JSON.stringify(tokenUrl)}});
		steps.afterNewClient = loaded();
		steps.token = await client.getToken();
		steps.afterToken = loaded();

		// RedisTokenStore: its checks, its instances and instanceof.
		let thrown;
		try { new pkg.RedisTokenStore({}); } catch (error) { thrown = error; }
		steps.badClient = [thrown instanceof pkg.VibrantConfigError, thrown.message];
		steps.afterStore = loaded();
		const redis = new Redis({lazyConnect: true});
		const store = new pkg.RedisTokenStore(redis, {prefix: 'lazy'});
		class Subclass extends pkg.RedisTokenStore {}
		steps.store = [
			store instanceof pkg.RedisTokenStore,
			store.constructor === pkg.RedisTokenStore,
			store.prefix,
			typeof store.lock,
			util.inspect(store).split(' ')[0],
			new Subclass(redis) instanceof pkg.RedisTokenStore,
		];
		redis.disconnect();

		// withVibrantAuth wraps a fetch, which gets the cached token.
		const seen = [];
		const authFetch = pkg.withVibrantAuth(async (input, init) => {
			seen.push(new Headers(init?.headers).get('authorization'));
			return new Response('ok');
		}, {client});
		steps.fetched = [await (await authFetch('https://api.vibrant-wellness.com/v1/x')).text(), seen];
		steps.afterFetch = loaded();
		console.log(JSON.stringify(steps));
	`;
	const loadedFiles = `
		const loaded = () => Object.keys(require.cache)
			.map(file => path.relative(${JSON.stringify(root)}, file).split(path.sep).join('/'))
			.filter(file => file.startsWith('dist/') || /^node_modules\\/(axios-retry|is-retry-allowed)\\//.test(file))
			.sort();
	`;
	const retryFile = 'node_modules/axios-retry/dist/cjs/index.js';
	const expectFirstUses = (steps: Record<string, unknown>, atImport: string[]) => {
		expect(steps['atImport']).toEqual(atImport);
		expect(steps['afterNewClient']).toEqual(atImport);
		expect(steps['token']).toBe('Bearer token-2');
		expect(steps['afterToken']).toEqual(
			expect.arrayContaining([...atImport, 'dist/cjs/token-endpoint.js', 'dist/cjs/token-retry.js', retryFile]),
		);
		expect(steps['afterToken']).not.toContain('dist/cjs/redis-store.js');
		expect(steps['afterToken']).not.toContain('dist/cjs/fetch.js');
		expect(steps['badClient']).toEqual([true, expect.stringMatching(/^RedisTokenStore needs a Redis client/)]);
		expect(steps['afterStore']).toContain('dist/cjs/redis-store.js');
		expect(steps['afterStore']).not.toContain('dist/cjs/fetch.js');
		expect(steps['store']).toEqual([true, true, 'lazy', 'function', 'RedisTokenStore', true]);
		expect(steps['fetched']).toEqual(['ok', ['Bearer token-2']]);
		expect(steps['afterFetch']).toContain('dist/cjs/fetch.js');
	};

	test('require(): only dist/cjs/index.js and the core load; the store, fetch and the token request (axios-retry) load on first use and work', async () => {
		const tokens = await startTokenServer();
		tokens.reply({status: 503}, tokenReply);
		try {
			const script = `
				const path = require('node:path');
				const pkg = require('vibrant-oauth2-client');
				${loadedFiles}
				(async () => { ${firstUses(tokens.url)} })().catch(error => { console.error(error); process.exitCode = 1; });
			`;
			const {stdout} = await run(['-e', script]);
			expectFirstUses(JSON.parse(stdout) as Record<string, unknown>, ['dist/cjs/core.js', 'dist/cjs/index.js']);
			// The 503, then the token: axios-retry retried.
			expect(tokens.requests).toHaveLength(2);
		} finally {
			await tokens.close();
		}
	});

	test('import: only dist/cjs/index.js and the core load; the store, fetch and the token request load on first use and work', async () => {
		const tokens = await startTokenServer();
		tokens.reply({status: 503}, tokenReply);
		try {
			const script = `
				import path from 'node:path';
				import {createRequire} from 'node:module';
				import * as pkg from 'vibrant-oauth2-client';
				const require = createRequire(import.meta.url);
				${loadedFiles}
				${firstUses(tokens.url)}
			`;
			const {stdout} = await run(['--input-type=module', '-e', script]);
			expectFirstUses(JSON.parse(stdout) as Record<string, unknown>, ['dist/cjs/core.js', 'dist/cjs/index.js']);
			expect(tokens.requests).toHaveLength(2);
		} finally {
			await tokens.close();
		}
	});

	test('a part loaded on first use after the module registry was reset uses the core that required it: instanceof still holds', async () => {
		// As Jest's resetModules or a cleared require.cache do between an import and the first use.
		const script = `
			const pkg = require('vibrant-oauth2-client');
			for (const file of Object.keys(require.cache)) {
				if (file.includes('dist')) delete require.cache[file];
			}
			const client = new pkg.Client({clientId: 'a', clientSecret: 'b', tokenUrl: 'http://127.0.0.1:1/token', retries: 0});
			let stored;
			try { new pkg.RedisTokenStore({}); } catch (error) { stored = error; }
			client.getToken().catch(error => {
				console.log(JSON.stringify([error instanceof pkg.VibrantTokenError, error instanceof pkg.VibrantAuthError, stored instanceof pkg.VibrantConfigError]));
			});
		`;
		const {stdout} = await run(['-e', script]);
		expect(JSON.parse(stdout)).toEqual([true, true, true]);
	});

	test('each part loaded on first use is its own file, and the core holds none of them', async () => {
		const core = await readFile(path.join(root, 'dist/cjs/core.js'), 'utf8');
		// A string of each part's code: found in its file, not in the core.
		for (const [file, marker] of [
			['redis-store.js', 'RedisTokenStore needs a Redis client'],
			['fetch.js', 'fetchFunction must be a function'],
			['token-endpoint.js', 'grant_type'],
			['shared-token.js', 'lock-waited'],
			['token-store.js', 'aes-256-gcm'],
			['token-retry.js', 'ERR_SOCKET_CONNECTION_TIMEOUT'],
		] as const) {
			expect(await readFile(path.join(root, 'dist/cjs', file), 'utf8')).toContain(marker);
			expect(core).not.toContain(marker);
		}

		expect(core).not.toMatch(/require\\(["']axios-retry["']\\)/);
	});
});
