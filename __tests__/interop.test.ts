// Interoperability with a real OAuth2 authorization server (oidc-provider) and a protected API that
// checks tokens by introspection. Every count comes from the servers.
import {execFile} from 'node:child_process';
import path from 'node:path';
import {inspect, promisify} from 'node:util';
import axios from 'axios';
import {type AuthMethod, Client, VibrantTokenError, attachVibrantAuth, detachVibrantAuth} from '../lib/index.js';
import {type AuthServer, type AuthServerCounts, grantedScope, startAuthServer} from './helpers/oidc/index.js';

let server: AuthServer;

beforeAll(async () => {
	server = await startAuthServer();
});

afterAll(async () => {
	await server.close();
});

/** What changed on the servers while `action` ran. */
async function delta(action: () => Promise<unknown>): Promise<AuthServerCounts> {
	const before = await server.counts();
	await action();
	const after = await server.counts();
	return {
		tokenRequests: after.tokenRequests - before.tokenRequests,
		tokensIssued: after.tokensIssued - before.tokensIssued,
		tokenErrors: after.tokenErrors - before.tokenErrors,
		apiCalls: after.apiCalls - before.apiCalls,
		apiRejected: after.apiRejected - before.apiRejected,
	};
}

const methods = [
	['client_secret_post', 'post'],
	['client_secret_basic', 'basic'],
] as const satisfies ReadonlyArray<readonly [AuthMethod, 'post' | 'basic']>;

function clientFor(method: AuthMethod, key: 'post' | 'basic', scope: string | readonly string[]): Client {
	const {clientId, clientSecret} = server.clients[key];
	// Every setting explicit, so that VIBRANT_* variables in the environment change nothing.
	return new Client({clientId, clientSecret, tokenUrl: server.tokenUrl, authMethod: method, scope});
}

describe.each(methods)('%s', (method, key) => {
	test('gets a token that the provider reports active, with one token request', async () => {
		const client = clientFor(method, key, []);
		let token = '';
		const changes = await delta(async () => {
			token = await client.getToken();
			// Cached: no second request.
			expect(await client.getToken()).toBe(token);
		});

		expect(changes).toMatchObject({tokenRequests: 1, tokensIssued: 1, tokenErrors: 0});
		expect(token).toMatch(/^Bearer \S+$/);
		const introspection = await server.introspect(token);
		expect(introspection).toMatchObject({active: true, client_id: server.clients[key].clientId, token_type: 'Bearer'});
		expect(introspection.scope).toBeUndefined();
	});

	test('is granted the scope it asks for', async () => {
		const client = clientFor(method, key, [grantedScope]);
		let token = '';
		const changes = await delta(async () => {
			token = await client.getToken();
		});

		expect(changes).toMatchObject({tokenRequests: 1, tokensIssued: 1});
		expect(await server.introspect(token)).toMatchObject({active: true, scope: grantedScope});
	});

	test('a scope the client may not have is refused with invalid_scope, not retried', async () => {
		const client = clientFor(method, key, 'labs:write');
		let error: unknown;
		const changes = await delta(async () => {
			error = await client.getToken().catch((error_: unknown) => error_);
		});

		expect(error).toBeInstanceOf(VibrantTokenError);
		expect(error).toMatchObject({status: 400, oauthError: 'invalid_scope'});
		expect(changes).toMatchObject({tokenRequests: 1, tokensIssued: 0, tokenErrors: 1});
	});

	test('a wrong secret is refused with invalid_client, not retried, and never shown', async () => {
		const {clientId} = server.clients[key];
		// VSCHARs that the form body and the Basic header must encode.
		const wrongSecret = `wrong ${method} secret+:%/&=${Date.now()}`;
		const client = new Client({clientId, clientSecret: wrongSecret, tokenUrl: server.tokenUrl, authMethod: method, scope: []});
		let error: unknown;
		const changes = await delta(async () => {
			error = await client.getToken().catch((error_: unknown) => error_);
		});

		expect(error).toBeInstanceOf(VibrantTokenError);
		const tokenError = error as VibrantTokenError;
		expect(tokenError.status).toBe(401);
		expect(tokenError.oauthError).toBe('invalid_client');
		expect(changes).toMatchObject({tokenRequests: 1, tokensIssued: 0, tokenErrors: 1});

		const formEncoded = new URLSearchParams({v: wrongSecret}).toString().slice(2);
		const forms = [
			wrongSecret,
			encodeURIComponent(wrongSecret),
			formEncoded,
			Buffer.from(`${clientId}:${formEncoded}`).toString('base64'),
			Buffer.from(`${clientId}:${wrongSecret}`).toString('base64'),
		];
		const renderings = [
			tokenError.message,
			tokenError.stack ?? '',
			inspect(tokenError, {depth: Infinity, showHidden: true}),
			JSON.stringify(tokenError),
			JSON.stringify(tokenError.cause ?? null),
			inspect(client, {depth: Infinity}),
			JSON.stringify(client),
		];
		for (const rendering of renderings) {
			for (const form of forms) {
				expect(rendering).not.toContain(form);
			}
		}
	});
});

