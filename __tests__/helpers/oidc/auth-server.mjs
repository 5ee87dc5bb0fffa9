// An embedded OAuth2 authorization server (oidc-provider 9: client credentials, introspection,
// revocation) and a small protected API that checks its bearer tokens by introspection, both on
// 127.0.0.1 and ephemeral ports. Every count comes from the servers themselves.
//
// Plain ESM because oidc-provider is ESM-only: the demo imports this module directly, and the
// Jest suites (CommonJS) run it in a worker thread through ./worker.mjs and ./index.ts.
import {createHash, generateKeyPairSync, randomBytes} from 'node:crypto';
import http from 'node:http';

/** The scope the service clients may ask for; `labs:write` exists but is not theirs. */
export const grantedScope = 'labs:read';

const apiClientId = 'protected-api';

const Provider = await importQuietly();

/**
 * oidc-provider 9 supports Node.js ≥ 22 LTS and says so with a console warning when it is loaded
 * on Node.js 20; it works there for what these servers use. Only that one line is dropped.
 */
async function importQuietly() {
	const {warn} = console;
	console.warn = (...args) => {
		if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) {
			return;
		}

		warn.apply(console, args);
	};

	try {
		return (await import('oidc-provider')).default;
	} finally {
		console.warn = warn;
	}
}

/**
 * A small in-memory adapter: oidc-provider's own one works too but warns that it is for
 * development only, on every start.
 */
function createMemoryAdapter() {
	/** @type {Map<string, {payload: Record<string, unknown>, expiresAt: number}>} */
	const store = new Map();
	const now = () => Date.now();
	return name => ({
		async upsert(id, payload, expiresIn) {
			store.set(`${name}:${id}`, {payload, expiresAt: typeof expiresIn === 'number' ? now() + expiresIn * 1000 : Infinity});
		},
		async find(id) {
			const entry = store.get(`${name}:${id}`);
			if (entry === undefined || entry.expiresAt <= now()) {
				return undefined;
			}

			return entry.payload;
		},
		async findByUid(uid) {
			for (const [key, entry] of store) {
				if (key.startsWith(`${name}:`) && entry.payload['uid'] === uid && entry.expiresAt > now()) {
					return entry.payload;
				}
			}

			return undefined;
		},
		async findByUserCode(userCode) {
			for (const [key, entry] of store) {
				if (key.startsWith(`${name}:`) && entry.payload['userCode'] === userCode && entry.expiresAt > now()) {
					return entry.payload;
				}
			}

			return undefined;
		},
		async consume(id) {
			const entry = store.get(`${name}:${id}`);
			if (entry !== undefined) {
				entry.payload['consumed'] = Math.floor(now() / 1000);
			}
		},
		async destroy(id) {
			store.delete(`${name}:${id}`);
		},
		async revokeByGrantId(grantId) {
			for (const [key, entry] of store) {
				if (entry.payload['grantId'] === grantId) {
					store.delete(key);
				}
			}
		},
	});
}

async function listen(server) {
	server.keepAliveTimeout = 0;
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			server.off('error', reject);
			resolve();
		});
	});
	return `http://127.0.0.1:${server.address().port}`;
}

async function closeServer(server) {
	server.closeAllConnections();
	await new Promise(resolve => {
		server.close(() => {
			resolve();
		});
	});
}

/** A form POST with HTTP Basic client authentication, on a fresh connection; resolves with the JSON answer. */
function postForm(url, form, {clientId, clientSecret}) {
	const body = new URLSearchParams(form).toString();
	const encode = value => encodeURIComponent(value).replaceAll('%20', '+');
	const basic = Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64');
	return new Promise((resolve, reject) => {
		const request = http.request(
			url,
			{
				method: 'POST',
				agent: false,
				headers: {
					'Content-Type': 'application/x-www-form-urlencoded',
					'Content-Length': Buffer.byteLength(body),
					Accept: 'application/json',
					Authorization: `Basic ${basic}`,
				},
			},
			response => {
				const chunks = [];
				response.on('data', chunk => chunks.push(chunk));
				response.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					if (response.statusCode !== 200) {
						reject(new Error(`${url} answered ${response.statusCode}: ${text.slice(0, 200)}`));
						return;
					}

					try {
						resolve(text === '' ? {} : JSON.parse(text));
					} catch (error) {
						reject(error);
					}
				});
				response.on('error', reject);
			},
		);
		request.on('error', reject);
		request.end(body);
	});
}

