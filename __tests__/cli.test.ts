import {execFile} from 'node:child_process';
import path from 'node:path';
import {clientId, secret, secretForms} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

const bin = path.resolve(__dirname, '../dist/cjs/cli.js');

type Result = {code: number; stdout: string; stderr: string};

async function vibrantToken(args: string[], environment: Record<string, string | undefined>): Promise<Result> {
	const env: NodeJS.ProcessEnv = {...process.env};
	for (const name of ['VIBRANT_CLIENT_ID', 'VIBRANT_CLIENT_SECRET', 'VIBRANT_TOKEN_URL', 'VIBRANT_SCOPE', 'NODE_DEBUG']) {
		Reflect.deleteProperty(env, name);
	}

	return new Promise(resolve => {
		execFile(process.execPath, [bin, ...args], {env: {...env, ...environment}}, (error, stdout, stderr) => {
			resolve({code: error ? Number(error.code) : 0, stdout, stderr});
		});
	});
}

let server: TokenServer;
beforeEach(async () => {
	server = await startTokenServer();
});
afterEach(async () => {
	await server.close();
});

const credentials = () => ({VIBRANT_CLIENT_ID: clientId, VIBRANT_CLIENT_SECRET: secret, VIBRANT_TOKEN_URL: server.url});

describe('vibrant-token', () => {
	test('prints the Authorization header value', async () => {
		expect(await vibrantToken([], credentials())).toEqual({code: 0, stdout: 'Bearer token-1\n', stderr: ''});
		expect(server.requests[0]!.form.get('client_secret')).toBe(secret);
	});

	test("--json prints the token endpoint's answer", async () => {
		server.reply({body: {access_token: 'abc', token_type: 'bearer', expires_in: 60, scope: 'labs:read'}});
		const result = await vibrantToken(['--json', '--scope', 'labs:read'], credentials());
		expect(result.code).toBe(0);
		expect(JSON.parse(result.stdout)).toEqual({access_token: 'abc', token_type: 'bearer', expires_in: 60, scope: 'labs:read'});
		expect(server.requests[0]!.form.get('scope')).toBe('labs:read');
	});

	test('--json never prints a secret that the server echoes', async () => {
		server.reply(request => ({body: {access_token: 'abc', echo: request.form.get('client_secret'), form: request.body}}));
		const result = await vibrantToken(['--json'], credentials());
		expect(result.code).toBe(0);
		expect(JSON.parse(result.stdout)).toMatchObject({access_token: 'abc', echo: '[redacted]'});
		for (const form of secretForms) {
			expect(result.stdout).not.toContain(form);
		}
	});

	test('--token-url overrides VIBRANT_TOKEN_URL', async () => {
		const result = await vibrantToken(['--token-url', server.url], {...credentials(), VIBRANT_TOKEN_URL: 'http://127.0.0.1:1/nowhere'});
		expect(result).toEqual({code: 0, stdout: 'Bearer token-1\n', stderr: ''});
	});

	test('a refused token: one line on stderr, exit code 1, never the secret', async () => {
		server.reply(request => ({status: 401, body: {error: 'invalid_client', error_description: `echo ${request.body}`}}));
		const result = await vibrantToken([], credentials());
		expect(result.code).toBe(1);
		expect(result.stdout).toBe('');
		expect(result.stderr).toMatch(
			/^vibrant-token: Token endpoint answered 401 invalid_client .*check VIBRANT_CLIENT_ID \/ VIBRANT_CLIENT_SECRET.*\n$/,
		);
		expect(result.stderr.split('\n')).toHaveLength(2);
		for (const form of secretForms) {
			expect(result.stderr).not.toContain(form);
		}
	});

	test('missing configuration: exit code 1 naming the variable', async () => {
		const result = await vibrantToken([], {});
		expect(result).toEqual({
			code: 1,
			stdout: '',
			stderr: 'vibrant-token: Missing clientId: pass the clientId option or set VIBRANT_CLIENT_ID.\n',
		});
	});

	test('bad usage: exit code 2', async () => {
		const result = await vibrantToken(['--bogus'], credentials());
		expect(result.code).toBe(2);
		expect(result.stderr).toContain("Unknown option '--bogus'");
		const method = await vibrantToken(['--auth-method', 'private_key_jwt'], credentials());
		expect(method).toEqual({
			code: 2,
			stdout: '',
			stderr: "vibrant-token: --auth-method must be client_secret_post or client_secret_basic\nTry 'vibrant-token --help'.\n",
		});
		expect(server.requests).toHaveLength(0);
	});

	test('--auth-method client_secret_basic sends a Basic header', async () => {
		expect((await vibrantToken(['--auth-method', 'client_secret_basic'], credentials())).code).toBe(0);
		expect(server.requests[0]!.headers.authorization).toMatch(/^Basic /);
		expect(server.requests[0]!.form.has('client_secret')).toBe(false);
	});

	test('--help: usage on stdout, exit code 0, no request', async () => {
		const result = await vibrantToken(['--help'], {});
		expect(result.code).toBe(0);
		expect(result.stdout).toMatch(/^Usage: vibrant-token \[options\]/);
		expect(server.requests).toHaveLength(0);
	});
});
