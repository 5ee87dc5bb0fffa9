// vibrant-oauth2-client end to end, with no credentials and no network: a real OAuth2
// authorization server (oidc-provider) and a protected API that checks tokens by introspection,
// both on 127.0.0.1. Every count printed comes from the servers; a wrong count exits 1.
//
// Run after `npm run build`: it loads the built package by its own name, as a user would.
import http from 'node:http';
import axios from 'axios';
import {Client, attachVibrantAuth} from 'vibrant-oauth2-client';
import {grantedScope, startAuthServer} from '../__tests__/helpers/oidc/auth-server.mjs';
import {narration} from './narration.mjs';

const {expectCount, failures, print, finish} = narration();

/** A tiny server standing for another origin: it records whether requests carried Authorization. */
async function startForeignServer() {
	const seen = [];
	const server = http.createServer((request, response) => {
		seen.push(request.headers.authorization);
		response.writeHead(200, {'Content-Type': 'application/json'});
		response.end('{"hello":"from another origin"}');
	});
	server.keepAliveTimeout = 0;
	await new Promise(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	return {
		origin: `http://127.0.0.1:${server.address().port}`,
		seen,
		close: () =>
			new Promise(resolve => {
				server.closeAllConnections();
				server.close(() => {
					resolve();
				});
			}),
	};
}

/** The endpoint a real `new Client()` would use, shown without any user:password@. */
function realTokenUrl() {
	const configured = process.env.VIBRANT_TOKEN_URL?.trim() || 'https://api.vibrant-wellness.com/v1/oauth2/token';
	try {
		const url = new URL(configured);
		return `${url.origin}${url.pathname}`;
	} catch {
		return 'VIBRANT_TOKEN_URL (not a valid URL)';
	}
}

const auth = await startAuthServer();
const foreign = await startForeignServer();

/** What the servers counted while `action` ran, and what it returned. */
async function measure(action) {
	const before = auth.counts();
	const result = await action();
	const after = auth.counts();
	const change = {};
	for (const key of Object.keys(after)) {
		change[key] = after[key] - before[key];
	}

	return {result, change};
}

/** A client and an axios instance of our own: every setting explicit, so VIBRANT_* changes nothing. */
function makeApi() {
	const {clientId, clientSecret} = auth.clients.post;
	const client = new Client({clientId, clientSecret, tokenUrl: auth.tokenUrl, scope: grantedScope, authMethod: 'client_secret_post'});
	return {client, api: attachVibrantAuth(axios.create({baseURL: auth.apiOrigin}), {client})};
}

try {
	print('vibrant-oauth2-client demo: a real OAuth2 server (oidc-provider) and a protected API on 127.0.0.1');
	print(`  token endpoint ${auth.tokenUrl}, API ${auth.apiOrigin}; counts below are the servers' own`);
	if (process.env.VIBRANT_CLIENT_ID && process.env.VIBRANT_CLIENT_SECRET) {
		print(
			`  VIBRANT_CLIENT_ID/VIBRANT_CLIENT_SECRET are set: \`new Client()\` and \`npx vibrant-token\` use them with ${realTokenUrl()}; this demo does not.`,
		);
	}

	const {client, api} = makeApi();

	// 1. Cold start: the first request fetches a token.
	const first = await measure(() => api.get('/labs/1'));
	print(
		`1. First request GET /labs/1 -> ${first.result.status}: the client fetched a token ` +
			`(token requests: ${expectCount('first request: token requests', first.change.tokenRequests, 1)}, ` +
			`API calls: ${expectCount('first request: API calls', first.change.apiCalls, 1)}).`,
	);
	const firstFingerprint = first.result.data.token_fingerprint;

	// 2. Warm: the next requests reuse it.
	const next = await measure(async () => {
		const responses = [];
		for (const path of ['/labs/2', '/labs/3', '/labs/4', '/labs/5']) {
			responses.push(await api.get(path));
		}

		return responses;
	});
	const reused = next.result.every(response => response.data.token_fingerprint === firstFingerprint);
	expectCount('next requests: same token', reused, true);
	print(
		`2. Next 4 requests -> ${next.result.map(response => response.status).join(', ')}, ${reused ? 'all with the same token' : 'NOT all with the same token'} ` +
			`(token requests: ${expectCount('next requests: token requests', next.change.tokenRequests, 0)}, ` +
			`API calls: ${expectCount('next requests: API calls', next.change.apiCalls, 4)}).`,
	);

	// 3. Concurrency: 20 simultaneous cold requests on a fresh client share one fetch.
	const fresh = makeApi();
	const burst = await measure(() => Promise.all(Array.from({length: 20}, (_, index) => fresh.api.get(`/labs/burst/${index}`))));
	const burstTokens = new Set(burst.result.map(response => response.data.token_fingerprint)).size;
	const burstOk = burst.result.filter(response => response.status === 200).length;
	print(
		`3. 20 concurrent requests on a fresh client -> ${expectCount('burst: 200 answers', burstOk, 20)}×200 with ` +
			`${expectCount('burst: distinct tokens', burstTokens, 1)} token: they shared one fetch ` +
			`(token requests: ${expectCount('burst: token requests', burst.change.tokenRequests, 1)}, ` +
			`API calls: ${expectCount('burst: API calls', burst.change.apiCalls, 20)}).`,
	);

	// 4. Revocation: the API answers 401, the interceptor fetches a new token and retries once.
	const revoked = await client.getToken();
	await auth.revoke(revoked);
	const {active} = await auth.introspect(revoked);
	expectCount('revoked token: introspection active', active, false);
	const recovery = await measure(() => api.get('/labs/6'));
	expectCount('recovery: new token', recovery.result.data.token_fingerprint !== firstFingerprint, true);
	print(`4. Token revoked at the server (introspection: active=${active}); GET /labs/6 -> ${recovery.result.status} after one retry`);
	print(
		`   (API calls: ${expectCount('recovery: API calls', recovery.change.apiCalls, 2)}, ` +
			`of which 401: ${expectCount('recovery: 401 answers', recovery.change.apiRejected, 1)}; ` +
			`token requests: ${expectCount('recovery: token requests', recovery.change.tokenRequests, 1)}).`,
	);

	// 5. Another origin never sees the token.
	const other = await measure(() => api.get(`${foreign.origin}/hello`));
	expectCount('foreign origin: requests received', foreign.seen.length, 1);
	const header = foreign.seen[0];
	expectCount('foreign origin: carried an Authorization header', header !== undefined, false);
	expectCount('foreign origin: token requests', other.change.tokenRequests, 0);
	expectCount('foreign origin: API calls', other.change.apiCalls, 0);
	print(
		`5. GET ${foreign.origin}/hello (another origin) -> ${other.result.status}, ` +
			`${header === undefined ? 'with no Authorization header' : 'WITH an Authorization header'}.`,
	);

	const {tokenRequests, tokensIssued, apiCalls} = auth.counts();
	print(`Totals from the servers: ${tokenRequests} token requests (${tokensIssued} tokens issued), ${apiCalls} API calls.`);
} catch (error) {
	failures.push(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
} finally {
	await Promise.all([auth.close(), foreign.close()]);
}

finish('All checks passed; servers stopped.');
