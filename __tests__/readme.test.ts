import {execFile} from 'node:child_process';
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {promisify} from 'node:util';
import ts from 'typescript';
import {startTokenServer} from './helpers/token-server.js';

// Every ```ts block of the README must compile against the built package, as a user's .mts file.
const root = path.resolve(__dirname, '..');
const directory = path.join(root, '.readme-check');

afterAll(() => {
	rmSync(directory, {recursive: true, force: true});
});

test("the README's TypeScript examples type-check against the published types", async () => {
	const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
	const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(match => match[1]!);
	// The error class declarations are a summary, not a program. A block that imports a generated
	// API client ("./client/…") is checked against a really generated one, by generated-client.test.ts.
	const programs = blocks.filter(block => block.includes('from "vibrant-oauth2-client"') && !block.includes('from "./client/'));
	expect(programs.length).toBeGreaterThanOrEqual(8);
	rmSync(directory, {recursive: true, force: true});
	mkdirSync(directory);
	const files = programs.map((block, index) => {
		const file = path.join(directory, `example-${index + 1}.mts`);
		writeFileSync(file, `${block}\nexport {};\n`);
		return file;
	});
	const tsc = require.resolve('typescript/bin/tsc');
	const options = ['--noEmit', '--strict', '--module', 'node16', '--target', 'es2022', '--types', 'node', '--skipLibCheck'];
	const result = await promisify(execFile)(process.execPath, [tsc, ...options, ...files], {cwd: root}).catch(
		(error: unknown) => error as {stdout: string},
	);
	expect(result.stdout).toBe('');
}, 60_000);

test("the README's own TokenStore runs: two clients on it make one token request", async () => {
	const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
	const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(match => match[1]!).find(text => text.includes('class MemoryTokenStore'));
	expect(block).toBeDefined();
	const {outputText} = ts.transpileModule(block!, {compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}});
	const run = path.join(directory, 'run');
	mkdirSync(run, {recursive: true});
	writeFileSync(path.join(run, 'custom-store.mjs'), outputText);
	const tokens = await startTokenServer();
	try {
		const {stdout} = await promisify(execFile)(process.execPath, [path.join(run, 'custom-store.mjs')], {
			cwd: root,
			env: {...process.env, VIBRANT_CLIENT_ID: 'readme-client', VIBRANT_CLIENT_SECRET: 'readme-secret', VIBRANT_TOKEN_URL: tokens.url},
		});
		expect(stdout).toBe('true\n');
		expect(tokens.requests).toHaveLength(1);
	} finally {
		await tokens.close();
	}
}, 30_000);

test("the README's OpenTelemetry example turns each token request into a span", async () => {
	const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
	const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(match => match[1]!).find(text => text.includes('@opentelemetry/api'));
	expect(block).toBeDefined();
	const {outputText} = ts.transpileModule(block!, {compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}});
	const run = path.join(directory, 'run');
	mkdirSync(run, {recursive: true});
	writeFileSync(path.join(run, 'otel-example.mjs'), outputText);
	// A tracer provider written for the test: it records what the example does with its spans.
	writeFileSync(
		path.join(run, 'otel-run.mjs'),
		`
		import {trace} from '@opentelemetry/api';
		const spans = [];
		const tracer = {
			startSpan(name, options = {}) {
				const span = {
					name, kind: options.kind, attributes: {...options.attributes}, exceptions: [], status: undefined, ended: false,
					setAttribute(key, value) { this.attributes[key] = value; return this; },
					recordException(error) { this.exceptions.push(String(error.name)); },
					setStatus(status) { this.status = status; return this; },
					end() { this.ended = true; },
				};
				spans.push(span);
				return span;
			},
		};
		trace.setGlobalTracerProvider({getTracer: () => tracer});
		await import('./otel-example.mjs');
		const {Client} = await import('vibrant-oauth2-client');
		const options = {clientId: 'otel-client', clientSecret: 'otel-secret', scope: 'orders:read'};
		await new Client({...options, tokenUrl: process.env.TOKEN_URL}).getToken();
		await new Client({...options, tokenUrl: process.env.CLOSED_URL, retries: 0}).getToken().catch(() => {});
		console.log(JSON.stringify(spans));
		`,
	);
	const tokens = await startTokenServer();
	const closed = await startTokenServer();
	const closedUrl = closed.url;
	await closed.close();
	try {
		const {stdout} = await promisify(execFile)(process.execPath, [path.join(run, 'otel-run.mjs')], {
			cwd: root,
			env: {...process.env, TOKEN_URL: tokens.url, CLOSED_URL: closedUrl},
		});
		const spans = JSON.parse(stdout) as Array<{
			name: string;
			kind: number;
			attributes: Record<string, unknown>;
			exceptions: string[];
			status?: {code: number};
			ended: boolean;
		}>;
		expect(spans).toHaveLength(2);
		const [success, failure] = spans;
		expect(success).toMatchObject({name: 'oauth2 token', kind: 2, exceptions: [], ended: true});
		expect(success!.status).toBeUndefined();
		expect(success!.attributes).toMatchObject({
			'url.full': tokens.url,
			'oauth2.client_id': 'otel-client',
			'oauth2.scope': 'orders:read',
			'vibrant.token.reason': 'miss',
		});
		expect(success!.attributes['vibrant.token.expires_at']).toBeGreaterThan(Date.now() + 3_500_000);
		expect(failure).toMatchObject({name: 'oauth2 token', exceptions: ['VibrantTokenError'], status: {code: 2}, ended: true});
		expect(failure!.attributes['url.full']).toBe(closedUrl);
		expect(tokens.requests).toHaveLength(1);
	} finally {
		await tokens.close();
	}
}, 30_000);
