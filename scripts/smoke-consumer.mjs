#!/usr/bin/env node
// Consumer smoke test: packs the package the way npm publishes it, lints the tarball, installs it
// into fresh consumer projects under os.tmpdir() and uses it from CommonJS, ESM, TypeScript (node16
// .mts/.cts, bundler, node10) and a default-config Jest — each against a token server and an API
// server on 127.0.0.1 started here. One line per check; exits non-zero on the first failure.
//
//   node scripts/smoke-consumer.mjs          (SMOKE_KEEP=1 or --keep keeps the temp dirs)
//
// Needs the repo's devDependencies (npm ci) and the npm registry or a warm npm cache for the
// consumer's `npm install --prefer-offline <tarball> axios @types/node`.
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep') || process.env['SMOKE_KEEP'] === '1';
const started = performance.now();
const secret = 'smoke-secret-Zq9!';

class CheckFailed extends Error {}

// ---------------------------------------------------------------------------------------------
// Processes and temp dirs, all cleaned up on exit.

const children = new Set();
const tempDirs = [];
const servers = [];

function makeTempDir(name) {
	const dir = mkdtempSync(path.join(os.tmpdir(), `vibrant-smoke-${name}-`));
	tempDirs.push(dir);
	return dir;
}

/** The environment of every child: no VIBRANT_* settings, nothing that points npm at the repo. */
function childEnv(extra = {}) {
	const env = {...process.env};
	for (const name of Object.keys(env)) {
		if (
			name.startsWith('VIBRANT_') ||
			name.startsWith('npm_package_') ||
			name.startsWith('npm_lifecycle_') ||
			name === 'npm_config_local_prefix' ||
			name === 'npm_config_prefix' ||
			name === 'INIT_CWD' ||
			name === 'NODE_OPTIONS'
		) {
			Reflect.deleteProperty(env, name);
		}
	}

	return {...env, NO_COLOR: '1', FORCE_COLOR: '0', ...extra};
}

/** Runs a command without blocking the event loop (the local servers must keep answering). */
function run(command, args, {cwd, env = childEnv(), timeoutMs = 120_000} = {}) {
	const t0 = performance.now();
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, {cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32'});
		children.add(child);
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', chunk => (stdout += chunk));
		child.stderr.setEncoding('utf8').on('data', chunk => (stderr += chunk));
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			killChild(child);
		}, timeoutMs);
		child.on('error', error => {
			clearTimeout(timer);
			children.delete(child);
			reject(new CheckFailed(`cannot run ${command}: ${error.message}`));
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			children.delete(child);
			const shown = [
				command === process.execPath ? 'node' : command,
				...args.map(arg => (path.relative(repo, arg).startsWith('node_modules') ? path.relative(repo, arg) : arg)),
			].join(' ');
			resolve({code, signal, stdout, stderr, timedOut, shown, output: `${stdout}${stderr}`, ms: performance.now() - t0});
		});
	});
}

function killChild(child) {
	try {
		if (process.platform === 'win32') {
			child.kill('SIGKILL');
		} else {
			process.kill(-child.pid, 'SIGKILL'); // the whole group: npm and tsc spawn their own children
		}
	} catch {
		// already gone
	}
}

/** Starts a command now and returns its pending result, never an unhandled rejection. */
function start(command, args, options) {
	const promise = run(command, args, options);
	promise.catch(() => {});
	return promise;
}

/** Throws unless the command exited 0, quoting the end of its output. */
function expectSuccess(result, what = result.shown) {
	if (result.timedOut) {
		throw new CheckFailed(`${what} did not finish in time (a hung process or an open handle)\n${tail(result.output)}`);
	}

	if (result.code !== 0) {
		throw new CheckFailed(`${what} exited with ${result.code ?? result.signal}\n${tail(result.output)}`);
	}

	return result;
}

function tail(text, lines = 60) {
	const all = text.trimEnd().split('\n');
	return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n');
}

async function cleanup() {
	for (const child of children) {
		killChild(child);
	}

	await Promise.all(
		servers.map(
			server =>
				new Promise(resolve => {
					server.closeAllConnections?.();
					server.close(() => resolve());
				}),
		),
	);
	if (keep) {
		for (const dir of tempDirs) {
			console.log(`kept ${dir}`);
		}
	} else {
		for (const dir of tempDirs) {
			rmSync(dir, {recursive: true, force: true, maxRetries: 3});
		}
	}
}

