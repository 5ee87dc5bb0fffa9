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
