// The benchmark's servers, run in a child process of bench/run.mjs and bench/fleet.mjs so that
// their CPU time and heap are not the client's: an OAuth2 token endpoint and a protected API on
// 127.0.0.1 (ephemeral ports, keep-alive). Driven over the harness protocol (harness/rpc.cjs); ready
// with {tokenUrl, apiBase}. Commands: configure({tokenLatencyMs?, expiresIn?}), stats(), reset(),
// revoke() (every token issued so far), close().
import {randomBytes} from 'node:crypto';
import http from 'node:http';
import {serve} from '../harness/rpc.cjs';

const settings = {
	/** Delay before the token endpoint answers, in ms. */
	tokenLatencyMs: 0,
	/** expires_in of issued tokens, in seconds. */
	expiresIn: 3600,
};

const counters = {tokenRequests: 0, apiCalls: 0, api401: 0};
/** x-bench-id → API calls, to count the attempts of one logical request (a retry keeps the header). */
const callsPerId = new Map();
/** access_token → server-side expiry (epoch ms); a revoked token is deleted. */
const tokens = new Map();
let serial = 0;

function readBody(request) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		request.on('data', chunk => chunks.push(chunk));
		request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		request.on('error', reject);
	});
}

function send(response, status, body, headers = {}) {
	const payload = JSON.stringify(body);
	response.writeHead(status, {
		'Content-Type': 'application/json',
		'Content-Length': Buffer.byteLength(payload),
		...headers,
	});
	response.end(payload);
}

const tokenServer = http.createServer(async (request, response) => {
	counters.tokenRequests++;
	const form = new URLSearchParams(await readBody(request));
	if (request.method !== 'POST' || form.get('grant_type') !== 'client_credentials' || form.get('client_secret') !== 'bench-secret') {
		send(response, 401, {error: 'invalid_client'});
		return;
	}

	if (settings.tokenLatencyMs > 0) {
		await new Promise(resolve => {
			setTimeout(resolve, settings.tokenLatencyMs);
		});
	}

	const accessToken = `t${++serial}.${randomBytes(12).toString('hex')}`;
	tokens.set(accessToken, Date.now() + settings.expiresIn * 1000);
	send(response, 200, {access_token: accessToken, token_type: 'Bearer', expires_in: settings.expiresIn, scope: null});
});

const okBody = JSON.stringify({ok: true});
const apiServer = http.createServer((request, response) => {
	counters.apiCalls++;
	const id = request.headers['x-bench-id'];
	if (id !== undefined) {
		callsPerId.set(id, (callsPerId.get(id) ?? 0) + 1);
	}

	const authorization = request.headers.authorization ?? '';
	const accessToken = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
	const expiresAt = tokens.get(accessToken);
	// Drain the (empty) request body so the socket is reused.
	request.resume();
	if (expiresAt === undefined || Date.now() >= expiresAt) {
		counters.api401++;
		send(response, 401, {error: 'invalid_token'}, {'WWW-Authenticate': 'Bearer error="invalid_token"'});
		return;
	}

	response.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': okBody.length});
	response.end(okBody);
});

for (const server of [tokenServer, apiServer]) {
	// Keep idle client sockets open for the whole run (Node's default is 5 s).
	server.keepAliveTimeout = 120_000;
	server.headersTimeout = 130_000;
}

function listen(server) {
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve(server.address().port));
	});
}

const commands = {
	configure(args) {
		Object.assign(settings, args);
		return {...settings};
	},
	stats() {
		let maxCallsPerId = 0;
		for (const calls of callsPerId.values()) {
			maxCallsPerId = Math.max(maxCallsPerId, calls);
		}

		return {...counters, maxCallsPerId, liveTokens: tokens.size};
	},
	reset() {
		counters.tokenRequests = 0;
		counters.apiCalls = 0;
		counters.api401 = 0;
		callsPerId.clear();
		return {...counters};
	},
	/** Every token issued so far is rejected from now on. */
	revoke() {
		const revoked = tokens.size;
		tokens.clear();
		return {revoked};
	},
	async close() {
		tokenServer.closeAllConnections();
		apiServer.closeAllConnections();
		await Promise.all([new Promise(resolve => tokenServer.close(resolve)), new Promise(resolve => apiServer.close(resolve))]);
		setImmediate(() => process.exit(0));
		return {};
	},
};

const [tokenPort, apiPort] = await Promise.all([listen(tokenServer), listen(apiServer)]);
serve(commands, {ready: {tokenUrl: `http://127.0.0.1:${tokenPort}/oauth2/token`, apiBase: `http://127.0.0.1:${apiPort}/v1`}});