for (const signal of ['SIGINT', 'SIGTERM']) {
	process.once(signal, () => {
		void cleanup().finally(() => process.exit(130));
	});
}

// ---------------------------------------------------------------------------------------------
// Reporting: one line per check.

let checkCount = 0;

/**
 * Runs one check and prints its line. The body returns a detail string, or {detail, ms} to show the
 * duration of a process that ran alongside others rather than the time spent waiting for it.
 */
async function check(label, body) {
	const t0 = performance.now();
	let detail;
	let ms;
	try {
		const outcome = await body();
		({detail, ms} = typeof outcome === 'object' && outcome !== null ? outcome : {detail: outcome, ms: undefined});
	} catch (error) {
		console.log(`FAIL ${label} (${seconds(t0)})`);
		const message = error instanceof CheckFailed ? error.message : (error?.stack ?? String(error));
		console.error(message.replace(/^/gm, '     '));
		throw new CheckFailed(label);
	}

	checkCount++;
	console.log(`ok   ${label}${detail ? `: ${detail}` : ''} (${ms === undefined ? seconds(t0) : `${(ms / 1000).toFixed(1)}s`})`);
}

function seconds(since) {
	return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

function fail(message) {
	throw new CheckFailed(message);
}

// ---------------------------------------------------------------------------------------------
// Tools from the repo's devDependencies.

function repoBin(name) {
	const file = path.join(repo, 'node_modules', '.bin', name);
	if (!existsSync(file)) {
		fail(`node_modules/.bin/${name} is missing: run npm ci in ${repo} first`);
	}

	return file;
}

function repoVersion(name) {
	return JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')).version;
}

// ---------------------------------------------------------------------------------------------
// The token server and the API server on 127.0.0.1.

function listen(handler) {
	return new Promise((resolve, reject) => {
		const server = createServer(handler);
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			servers.push(server);
			resolve(`http://127.0.0.1:${server.address().port}`);
		});
	});
}

function sendJson(response, status, body) {
	const text = JSON.stringify(body);
	response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)});
	response.end(text);
}

const tokensIssued = new Map();

async function startServers() {
	const tokenOrigin = await listen((request, response) => {
		let body = '';
		request.setEncoding('utf8');
		request.on('data', chunk => {
			body += chunk;
			if (body.length > 65_536) {
				request.destroy();
			}
		});
		request.on('end', () => {
			if (request.method !== 'POST' || request.url !== '/oauth2/token') {
				sendJson(response, 404, {error: 'not_found'});
				return;
			}

			const form = new URLSearchParams(body);
			const clientId = form.get('client_id') ?? '';
			if (form.get('grant_type') !== 'client_credentials') {
				sendJson(response, 400, {error: 'unsupported_grant_type'});
			} else if (!clientId.startsWith('smoke-') || form.get('client_secret') !== secret) {
				sendJson(response, 401, {error: 'invalid_client', error_description: 'client authentication failed'});
			} else {
				const count = (tokensIssued.get(clientId) ?? 0) + 1;
				tokensIssued.set(clientId, count);
				sendJson(response, 200, {access_token: `tok-${clientId}-${count}`, token_type: 'bearer', expires_in: 3600});
			}
		});
	});
	const apiOrigin = await listen((request, response) => {
		request.resume();
		request.on('end', () => sendJson(response, 200, {authorization: request.headers.authorization ?? null, url: request.url}));
	});
	return {TOKEN_URL: `${tokenOrigin}/oauth2/token`, API_URL: `${apiOrigin}/v1`, SMOKE_SECRET: secret};
}

// ---------------------------------------------------------------------------------------------
// The tarball.

