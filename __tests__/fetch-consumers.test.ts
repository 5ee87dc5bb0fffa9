import {execFile} from 'node:child_process';
import path from 'node:path';
import {promisify} from 'node:util';
import {type ApiServer, startApiServer} from './helpers/api-server.js';
import {clientId, secret} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

// ky and openapi-fetch, real and unmodified, with withVibrantAuth as their fetch. They are ES
// modules, so they run in plain Node against the built package (npm test builds it first), as a
// user's code runs; the servers stay here, where the test counts what reached them.
const root = path.resolve(__dirname, '..');
const script = path.join(__dirname, 'helpers', 'fetch-consumers.mjs');

let tokens: TokenServer;
let api: ApiServer;
beforeEach(async () => {
	[tokens, api] = await Promise.all([startTokenServer(), startApiServer()]);
});
afterEach(async () => {
	await Promise.all([tokens.close(), api.close()]);
});

test.each(['ky', 'openapi-fetch'])(
	'as the fetch of %s: gets the token, and recovers from a 401 with the body sent again',
	async consumer => {
		// The first token the client gets is already revoked: its first request meets a 401.
		api.revoke('Bearer token-1');
		const {stdout} = await promisify(execFile)(process.execPath, [script, consumer, api.origin], {
			cwd: root,
			env: {...process.env, VIBRANT_CLIENT_ID: clientId, VIBRANT_CLIENT_SECRET: secret, VIBRANT_TOKEN_URL: tokens.url},
		});
		expect(JSON.parse(stdout)).toEqual([
			{authorization: 'Bearer token-2', method: 'POST', body: '{"panel":"gut"}'},
			{authorization: 'Bearer token-2', method: 'GET', body: ''},
		]);
		expect(
			api.calls.map(call => [call.method, call.path, call.headers.authorization, call.headers['content-type'] ?? null, call.body]),
		).toEqual([
			['POST', '/v1/orders', 'Bearer token-1', 'application/json', '{"panel":"gut"}'],
			['POST', '/v1/orders', 'Bearer token-2', 'application/json', '{"panel":"gut"}'],
			['GET', '/v1/orders/1', 'Bearer token-2', null, ''],
		]);
		expect(tokens.requests).toHaveLength(2);
		expect(tokens.requests[0]!.form.get('client_id')).toBe(clientId);
	},
);