function sendJson(response, status, body, headers = {}) {
	const payload = JSON.stringify(body);
	response.writeHead(status, {'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers});
	response.end(payload);
}

/**
 * Starts the authorization server and the protected API.
 *
 * @param {{accessTokenTtlSeconds?: number}} [options] - `accessTokenTtlSeconds`: lifetime of the
 *   client-credentials access tokens (default 300).
 */
export async function startAuthServer(options = {}) {
	const accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 300;
	if (!Number.isInteger(accessTokenTtlSeconds) || accessTokenTtlSeconds <= 0) {
		throw new TypeError('accessTokenTtlSeconds must be a positive integer');
	}

	const counts = {tokenRequests: 0, tokensIssued: 0, tokenErrors: 0, apiCalls: 0, apiRejected: 0};
	const secret = () => randomBytes(24).toString('base64url');
	const clients = {
		post: {clientId: 'lab-service-post', clientSecret: secret()},
		// Characters that client_secret_basic must form-encode (RFC 6749 §2.3.1) before Base64; a
		// client secret holds only VSCHARs (%x20-7E, RFC 6749 Appendix A.2), which oidc-provider enforces.
		basic: {clientId: 'lab-service-basic', clientSecret: `${secret()} +:%/&=`},
	};
	const apiClient = {clientId: apiClientId, clientSecret: secret()};

	// The issuer must name the port, so the server listens first and gets its handler after.
	const authServer = http.createServer();
	const issuer = await listen(authServer);

	const {privateKey} = generateKeyPairSync('rsa', {modulusLength: 2048});
	const allowedPolicy = async (ctx, client, token) => client.clientId === apiClientId || token.clientId === client.clientId;
	const serviceClient = ({clientId, clientSecret}, method) => ({
		client_id: clientId,
		client_secret: clientSecret,
		token_endpoint_auth_method: method,
		grant_types: ['client_credentials'],
		response_types: [],
		redirect_uris: [],
		scope: grantedScope,
	});
	const provider = new Provider(issuer, {
		adapter: createMemoryAdapter(),
		jwks: {keys: [{...privateKey.export({format: 'jwk'}), kid: 'embedded', use: 'sig', alg: 'RS256'}]},
		cookies: {keys: [secret()]},
		scopes: ['openid', 'offline_access', grantedScope, 'labs:write'],
		clients: [
			serviceClient(clients.post, 'client_secret_post'),
			serviceClient(clients.basic, 'client_secret_basic'),
			{
				client_id: apiClient.clientId,
				client_secret: apiClient.clientSecret,
				token_endpoint_auth_method: 'client_secret_basic',
				grant_types: [],
				response_types: [],
				redirect_uris: [],
			},
		],
		features: {
			devInteractions: {enabled: false},
			clientCredentials: {enabled: true},
			introspection: {enabled: true, allowedPolicy},
			revocation: {enabled: true, allowedPolicy},
		},
		ttl: {ClientCredentials: accessTokenTtlSeconds},
		clientBasedCORS: () => false,
	});
	provider.on('grant.success', () => {
		counts.tokensIssued++;
	});
	provider.on('grant.error', () => {
		counts.tokenErrors++;
	});

	const tokenPath = new URL(`${issuer}/token`).pathname;
	const introspectionUrl = `${issuer}/token/introspection`;
	const revocationUrl = `${issuer}/token/revocation`;
	const callback = provider.callback();
	authServer.on('request', (request, response) => {
		if (request.method === 'POST' && new URL(request.url ?? '/', issuer).pathname === tokenPath) {
			counts.tokenRequests++;
		}

		callback(request, response);
	});

	const introspect = async token => postForm(introspectionUrl, {token: stripScheme(token)}, apiClient);

	const apiServer = http.createServer(async (request, response) => {
		counts.apiCalls++;
		const match = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization ?? '');
		if (match === null) {
			counts.apiRejected++;
			sendJson(response, 401, {error: 'invalid_request'}, {'WWW-Authenticate': 'Bearer realm="labs"'});
			return;
		}

		let introspection;
		try {
			introspection = await introspect(match[1]);
		} catch {
			sendJson(response, 503, {error: 'introspection_failed'});
			return;
		}

		if (introspection.active !== true) {
			counts.apiRejected++;
			sendJson(response, 401, {error: 'invalid_token'}, {'WWW-Authenticate': 'Bearer realm="labs", error="invalid_token"'});
			return;
		}

		sendJson(response, 200, {
			path: request.url,
			client_id: introspection.client_id,
			scope: introspection.scope ?? null,
			// Tells tokens apart without showing one.
			token_fingerprint: createHash('sha256').update(match[1]).digest('hex').slice(0, 12),
		});
	});
	const apiOrigin = await listen(apiServer);

	let closed;
	return {
		issuer,
		tokenUrl: `${issuer}${tokenPath}`,
		apiOrigin,
		clients,
		accessTokenTtlSeconds,
		/** POST requests the token endpoint received, answered or refused. */
		tokenRequests: () => counts.tokenRequests,
		/** Requests to the protected API, whatever their answer. */
		apiCalls: () => counts.apiCalls,
		/** Every counter: tokenRequests, tokensIssued (grant.success), tokenErrors (grant.error), apiCalls, apiRejected (401s). */
		counts: () => ({...counts}),
		/** The introspection answer (RFC 7662) for a token, raw or as `Bearer <token>`. */
		introspect,
		/** Revokes a token (raw or `Bearer <token>`) at the revocation endpoint (RFC 7009). */
		async revoke(token) {
			await postForm(revocationUrl, {token: stripScheme(token), token_type_hint: 'access_token'}, apiClient);
		},
		close() {
			closed ??= Promise.all([closeServer(apiServer), closeServer(authServer)]).then(() => undefined);
			return closed;
		},
	};
}

function stripScheme(token) {
	return String(token).replace(/^Bearer\s+/i, '');
}