const allowedTopLevel = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']);
const forbiddenInDist = [
	[/(^|\/)(__tests__|__mocks__|__fixtures__|fixtures?|tests?|coverage)\//, 'a test/fixture/coverage directory'],
	[/\.(test|spec)\.[cm]?[jt]sx?$/, 'a test file'],
	[/\.tsbuildinfo$/, 'a TypeScript build-info file'],
	[/(?<!\.d)\.[cm]?tsx?$/, 'a TypeScript source file'],
];

function checkTarballContents(files, extracted) {
	const problems = [];
	const present = new Set(files);
	for (const file of files) {
		if (!file.startsWith('dist/') && !allowedTopLevel.has(file)) {
			problems.push(`${file}: not package.json, README.md, LICENSE, CHANGELOG.md or dist/**`);
			continue;
		}

		for (const [pattern, what] of forbiddenInDist) {
			if (file.startsWith('dist/') && pattern.test(file)) {
				problems.push(`${file}: ${what}`);
			}
		}
	}

	// Source maps: every sourceMappingURL must name a shipped map (or be inline), and every map's
	// sources must be shipped too unless the map embeds them (sourcesContent).
	for (const file of files) {
		const full = path.join(extracted, file);
		if (/\.(?:[cm]?js|d\.[cm]?ts)$/.test(file)) {
			const match = /\/[/*][#@]\s*sourceMappingURL=(\S+?)\s*(?:\*\/)?\s*$/.exec(readFileSync(full, 'utf8'));
			if (match && !match[1].startsWith('data:')) {
				const mapFile = path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURIComponent(match[1])));
				if (!present.has(mapFile)) {
					problems.push(`${file}: sourceMappingURL points at ${mapFile}, which is not in the tarball`);
				}
			}
		}

		if (file.endsWith('.map')) {
			let map;
			try {
				map = JSON.parse(readFileSync(full, 'utf8'));
			} catch {
				problems.push(`${file}: not a JSON source map`);
				continue;
			}

			const sources = Array.isArray(map.sources) ? map.sources : [];
			const embedded =
				Array.isArray(map.sourcesContent) &&
				map.sourcesContent.length === sources.length &&
				map.sourcesContent.every(text => typeof text === 'string');
			if (!embedded) {
				const missing = sources
					.map(source => path.posix.normalize(path.posix.join(path.posix.dirname(file), map.sourceRoot ?? '', source)))
					.filter(source => !present.has(source));
				if (missing.length > 0) {
					problems.push(
						`${file}: maps to sources not in the tarball (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`,
					);
				}
			}
		}
	}

	for (const required of ['package.json', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/core.js', 'dist/cjs/axios-esm.d.mts']) {
		if (!present.has(required)) {
			problems.push(`${required}: missing`);
		}
	}

	return problems;
}

// ---------------------------------------------------------------------------------------------
// Consumer sources.

const cjsConsumer = `'use strict';
const assert = require('node:assert/strict');
const axios = require('axios');
const {Client, attachVibrantAuth, VibrantAuthError, VibrantTokenError} = require('vibrant-oauth2-client');

const {TOKEN_URL, API_URL, SMOKE_SECRET} = process.env;

(async () => {
	assert.equal(require('vibrant-oauth2-client/package.json').name, 'vibrant-oauth2-client');
	const client = new Client({clientId: 'smoke-cjs', clientSecret: SMOKE_SECRET, tokenUrl: TOKEN_URL});
	const token = await client.getToken();
	assert.match(token, /^Bearer tok-smoke-cjs-\\d+$/);
	assert.equal(await client.getToken(), token, 'the second getToken() is served from the cache');

	const api = attachVibrantAuth(axios.create({baseURL: API_URL}), {client});
	const {data} = await api.get('/echo');
	assert.equal(data.authorization, token, 'the API saw the token');
	assert.equal(data.url, '/v1/echo');
	const plain = await api.get('/echo', {vibrantAuth: false});
	assert.equal(plain.data.authorization, null, 'vibrantAuth: false sends no token');

	const refused = new Client({clientId: 'smoke-cjs', clientSecret: 'wrong-secret', tokenUrl: TOKEN_URL, retries: 0});
	await assert.rejects(refused.getToken(), error => {
		assert.ok(error instanceof VibrantTokenError && error instanceof VibrantAuthError, 'a VibrantTokenError');
		assert.equal(error.status, 401);
		assert.equal(error.oauthError, 'invalid_client');
		assert.ok(!String(error.stack).includes('wrong-secret'), 'the secret stays out of the error');
		return true;
	});
	console.log(token);
})().catch(error => {
	console.error(error);
	process.exitCode = 1;
});
`;

const esmConsumer = `import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import axios from 'axios';
import * as esm from 'vibrant-oauth2-client';
import {Client, VibrantAuthError, VibrantConfigError, VibrantTokenError, attachVibrantAuth} from 'vibrant-oauth2-client';

const require = createRequire(import.meta.url);
const cjs = require('vibrant-oauth2-client');
const {TOKEN_URL, API_URL, SMOKE_SECRET} = process.env;

// The same names, and the very same objects: one implementation behind require and import.
// Node adds the CommonJS module object as \`default\` (and, on newer Node, as 'module.exports').
const names = Object.keys(esm).filter(name => name !== 'default' && name !== 'module.exports').sort();
assert.deepEqual(names, Object.keys(cjs).filter(name => name !== '__esModule' && name !== 'default').sort(), 'import and require export the same names');
for (const name of names) {
	assert.ok(esm[name] === cjs[name], \`import and require must give the very same \${name} (one implementation, no dual-package hazard)\`);
}

const client = new Client({clientId: 'smoke-esm', clientSecret: SMOKE_SECRET, tokenUrl: TOKEN_URL});
const token = await client.getToken();
assert.match(token, /^Bearer tok-smoke-esm-\\d+$/);
const api = attachVibrantAuth(axios.create({baseURL: API_URL}), {client});
const {data} = await api.get('/echo');
assert.equal(data.authorization, token, 'the API saw the token');
const plain = await api.get('/echo', {vibrantAuth: false});
assert.equal(plain.data.authorization, null, 'vibrantAuth: false sends no token');

// Errors made by the required package are instances of the imported classes.
assert.throws(
	() => new cjs.Client({clientId: '', clientSecret: SMOKE_SECRET, tokenUrl: TOKEN_URL}),
	error => error instanceof VibrantConfigError && error instanceof VibrantAuthError,
);
const refused = new cjs.Client({clientId: 'smoke-esm', clientSecret: 'wrong-secret', tokenUrl: TOKEN_URL, retries: 0});
await assert.rejects(refused.getToken(), error => error instanceof VibrantTokenError && error.status === 401);
// A Client from require is accepted by attachVibrantAuth from import (it checks instanceof Client).
const mixed = attachVibrantAuth(axios.create({baseURL: API_URL}), {
	client: new cjs.Client({clientId: 'smoke-esm-mixed', clientSecret: SMOKE_SECRET, tokenUrl: TOKEN_URL}),
});
assert.match((await mixed.get('/echo')).data.authorization, /^Bearer tok-smoke-esm-mixed-\\d+$/);

// One copy of axios: after token fetches from import and from require, no CommonJS build of axios
// sits next to the ES module one the application imported.
const commonJsAxios = Object.keys(require.cache).filter(file => /[\\\\/]node_modules[\\\\/]axios[\\\\/]/.test(file));
assert.deepEqual(commonJsAxios, [], 'no CommonJS copy of axios after an ESM import and a token fetch');
console.log(token);
`;

// Valid under every mode checked; the augmentation is proven by the lines that need it.
const tsConsumer = `import axios, {type AxiosRequestConfig} from 'axios';
import {
	type AttachOptions,
	type AuthMethod,
	CachedToken,
	Client,
	type ClientOptions,
	type TokenResponse,
	VibrantAuthError,
	VibrantConfigError,
	VibrantTokenError,
	attachVibrantAuth,
	detachVibrantAuth,
} from 'vibrant-oauth2-client';

const method: AuthMethod = 'client_secret_basic';
const options: ClientOptions = {clientId: 'id', clientSecret: 'secret', tokenUrl: 'http://127.0.0.1:1/token', scope: ['a', 'b'], authMethod: method};
const client = new Client(options);
const token: Promise<string> = client.getToken();
client.clearCache();

const attach: AttachOptions = {client, origins: ['https://api.example.com']};
const api = attachVibrantAuth(axios.create({baseURL: 'https://api.example.com/v1'}), attach);
attachVibrantAuth(axios);
detachVibrantAuth(axios);

// The augmentation of AxiosRequestConfig: present, and typed boolean.
const unauthenticated = api.get('/x', {vibrantAuth: false});
const flag: boolean | undefined = ({} as AxiosRequestConfig).vibrantAuth;
// @ts-expect-error vibrantAuth is a boolean
const wrong = api.get('/x', {vibrantAuth: 'no'});

// @ts-expect-error Client options are typed
new Client({clientId: 42});

const wire: TokenResponse = {access_token: 'abc', token_type: 'bearer', expires_in: 3600, scope: null};
const cached = new CachedToken({accessToken: 'Bearer abc', expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now()});
const expired: boolean = cached.isExpired(60, Date.now());

function describe(error: unknown): string | undefined {
	if (error instanceof VibrantTokenError) {
		const status: number | undefined = error.status;
		return \`\${status ?? '-'} \${error.oauthError ?? ''} \${error.oauthErrorDescription ?? ''}\`;
	}

	if (error instanceof VibrantConfigError) {
		return error.message;
	}

	return error instanceof VibrantAuthError ? error.name : undefined;
}

export {token, unauthenticated, flag, wrong, wire, expired, describe};
`;

// Each mode is its own program, so one mode's resolution cannot lend its augmentation to another.
// A row: the check's label, the program's file, module, moduleResolution, and the axios
// declarations the program itself resolves (the consumer's `@ts-expect-error` proves that the
// vibrantAuth augmentation reached them). The package's declarations are CommonJS, like its code,
// in every mode; axios-esm.d.mts augments axios's ESM declarations.
const tsModes = [
	['c1 types: module node16, .mts', 'node16/index.mts', 'node16', 'node16', 'index.d.ts'],
	['c2 types: module node16, .cts', 'node16/index.cts', 'node16', 'node16', 'index.d.cts'],
	['c3 types: moduleResolution bundler (module esnext)', 'bundler/index.ts', 'esnext', 'bundler', 'index.d.ts'],
	['c4 types: moduleResolution node10 (module commonjs)', 'node10/index.ts', 'commonjs', 'node10', 'index.d.ts'],
].map(([label, file, module, moduleResolution, axios]) => ({
	label,
	file,
	options: {module, moduleResolution},
	expect: [
		'vibrant-oauth2-client/dist/cjs/index.d.ts',
		'vibrant-oauth2-client/dist/cjs/axios.d.ts',
		'vibrant-oauth2-client/dist/cjs/axios-esm.d.mts',
		`axios/${axios}`,
	],
	reject: ['vibrant-oauth2-client/dist/esm/'],
}));

const tsCompilerOptions = {
	target: 'ES2022',
	lib: ['ES2022'],
	types: ['node'],
	strict: true,
	exactOptionalPropertyTypes: true,
	noUncheckedIndexedAccess: true,
	esModuleInterop: true,
	forceConsistentCasingInFileNames: true,
	skipLibCheck: false, // the package's own declarations are checked too
	noEmit: true,
};

const jestTest = `const axios = require('axios');
const {Client, VibrantTokenError, attachVibrantAuth} = require('vibrant-oauth2-client');

const {TOKEN_URL, API_URL, SMOKE_SECRET} = process.env;

test('require("vibrant-oauth2-client") gets a token and authenticates an axios instance', async () => {
	const client = new Client({clientId: 'smoke-jest', clientSecret: SMOKE_SECRET, tokenUrl: TOKEN_URL});
	const token = await client.getToken();
	expect(token).toMatch(/^Bearer tok-smoke-jest-\\d+$/);
	const api = attachVibrantAuth(axios.create({baseURL: API_URL}), {client});
	const {data} = await api.get('/echo');
	expect(data.authorization).toBe(token);
});

test('a refused token request rejects with VibrantTokenError', async () => {
	const client = new Client({clientId: 'smoke-jest', clientSecret: 'wrong-secret', tokenUrl: TOKEN_URL, retries: 0});
	await expect(client.getToken()).rejects.toBeInstanceOf(VibrantTokenError);
});
`;

function writeFiles(root, files) {
	for (const [name, text] of Object.entries(files)) {
		const file = path.join(root, name);
		mkdirSync(path.dirname(file), {recursive: true});
		writeFileSync(file, typeof text === 'string' ? text : `${JSON.stringify(text, null, '\t')}\n`);
	}
}

function listFiles(dir) {
	return readdirSync(dir, {withFileTypes: true}).flatMap(entry =>
		entry.isDirectory() ? listFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
	);
}

function json(text, what) {
	try {
		return JSON.parse(text);
	} catch {
		return fail(`${what} did not print JSON:\n${tail(text)}`);
	}
}

// ---------------------------------------------------------------------------------------------
// The checks: a table of cases in the order they are reported, in stages. A stage's `prepare` runs
// first; then every case's `start` (a slow process begun early, so the cases of a stage run side by
// side); then each case's `check`, in order, which waits for what its start began and returns the
// detail of its line (or {detail, ms}). The context `c` carries what earlier cases found out.

/** Runs the consumer program `file` against the local servers and reports what it printed. */
async function runConsumer(c, file) {
	const result = expectSuccess(await run(process.execPath, [file], {cwd: c.consumer, env: c.env, timeoutMs: 30_000}));
	return result.stdout.trim();
}

const packStage = {
	cases: [
		{
			label: 'pack: npm pack (prepack builds dist); only package.json, README.md, LICENSE, CHANGELOG.md, dist/**',
			async check(c) {
				const result = expectSuccess(
					await run('npm', ['pack', '--json', '--pack-destination', c.work], {cwd: repo, timeoutMs: 180_000}),
					'npm pack',
				);
				// npm 11 sends lifecycle output to stderr under --json; older npm may print it first on stdout.
				const listing = result.stdout.search(/^\[\s*$/m);
				const [packed] = json(listing > 0 ? result.stdout.slice(listing) : result.stdout, 'npm pack --json');
				c.tarball = path.join(c.work, packed.filename);
				const extracted = path.join(c.work, 'extracted');
				mkdirSync(extracted);
				expectSuccess(await run('tar', ['-xzf', c.tarball, '-C', extracted, '--strip-components=1']), 'tar -x');
				const files = packed.files.map(file => file.path).sort();
				const problems = checkTarballContents(files, extracted);
				if (problems.length > 0) {
					fail(`the tarball holds what it should not:\n${problems.join('\n')}\nall files: ${files.join(', ')}`);
				}

				c.manifest = JSON.parse(readFileSync(path.join(extracted, 'package.json'), 'utf8'));
				const absent = ['README.md', 'LICENSE'].filter(name => !files.includes(name));
				return `${packed.filename}, ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB${absent.length > 0 ? ` (warning: no ${absent.join(', ')})` : ''}`;
			},
		},
	],
};

// Lints and the consumer install run side by side.
const tarballStage = {
	prepare(c) {
		writeFiles(c.consumer, {'package.json': {name: 'vibrant-smoke-consumer', version: '1.0.0', private: true, license: 'UNLICENSED'}});
	},
	cases: [
		{
			label: 'publint --strict <tarball>',
			start: c => start(process.execPath, [c.bins.publint, 'run', c.tarball, '--strict'], {cwd: c.work}),
			async check(_c, started) {
				const result = await started;
				if (result.code !== 0 || !/All good!/.test(result.output) || /Errors:|Warnings:|Suggestions:/.test(result.output)) {
					fail(`publint reported (spec: "publint --strict reports nothing"):\n${result.output.trim()}`);
				}

				return {detail: 'all good, no suggestion', ms: result.ms};
			},
		},
		{
			label: 'attw <tarball> --profile strict',
			start: c => start(process.execPath, [c.bins.attw, c.tarball, '--profile', 'strict', '--format', 'json'], {cwd: c.work}),
			async check(_c, started) {
				const result = await started;
				const report = json(result.stdout, 'attw --format json');
				const problems = report.analysis?.problems ?? [];
				if (result.code !== 0 || problems.length > 0) {
					fail(
						`attw found ${problems.length} problem(s):\n${problems.map(problem => JSON.stringify(problem)).join('\n')}\n${tail(result.stderr)}`,
					);
				}

				const modes = Object.keys(report.analysis.entrypoints?.['.']?.resolutions ?? {});
				return {detail: `no problem in ${modes.join(', ')}`, ms: result.ms};
			},
		},
		{
			label: c => `install: npm install <tarball> axios@${c.axiosVersion} @types/node@${c.typesNodeVersion}`,
			start: c =>
				start(
					'npm',
					[
						'install',
						'--no-audit',
						'--no-fund',
						'--prefer-offline',
						'--loglevel=error',
						c.tarball,
						`axios@${c.axiosVersion}`,
						`@types/node@${c.typesNodeVersion}`,
					],
					{cwd: c.consumer, timeoutMs: 240_000},
				),
			async check(c, started) {
				const result = expectSuccess(await started, 'npm install');
				const installed = JSON.parse(readFileSync(path.join(c.consumer, 'node_modules/vibrant-oauth2-client/package.json'), 'utf8'));
				if (installed.version !== c.manifest.version) {
					fail(`installed ${installed.version}, packed ${c.manifest.version}`);
				}

				// The ESM-only p-memoize (and its mimic-function) must be bundled into dist/cjs, never loaded.
				const bundled = ['p-memoize', 'mimic-function'];
				const declared = bundled.filter(
					name => installed.dependencies?.[name] !== undefined || installed.peerDependencies?.[name] !== undefined,
				);
				const loading = listFiles(path.join(c.consumer, 'node_modules/vibrant-oauth2-client/dist'))
					.filter(file => /\.[cm]?js$/.test(file))
					.filter(file =>
						new RegExp(`(?:require\\(|from\\s*|import\\()\\s*["'](?:${bundled.join('|')})["']`).test(readFileSync(file, 'utf8')),
					);
				if (declared.length > 0 || loading.length > 0) {
					fail(
						`p-memoize must be bundled: declared as a dependency: ${declared.join(', ') || '-'}; loaded at run time by: ${loading.join(', ') || '-'}`,
					);
				}

				const dependencies = Object.keys(installed.dependencies ?? {}).join(', ') || 'none';
				return {detail: `runtime dependencies: ${dependencies}; p-memoize bundled`, ms: result.ms};
			},
		},
	],
};

const runtimeStage = {
	async prepare(c) {
		c.env = childEnv(await startServers());
		writeFiles(c.consumer, {'consumer.cjs': cjsConsumer, 'consumer.mjs': esmConsumer});
	},
	cases: [
		{
			label: 'a  CommonJS require: getToken() and attachVibrantAuth against local servers',
			check: async c => runConsumer(c, 'consumer.cjs'),
		},
		{
			label: 'b  ESM import: same, require() gives the same classes (instanceof holds across), one copy of axios',
			check: async c => runConsumer(c, 'consumer.mjs'),
		},
	],
};

// The TypeScript programs and the Jest project run side by side.
const typesStage = {
	cases: [
		...tsModes.map((mode, index) => ({
			label: mode.label,
			start(c) {
				const tsRoot = path.join(c.consumer, 'ts');
				const config = `tsconfig.${index + 1}.json`;
				writeFiles(tsRoot, {
					[mode.file]: tsConsumer,
					[config]: {compilerOptions: {...tsCompilerOptions, ...mode.options}, files: [mode.file]},
				});
				return start(process.execPath, [c.bins.tsc, '-p', config, '--listFiles', '--pretty', 'false'], {cwd: tsRoot, timeoutMs: 120_000});
			},
			async check(_c, started) {
				const result = await started;
				if (result.code !== 0 || result.timedOut) {
					fail(
						`tsc reported errors for ${mode.file}:\n${tail(
							result.stdout
								.split('\n')
								.filter(line => !line.startsWith('/'))
								.join('\n'),
						)}\n${tail(result.stderr)}`,
					);
				}

				const listed = result.stdout.split('\n').map(line => line.split(path.sep).join('/'));
				const has = suffix => listed.some(line => line.includes(`/node_modules/${suffix}`));
				const missing = mode.expect.filter(suffix => !has(suffix));
				const wrong = mode.reject.filter(suffix => has(suffix));
				if (missing.length > 0 || wrong.length > 0) {
					fail(
						`unexpected resolution for ${mode.file}: missing ${missing.join(', ') || '-'}; unexpectedly loaded ${wrong.join(', ') || '-'}`,
					);
				}

				return {detail: `public API + vibrantAuth augmentation OK via ${mode.expect[0]} and ${mode.expect.at(-1)}`, ms: result.ms};
			},
		})),
		{
			label: 'd  Jest (default config, no transform): require() gets a token',
			start(c) {
				const jestRoot = path.join(c.consumer, 'jest-consumer');
				writeFiles(jestRoot, {'package.json': {name: 'jest-consumer', private: true}, 'token.test.js': jestTest});
				const outputFile = path.join(c.consumer, 'jest-results.json');
				const cacheDirectory = path.join(c.consumer, '.jest-cache');
				const flags = ['--ci', '--runInBand', '--watchman=false', '--cacheDirectory', cacheDirectory, '--json', '--outputFile', outputFile];
				return start(process.execPath, [c.bins.jest, '--rootDir', jestRoot, ...flags], {cwd: jestRoot, env: c.env, timeoutMs: 120_000});
			},
			async check(c, started) {
				const result = await started;
				const jestResults = path.join(c.consumer, 'jest-results.json');
				const report = existsSync(jestResults) ? JSON.parse(readFileSync(jestResults, 'utf8')) : undefined;
				if (result.code !== 0 || result.timedOut || report === undefined || report.numFailedTests !== 0 || report.numPassedTests !== 2) {
					fail(`jest failed${result.timedOut ? ' (timed out: an open handle?)' : ''}:\n${tail(result.stderr)}`);
				}

				return {detail: `${report.numPassedTests} tests passed`, ms: result.ms};
			},
		},
	],
};

/** One case per `bin` of the packed manifest (known once the pack case has run). */
const binStage = {
	prepare(c) {
		const binaries = typeof c.manifest.bin === 'string' ? {[c.manifest.name]: c.manifest.bin} : (c.manifest.bin ?? {});
		if (Object.keys(binaries).length === 0) {
			console.log('skip bin: package.json has no "bin" yet');
		}

		c.binaries = Object.keys(binaries);
	},
	cases: c =>
		c.binaries.map(name => ({
			label: `bin: node_modules/.bin/${name} prints a token`,
			async check() {
				const binEnv = {...c.env, VIBRANT_CLIENT_ID: 'smoke-bin', VIBRANT_CLIENT_SECRET: secret, VIBRANT_TOKEN_URL: c.env.TOKEN_URL};
				const result = expectSuccess(
					await run(path.join(c.consumer, 'node_modules', '.bin', name), [], {cwd: c.consumer, env: binEnv, timeoutMs: 30_000}),
				);
				if (!/^Bearer tok-smoke-bin-\d+$/.test(result.stdout.trim())) {
					fail(`expected "Bearer tok-smoke-bin-…" on stdout, got:\n${tail(result.output)}`);
				}

				return result.stdout.trim();
			},
		})),
};

const stages = [packStage, tarballStage, runtimeStage, typesStage, binStage];

async function main() {
	const c = {
		bins: {tsc: repoBin('tsc'), jest: repoBin('jest'), publint: repoBin('publint'), attw: repoBin('attw')},
		axiosVersion: repoVersion('axios'),
		typesNodeVersion: repoVersion('@types/node'),
		work: makeTempDir('pack'),
		consumer: makeTempDir('consumer'),
	};
	for (const stage of stages) {
		await stage.prepare?.(c);
		const cases = typeof stage.cases === 'function' ? stage.cases(c) : stage.cases;
		const started = cases.map(entry => entry.start?.(c));
		for (const [index, entry] of cases.entries()) {
			await check(typeof entry.label === 'function' ? entry.label(c) : entry.label, async () => entry.check(c, started[index]));
		}
	}
}

let exitCode = 0;
try {
	await main();
	console.log(`all ${checkCount} checks passed in ${seconds(started)}`);
} catch (error) {
	if (!(error instanceof CheckFailed)) {
		console.error(error);
	}

	console.log(`smoke test failed after ${checkCount} passing check(s), in ${seconds(started)}`);
	exitCode = 1;
} finally {
	await cleanup();
}

process.exit(exitCode);