test('attachVibrantAuth: one token for many requests, and a revoked token recovered by one retry', async () => {
	const client = clientFor('client_secret_post', 'post', [grantedScope]);
	const api = attachVibrantAuth(axios.create({baseURL: server.apiOrigin}), {client});
	try {
		const warmUp = await delta(async () => {
			for (const path of ['/labs/1', '/labs/2', '/labs/3']) {
				const response = await api.get<{client_id: string; scope: string}>(path);
				expect(response.status).toBe(200);
				expect(response.data).toMatchObject({client_id: server.clients.post.clientId, scope: grantedScope});
			}
		});
		expect(warmUp).toMatchObject({tokenRequests: 1, tokensIssued: 1, apiCalls: 3, apiRejected: 0});

		const revoked = await client.getToken();
		await server.revoke(revoked);
		expect(await server.introspect(revoked)).toEqual({active: false});

		const recovery = await delta(async () => {
			const response = await api.get('/labs/4');
			expect(response.status).toBe(200);
		});
		// The first attempt is refused (401), the token is replaced, the retry passes.
		expect(recovery).toMatchObject({tokenRequests: 1, tokensIssued: 1, apiCalls: 2, apiRejected: 1});
		const fresh = await client.getToken();
		expect(fresh).not.toBe(revoked);
		expect(await server.introspect(fresh)).toMatchObject({active: true});
	} finally {
		detachVibrantAuth(api);
	}
});

test('the vibrant-token bin gets a token the provider reports active, and reports a wrong secret', async () => {
	const {clientId, clientSecret} = server.clients.basic;
	const bin = path.resolve(__dirname, '../dist/cjs/cli.js');
	const run = async (secret: string): Promise<{code?: number; stdout: string; stderr: string}> =>
		promisify(execFile)(process.execPath, [bin, '--auth-method', 'client_secret_basic', '--scope', grantedScope], {
			env: {...process.env, VIBRANT_CLIENT_ID: clientId, VIBRANT_CLIENT_SECRET: secret, VIBRANT_TOKEN_URL: server.tokenUrl},
		}).catch((error: unknown) => error as {code: number; stdout: string; stderr: string});
	let output: {stdout: string; stderr: string; code?: number} = {stdout: '', stderr: ''};
	const changes = await delta(async () => {
		output = await run(clientSecret);
	});
	expect(output).toEqual({stdout: expect.stringMatching(/^Bearer \S+\n$/) as unknown, stderr: ''});
	expect(changes).toMatchObject({tokenRequests: 1, tokensIssued: 1});
	expect(await server.introspect(output.stdout.trim())).toMatchObject({active: true, scope: grantedScope, client_id: clientId});

	const wrongSecret = `${clientSecret}-wrong`;
	const refused = await run(wrongSecret);
	expect(refused.code).toBe(1);
	expect(refused.stdout).toBe('');
	expect(refused.stderr).toMatch(/^vibrant-token: Token endpoint answered 401 invalid_client.*\n$/);
	expect(refused.stderr).not.toContain(wrongSecret);
});
