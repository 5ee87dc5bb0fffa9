import {execFile} from 'node:child_process';
import path from 'node:path';
import {promisify} from 'node:util';
import {startTokenServer} from './helpers/token-server.js';

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
		expect(JSON.parse(imported.stdout)).toEqual(names);
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

	test('a CommonJS application loads axios only when a token is fetched', async () => {
		const {stdout} = await run([
			'-e',
			'require("vibrant-oauth2-client"); console.log(JSON.stringify(Object.keys(require.cache).filter(f => /[\\\\/]node_modules[\\\\/]axios[\\\\/]/.test(f))))',
		]);
		expect(JSON.parse(stdout)).toEqual([]);
	});
});
