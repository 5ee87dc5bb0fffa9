import http from 'node:http';
import {networkInterfaces} from 'node:os';
import {listen, readBody} from './helpers/http-server.js';
import {type Certificates, createCertificates} from './helpers/certificates.js';
import {type ChildClient, type Outcome, startChildClient} from './helpers/child-client.js';
import {type ConnectProxy, startConnectProxy} from './helpers/connect-proxy.js';
import {type HttpsTokenServer, startHttpsTokenServer} from './helpers/https-token-server.js';
import {clientId, secret, secretForms} from './helpers/secrets.js';

// The token request on enterprise networks: an https: token endpoint with a private CA, through a
// real CONNECT proxy. NODE_EXTRA_CA_CERTS and HTTPS_PROXY / NO_PROXY must be set before Node starts,
// so the BUILT package runs in child processes (helpers/child-client.ts), one per environment.

/** The secret's forms, and its plain ASCII prefix (which any clear-text encoding of it keeps). */
const leakForms = [...secretForms, secret.slice(0, 6)];
const proxyPassword = 'pr0xy-pa$$word';

let certificates: Certificates;
let server: HttpsTokenServer;
let otherHost: HttpsTokenServer;
/** A certificate for the name localhost only, from the trusted CA: not valid for https://127.0.0.1. */
let localhostOnly: HttpsTokenServer;
/** The token endpoint on ::1, when this machine has IPv6 loopback. */
let ipv6Server: HttpsTokenServer | undefined;
let proxy: ConnectProxy;
let tlsProxy: ConnectProxy;
const children: ChildClient[] = [];

beforeAll(async () => {
	certificates = createCertificates();
	[server, otherHost, localhostOnly, proxy, tlsProxy, ipv6Server] = await Promise.all([
		startHttpsTokenServer(certificates.server),
		startHttpsTokenServer(certificates.otherHost),
		startHttpsTokenServer(certificates.localhostOnly),
		startConnectProxy(),
		startConnectProxy(certificates.server),
		hasIPv6Loopback ? startHttpsTokenServer(certificates.server, '::1') : undefined,
	]);
});

afterAll(async () => {
	for (const child of children) {
		child.close();
	}

	await Promise.all([server.close(), otherHost.close(), localhostOnly.close(), proxy.close(), tlsProxy.close(), ipv6Server?.close()]);
	certificates.remove();
});

beforeEach(() => {
	proxy.behave({kind: 'tunnel'});
	server.behave('answer');
});

const hasIPv6Loopback = Object.values(networkInterfaces()).some(addresses => addresses?.some(address => address.address === '::1'));

/** A child process with exactly these variables set at start (and no other proxy or TLS setting). */
function child(environment: Record<string, string>): ChildClient {
	const started = startChildClient(environment);
	children.push(started);
	return started;
}

function trusted(environment: Record<string, string> = {}): ChildClient {
	return child({NODE_EXTRA_CA_CERTS: certificates.caFile, ...environment});
}

function options(tokenUrl: string, extra: Record<string, unknown> = {}) {
	return {clientId, clientSecret: secret, tokenUrl, retries: 2, timeoutMs: 5000, ...extra};
}

function expectNoSecretIn(outcome: Outcome): void {
	expect(outcome.renderings).toBeDefined();
	for (const text of outcome.renderings!) {
		for (const form of [...leakForms, proxyPassword, encodeURIComponent(proxyPassword)]) {
			expect(text).not.toContain(form);
		}
	}
}

function expectNoSecretInBytes(bytes: Buffer): void {
	for (const form of leakForms) {
		expect(bytes.includes(Buffer.from(form))).toBe(false);
	}
}

/** What changed on the servers and the proxy while `run` ran. */
async function counting<T>(run: () => Promise<T>) {
	const before = {
		connects: proxy.connects.length,
		tlsConnects: tlsProxy.connects.length,
		requests: server.requests.length,
		connections: server.connections,
		servernames: server.servernames.length,
		otherConnections: otherHost.connections,
	};
	const result = await run();
	return {
		result,
		connects: proxy.connects.slice(before.connects),
		tlsConnects: tlsProxy.connects.slice(before.tlsConnects),
		requests: server.requests.slice(before.requests),
		connections: server.connections - before.connections,
		/** The SNI host name of each TLS handshake the token endpoint completed (`undefined`: none sent). */
		servernames: server.servernames.slice(before.servernames),
		otherConnections: otherHost.connections - before.otherConnections,
	};
}

/** Waits (up to 2 s) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
	for (const started = Date.now(); !condition();) {
		if (Date.now() - started > 2000) {
			throw new Error('condition not met within 2 s');
		}

		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

describe('an https: token endpoint with a private CA', () => {
	test('trusted with NODE_EXTRA_CA_CERTS: a token, by host name or by IP address', async () => {
		const client = trusted();
		for (const host of ['localhost', '127.0.0.1'] as const) {
			const {result, requests, connections} = await counting(async () => client.getToken(options(server.url(host))));
			expect(result).toMatchObject({ok: true, token: `Bearer token-${server.requests.length}`});
			expect(requests).toHaveLength(1);
			expect(requests[0]!.form.get('client_secret')).toBe(secret);
			expect(connections).toBe(1);
		}
	});

	test('not trusted: a VibrantTokenError saying the certificate could not be verified and how to trust a CA, attempted once', async () => {
		const {result, requests, connections} = await counting(async () => child({}).getToken(options(server.url(), {retries: 3})));
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'});
		expect(result.status).toBeUndefined();
		expect(result.message).toMatch(
			// Node 26 adds a hint of its own to OpenSSL's text (about --use-system-ca).
			/^The certificate of the token endpoint https:\/\/localhost:\d+\/v1\/oauth2\/token could not be verified \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate[^)]*\)\. /,
		);
		expect(result.message).toMatch(/private CA.* trust that CA with NODE_EXTRA_CA_CERTS=\/path\/to\/ca\.pem \(read when Node starts\)/);
		expect(result.message).not.toMatch(/NODE_TLS_REJECT_UNAUTHORIZED|retr/i);
		// A TLS failure will not get better: one connection, no token request, however many retries are allowed.
		expect(connections).toBe(1);
		expect(requests).toHaveLength(0);
		expectNoSecretIn(result);
	});

	test('a certificate for another host name, from a trusted CA: not retried, and the message says so', async () => {
		const {result, connections, otherConnections} = await counting(async () => trusted().getToken(options(otherHost.url(), {retries: 3})));
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ERR_TLS_CERT_ALTNAME_INVALID'});
		expect(result.status).toBeUndefined();
		expect(result.message).toMatch(
			/^The certificate of the token endpoint https:\/\/localhost:\d+\/v1\/oauth2\/token could not be verified: it is not valid for the host name localhost \(ERR_TLS_CERT_ALTNAME_INVALID: .*altnames: DNS:other\.example\)\. /,
		);
		expect(result.message).toMatch(/tokenUrl \/ VIBRANT_TOKEN_URL/);
		expect(result.message).toMatch(/NODE_EXTRA_CA_CERTS/);
		expect(otherConnections).toBe(1);
		expect(connections).toBe(0);
		expectNoSecretIn(result);
	});

	test('a 401 over https is still the token endpoint answering, with its status', async () => {
		const {result} = await counting(async () => trusted().getToken({...options(server.url()), clientId: 'unknown'}));
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', status: 401, oauthError: 'invalid_client'});
		expect(result.message).toMatch(/^Token endpoint answered 401 invalid_client: check VIBRANT_CLIENT_ID/);
	});
});

describe('through a CONNECT proxy (HTTPS_PROXY)', () => {
	test('the recorder would see a secret sent to a proxy in clear (so the checks below can fail)', async () => {
		const control = await startConnectProxy();
		try {
			const status = await new Promise<number | undefined>((resolve, reject) => {
				const request = http.request(
					{
						host: '127.0.0.1',
						port: control.port,
						method: 'POST',
						path: server.url(),
						headers: {'Content-Type': 'application/x-www-form-urlencoded'},
					},
					response => {
						response.resume();
						resolve(response.statusCode);
					},
				);
				request.on('error', reject);
				request.end(new URLSearchParams({client_secret: secret}).toString());
			});
			expect(status).toBe(502);
			expect(control.plainRequests).toEqual([`POST ${server.url()} HTTP/1.1`]);
			expect(() => {
				expectNoSecretInBytes(control.received());
			}).toThrow();
		} finally {
			await control.close();
		}
	});

	test('one tunnel per token request, to the token host; the proxy relays TLS only and never sees the secret', async () => {
		const client = trusted({HTTPS_PROXY: proxy.url});
		const {result, connects, requests, connections, servernames} = await counting(async () => {
			const outcomes: Outcome[] = [];
			for (const authMethod of ['client_secret_post', 'client_secret_post', 'client_secret_basic']) {
				outcomes.push(await client.getToken(options(server.url(), {authMethod})));
			}

			return outcomes;
		});
		const first = server.requests.length - requests.length + 1;
		expect(result.map(outcome => outcome.token)).toEqual([first, first + 1, first + 2].map(index => `Bearer token-${index}`));
		expect(connects).toHaveLength(3);
		expect(connections).toBe(3);
		expect(requests).toHaveLength(3);
		// The host name goes to the token endpoint as SNI, inside the tunnel.
		expect(servernames).toEqual(['localhost', 'localhost', 'localhost']);
		for (const connect of connects) {
			expect(connect).toMatchObject({target: `localhost:${server.port}`, opened: true, proxyAuthorization: undefined});
			// The first byte into the tunnel opens a TLS handshake record (ClientHello).
			expect(connect.relayed[0]![0]).toBe(0x16);
		}

		// The secret did cross the proxy (the server got it), but only inside TLS.
		expect(requests[0]!.form.get('client_secret')).toBe(secret);
		expect(requests[2]!.headers.authorization).toMatch(/^Basic /);
		expect(requests.map(request => request.headers['proxy-authorization'])).toEqual([undefined, undefined, undefined]);
		expect(proxy.plainRequests).toEqual([]);
		expectNoSecretInBytes(proxy.received());
		expectNoSecretInBytes(proxy.sent());
		expect(proxy.received().toString('latin1')).toContain(`CONNECT localhost:${server.port} HTTP/1.1\r\n`);
	});

	// Node 25+, Bun and Deno refuse an IP address as the TLS servername, which axios's tunnel
	// (https-proxy-agent 5) gave them: ERR_INVALID_ARG_VALUE, described as an unreachable proxy.
	test('an IP-literal token URL (https://127.0.0.1) goes through the tunnel: a token, one CONNECT to the address, no SNI, the certificate checked against the address', async () => {
		const {result, connects, requests, connections, servernames} = await counting(async () =>
			trusted({HTTPS_PROXY: proxy.url}).getToken(options(server.url('127.0.0.1'))),
		);
		// With the message, so that a failure shows the error.
		expect({ok: result.ok, token: result.token, message: result.message}).toEqual({
			ok: true,
			token: `Bearer token-${server.requests.length}`,
		});
		expect(connects.map(connect => connect.target)).toEqual([`127.0.0.1:${server.port}`]);
		expect(connects[0]).toMatchObject({opened: true});
		expect(connects[0]!.relayed[0]![0]).toBe(0x16);
		expect(proxy.received().toString('latin1')).toContain(`CONNECT 127.0.0.1:${server.port} HTTP/1.1\r\n`);
		expect(requests).toHaveLength(1);
		expect(connections).toBe(1);
		expect(servernames).toEqual([undefined]);
		expectNoSecretInBytes(proxy.received());
	});

	(hasIPv6Loopback ? test : test.skip)('an IPv6-literal token URL (https://[::1]): a token, one CONNECT to [::1]:port', async () => {
		const ipv6 = ipv6Server!;
		const before = {connects: proxy.connects.length, requests: ipv6.requests.length};
		const result = await trusted({HTTPS_PROXY: proxy.url}).getToken(options(ipv6.url('[::1]')));
		expect({ok: result.ok, token: result.token, message: result.message}).toEqual({
			ok: true,
			token: `Bearer token-${ipv6.requests.length}`,
		});
		// RFC 9110 §9.3.6: the authority form, with the address in brackets.
		expect(proxy.connects.slice(before.connects).map(connect => connect.target)).toEqual([`[::1]:${ipv6.port}`]);
		expect(ipv6.requests.length - before.requests).toBe(1);
		expect(ipv6.servernames.at(-1)).toBeUndefined();
	});

	test('a certificate that names localhost but not 127.0.0.1, for https://127.0.0.1 through a proxy reached as localhost: the certificate error, not retried', async () => {
		const before = {connects: proxy.connects.length, connections: localhostOnly.connections, requests: localhostOnly.requests.length};
		// Checked against the proxy's host name (localhost) instead of the token URL's address, this certificate would pass.
		const result = await trusted({HTTPS_PROXY: `http://localhost:${proxy.port}`}).getToken(
			options(`https://127.0.0.1:${localhostOnly.port}/v1/oauth2/token`, {retries: 3}),
		);
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ERR_TLS_CERT_ALTNAME_INVALID'});
		expect(result.status).toBeUndefined();
		expect(result.message).toMatch(
			/^The certificate of the token endpoint https:\/\/127\.0\.0\.1:\d+\/v1\/oauth2\/token could not be verified: it is not valid for the host name 127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID: .*IP: 127\.0\.0\.1 is not in the cert's list/,
		);
		expect(result.message).not.toMatch(/proxy/);
		expect(proxy.connects.slice(before.connects).map(connect => connect.target)).toEqual([`127.0.0.1:${localhostOnly.port}`]);
		expect(localhostOnly.connections - before.connections).toBe(1);
		expect(localhostOnly.requests.length - before.requests).toBe(0);
		expectNoSecretIn(result);
	});

	test('a loopback token host is not exempt: https://localhost is tunnelled too unless NO_PROXY names it', async () => {
		const {result, connects} = await counting(async () => trusted({HTTPS_PROXY: proxy.url}).getToken(options(server.url('localhost'))));
		expect(result.ok).toBe(true);
		expect(connects.map(connect => connect.target)).toEqual([`localhost:${server.port}`]);
		expectNoSecretInBytes(proxy.received());
	});

	test.each([
		['NO_PROXY=localhost', 0, {NO_PROXY: 'localhost'}, 'localhost'],
		['no_proxy=localhost:<port>', 0, {no_proxy: 'localhost:PORT'}, 'localhost'],
		['NO_PROXY=*', 0, {NO_PROXY: '*'}, 'localhost'],
		// axios treats the loopback names as one: an entry for one of them matches the others.
		['NO_PROXY=127.0.0.1, token host localhost', 0, {NO_PROXY: '127.0.0.1'}, 'localhost'],
		['NO_PROXY=localhost, token host 127.0.0.1', 0, {NO_PROXY: 'localhost'}, '127.0.0.1'],
		['NO_PROXY naming other hosts', 1, {NO_PROXY: 'other.example,.internal.example'}, 'localhost'],
		['NO_PROXY=localhost:<another port>', 1, {NO_PROXY: 'localhost:1'}, 'localhost'],
	] as const)('%s: %d tunnels', async (_name, tunnels, noProxy, host) => {
		const environment = Object.fromEntries(
			Object.entries(noProxy).map(([name, value]) => [name, value.replace('PORT', String(server.port))]),
		);
		const {result, connects, requests} = await counting(async () =>
			trusted({HTTPS_PROXY: proxy.url, ...environment}).getToken(options(server.url(host))),
		);
		expect(result.ok).toBe(true);
		expect(connects).toHaveLength(tunnels);
		expect(requests).toHaveLength(1);
	});

	test.each([
		['https_proxy', 1],
		['ALL_PROXY', 1],
		// Only for http: URLs, and a plain http: token URL (loopback only) never uses a proxy.
		['HTTP_PROXY', 0],
	])('%s alone: %d tunnels', async (name, tunnels) => {
		const {result, connects, requests} = await counting(async () => trusted({[name]: proxy.url}).getToken(options(server.url())));
		expect(result.ok).toBe(true);
		expect(connects).toHaveLength(tunnels);
		expect(requests).toHaveLength(1);
	});

	test('an https: proxy (TLS to the proxy as well): one tunnel, and inside it only TLS', async () => {
		const {result, tlsConnects} = await counting(async () => trusted({HTTPS_PROXY: tlsProxy.url}).getToken(options(server.url())));
		expect(result.ok).toBe(true);
		expect(tlsConnects).toHaveLength(1);
		expect(tlsConnects[0]!.relayed[0]![0]).toBe(0x16);
		expectNoSecretInBytes(tlsProxy.received());
		expectNoSecretInBytes(tlsProxy.sent());
	});

	test("an https: proxy whose certificate is not trusted: the message blames the proxy's certificate, not the token endpoint's", async () => {
		// No NODE_EXTRA_CA_CERTS: the proxy's certificate, from the test CA, cannot be verified.
		const {result, tlsConnects, requests} = await counting(async () => child({HTTPS_PROXY: tlsProxy.url}).getToken(options(server.url())));
		expect(result.ok).toBe(false);
		expect(tlsConnects).toHaveLength(0);
		expect(requests).toHaveLength(0);
		expect(result.message).toMatch(
			new RegExp(String.raw`^The certificate of the proxy ${tlsProxy.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be verified \(`),
		);
		expect(result.message).not.toContain('token endpoint');
		expectNoSecretIn(result);
	});

	test('proxy credentials in HTTPS_PROXY go on the CONNECT request only', async () => {
		const expected = `Basic ${Buffer.from(`lab-user:${proxyPassword}`).toString('base64')}`;
		proxy.behave({kind: 'tunnel', requireAuthorization: expected});
		// "$" needs no escaping in a URL's userinfo.
		const {result, connects, requests} = await counting(async () =>
			trusted({HTTPS_PROXY: `http://lab-user:${proxyPassword}@127.0.0.1:${proxy.port}`}).getToken(options(server.url())),
		);
		expect(result.ok).toBe(true);
		expect(connects.map(connect => connect.proxyAuthorization)).toEqual([expected]);
		expect(requests[0]!.headers['proxy-authorization']).toBeUndefined();
	});

	test('axios sends percent-escapes in HTTPS_PROXY credentials as written, undecoded (README: Proxies and private CAs)', async () => {
		// If this starts failing, axios decodes them now: update the README section.
		const {connects} = await counting(async () =>
			trusted({HTTPS_PROXY: `http://lab-user:p%40ss@127.0.0.1:${proxy.port}`}).getToken(options(server.url())),
		);
		expect(connects.map(connect => Buffer.from(connect.proxyAuthorization!.slice('Basic '.length), 'base64').toString())).toEqual([
			'lab-user:p%40ss',
		]);
	});

	test('a 401 through the tunnel is the token endpoint answering, not the proxy', async () => {
		const {result, connects} = await counting(async () =>
			trusted({HTTPS_PROXY: proxy.url}).getToken({...options(server.url()), clientId: 'unknown'}),
		);
		expect(connects).toHaveLength(1);
		expect(result).toMatchObject({ok: false, status: 401, oauthError: 'invalid_client'});
		expect(result.message).toMatch(/^Token endpoint answered 401 invalid_client/);
	});

	test('a TLS-inspecting proxy or a certificate not trusted: the certificate message, one tunnel, no retry', async () => {
		const {result, connects, requests} = await counting(async () =>
			child({HTTPS_PROXY: proxy.url}).getToken(options(server.url(), {retries: 3})),
		);
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'});
		expect(result.message).toMatch(/could not be verified .*TLS-inspecting proxy.*NODE_EXTRA_CA_CERTS=/);
		expect(connects).toHaveLength(1);
		expect(requests).toHaveLength(0);
		expectNoSecretIn(result);
	});
});

describe('a proxy that refuses', () => {
	let proxied: ChildClient;
	let withWrongCredentials: ChildClient;
	beforeAll(() => {
		proxied = trusted({HTTPS_PROXY: proxy.url});
		withWrongCredentials = trusted({HTTPS_PROXY: `http://lab-user:${encodeURIComponent(proxyPassword)}@127.0.0.1:${proxy.port}`});
	});

	const proxyOrigin = String.raw`http:\/\/127\.0\.0\.1:\d+`;
	const refused = (status: string) =>
		new RegExp(
			String.raw`^The proxy ${proxyOrigin} refused the tunnel to the token endpoint https:\/\/localhost:\d+: it answered ${status}`,
		);

	test.each([
		{
			name: '407, no credentials set',
			behaviour: {kind: 'refuse', status: 407, reason: 'Proxy Authentication Required'},
			message: refused('407 Proxy Authentication Required'),
			hint: /the proxy wants credentials: put them in HTTPS_PROXY \(http:\/\/user:password@host:port\), or list the token host in NO_PROXY/,
			connects: 1,
		},
		{
			name: '407, wrong credentials',
			behaviour: {kind: 'tunnel', requireAuthorization: 'Basic bm9ib2R5'},
			wrongCredentials: true,
			message: refused('407 Proxy Authentication Required'),
			hint: /the proxy did not accept the credentials in HTTPS_PROXY \(percent-escapes in them are sent as written, not decoded\)\.$/,
			connects: 1,
		},
		{
			name: '403 (this host is not allowed)',
			behaviour: {kind: 'refuse', status: 403, reason: 'Forbidden'},
			message: refused('403 Forbidden'),
			hint: /check HTTPS_PROXY and NO_PROXY, and that the proxy allows localhost/,
			connects: 1,
		},
		{
			name: '502 (it cannot reach the token host): retried',
			behaviour: {kind: 'refuse', status: 502, reason: 'Bad Gateway'},
			message: refused('502 Bad Gateway after 3 attempts'),
			hint: /the proxy could not reach localhost; check that localhost is reachable from the proxy, and HTTPS_PROXY and NO_PROXY\.$/,
			connects: 3,
		},
		{
			name: 'a reset connection: retried',
			behaviour: {kind: 'reset'},
			message: new RegExp(
				String.raw`^The proxy ${proxyOrigin} reset the connection without answering the tunnel request \(CONNECT\) to localhost:\d+ after 3 attempts; `,
			),
			hint: /check HTTPS_PROXY \(scheme, host and port\) and NO_PROXY, and that the proxy allows localhost\.$/,
			connects: 3,
			causeCode: 'ECONNRESET',
		},
		{
			name: 'a closed connection: retried',
			behaviour: {kind: 'close'},
			message: new RegExp(
				String.raw`^The proxy ${proxyOrigin} closed the connection without answering the tunnel request \(CONNECT\) to localhost:\d+ after 3 attempts; `,
			),
			hint: /check HTTPS_PROXY \(scheme, host and port\) and NO_PROXY, and that the proxy allows localhost\.$/,
			connects: 3,
			causeCode: 'ECONNRESET',
		},
	] as const)('$name: a VibrantTokenError about the proxy, no status, $connects CONNECT', async scenario => {
		proxy.behave(scenario.behaviour);
		const client = 'wrongCredentials' in scenario ? withWrongCredentials : proxied;
		const {result, connects, connections} = await counting(async () => client.getToken(options(server.url())));
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError'});
		expect(result.status).toBeUndefined();
		expect(result.message).toMatch(scenario.message);
		expect(result.message).toMatch(scenario.hint);
		if ('causeCode' in scenario) {
			expect(result.causeCode).toBe(scenario.causeCode);
		}

		expect(connects).toHaveLength(scenario.connects);
		expect(connections).toBe(0);
		expect(result.elapsedMs).toBeLessThan(5000);
		expectNoSecretIn(result);
		expectNoSecretInBytes(proxy.received());
	});

	// https-proxy-agent 5 (axios's tunnel) waited for a CONNECT answer until the socket errored: a
	// proxy that closed without answering cost the full timeoutMs per attempt (4 × 30 s by default).
	test.each([
		['closes', {kind: 'close'}, 'closed'],
		['resets', {kind: 'reset'}, 'reset'],
	] as const)(
		'a proxy that %s the connection on CONNECT: the attempt ends at once, not after timeoutMs',
		async (_name, behaviour, verb) => {
			proxy.behave(behaviour);
			const {result, connects, connections} = await counting(async () =>
				proxied.getToken(options(server.url(), {retries: 0, timeoutMs: 20_000})),
			);
			expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNRESET'});
			expect(result.message).toMatch(
				new RegExp(
					String.raw`^The proxy ${proxyOrigin} ${verb} the connection without answering the tunnel request \(CONNECT\) to localhost:${server.port}; `,
				),
			);
			expect(result.elapsedMs).toBeLessThan(1500);
			expect(connects).toHaveLength(1);
			expect(connections).toBe(0);
			expectNoSecretIn(result);
		},
	);

	test('a proxy that closes on CONNECT, with the default retries: 4 CONNECTs, and the whole getToken() ends in seconds', async () => {
		proxy.behave({kind: 'close'});
		const {result, connects} = await counting(async () => proxied.getToken(options(server.url(), {retries: undefined, timeoutMs: 20_000})));
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNRESET'});
		expect(result.message).toMatch(
			/closed the connection without answering the tunnel request \(CONNECT\) to localhost:\d+ after 4 attempts; /,
		);
		expect(connects).toHaveLength(4);
		// Three backoffs (≤ 200 + 400 + 800 ms) and four immediate failures; the round-2 bound is 15 s.
		expect(result.elapsedMs).toBeLessThan(5000);
		expectNoSecretIn(result);
	});

	test("NODE_USE_ENV_PROXY=1 (Node's own proxy support, Node 22.21+ and 24.5+) changes nothing: the same tunnel, the same rules", async () => {
		proxy.behave({kind: 'close'});
		const client = trusted({HTTPS_PROXY: proxy.url, NODE_USE_ENV_PROXY: '1'});
		const {result, connects} = await counting(async () =>
			client.getToken(options(server.url('127.0.0.1'), {retries: 0, timeoutMs: 20_000})),
		);
		expect(result.message).toMatch(
			new RegExp(String.raw`^The proxy ${proxyOrigin} closed the connection without answering the tunnel request \(CONNECT\)`),
		);
		expect(connects.map(connect => connect.target)).toEqual([`127.0.0.1:${server.port}`]);

		proxy.behave({kind: 'tunnel'});
		// NO_PROXY by axios's rules: 127.0.0.1 matches localhost (Node's own rules would tunnel this).
		const bypassed = await counting(async () =>
			trusted({HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1', NODE_USE_ENV_PROXY: '1'}).getToken(options(server.url('localhost'))),
		);
		expect(bypassed.result.ok).toBe(true);
		expect(bypassed.connects).toHaveLength(0);
	});

	test('a proxy that never answers CONNECT: timed out after timeoutMs, and the connection to the proxy is closed with the request', async () => {
		proxy.behave({kind: 'hang'});
		const {result, connects} = await counting(async () => proxied.getToken(options(server.url(), {retries: 1, timeoutMs: 400})));
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ETIMEDOUT'});
		expect(result.message).toMatch(
			new RegExp(
				String.raw`^Token request to https:\/\/localhost:\d+\/v1\/oauth2\/token timed out after 2 attempts waiting for the proxy ${proxyOrigin}: it did not answer the tunnel request \(CONNECT\) in time \(timeoutMs\)`,
			),
		);
		expect(result.elapsedMs).toBeGreaterThanOrEqual(800);
		expect(connects).toHaveLength(2);
		// Each timed-out attempt closed its connection to the proxy (nothing left open to leak).
		await until(() => connects.every(connect => connect.closed));
		expectNoSecretIn(result);
	});

	test('a token endpoint that closes without answering, through the tunnel: each attempt ends at once, and the message says the endpoint closed it', async () => {
		server.behave('close');
		const single = await counting(async () => proxied.getToken(options(server.url(), {retries: 0, timeoutMs: 20_000})));
		expect(single.result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNRESET'});
		expect(single.result.message).toMatch(
			new RegExp(
				String.raw`^The token endpoint https:\/\/localhost:\d+\/v1\/oauth2\/token closed the connection without answering \(reached through the proxy ${proxyOrigin}, which opened the tunnel\)`,
			),
		);
		expect(single.result.elapsedMs).toBeLessThan(1500);
		expect(single.connects).toHaveLength(1);
		expect(single.connections).toBe(1);
		expectNoSecretIn(single.result);

		const retried = await counting(async () => proxied.getToken(options(server.url(), {retries: undefined, timeoutMs: 20_000})));
		expect(retried.result.message).toMatch(/closed the connection without answering after 4 attempts \(reached through the proxy/);
		expect(retried.connects).toHaveLength(4);
		expect(retried.connections).toBe(4);
		expect(retried.requests).toHaveLength(0);
		expect(retried.result.elapsedMs).toBeLessThan(5000);
	});

	test('no proxy listening at HTTPS_PROXY: a VibrantTokenError naming the proxy', async () => {
		const closed = await listen(() => {});
		await closed.close();
		const port = new URL(closed.origin).port;
		const {result, connections} = await counting(async () =>
			trusted({HTTPS_PROXY: `http://127.0.0.1:${port}`}).getToken(options(server.url())),
		);
		expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNREFUSED'});
		expect(result.message).toMatch(
			new RegExp(
				String.raw`^Could not reach the token endpoint .* through the proxy http:\/\/127\.0\.0\.1:${port} after 3 attempts \(ECONNREFUSED\)`,
			),
		);
		expect(connections).toBe(0);
		expectNoSecretIn(result);
	});
});

describe('a token endpoint that closes without answering, reached directly', () => {
	test('https: each attempt ends at once (retries + 1 connections), and the message names the endpoint', async () => {
		server.behave('close');
		const client = trusted();
		const single = await counting(async () => client.getToken(options(server.url(), {retries: 0, timeoutMs: 20_000})));
		expect(single.result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNRESET'});
		expect(single.result.message).toMatch(
			/^Could not reach the token endpoint https:\/\/localhost:\d+\/v1\/oauth2\/token \(ECONNRESET\); check tokenUrl/,
		);
		expect(single.result.elapsedMs).toBeLessThan(1500);
		expect(single.connections).toBe(1);
		expectNoSecretIn(single.result);

		const retried = await counting(async () => client.getToken(options(server.url(), {retries: undefined, timeoutMs: 20_000})));
		expect(retried.result.message).toMatch(/^Could not reach the token endpoint .* after 4 attempts \(ECONNRESET\)/);
		expect(retried.connections).toBe(4);
		expect(retried.result.elapsedMs).toBeLessThan(5000);
	});

	test('loopback http:, with HTTPS_PROXY set (never used for it): each attempt ends at once, no CONNECT', async () => {
		let connections = 0;
		const closing = await listen(async request => {
			await readBody(request);
			request.socket.destroy();
		});
		closing.server.on('connection', () => {
			connections++;
		});
		try {
			const client = trusted({HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url});
			const {result, connects} = await counting(async () =>
				client.getToken(options(`${closing.origin}/v1/oauth2/token`, {retries: 0, timeoutMs: 20_000})),
			);
			expect(result).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNRESET'});
			expect(result.message).toMatch(/^Could not reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/v1\/oauth2\/token \(ECONNRESET\)/);
			expect(result.elapsedMs).toBeLessThan(1500);
			expect(connections).toBe(1);
			expect(connects).toHaveLength(0);
			expectNoSecretIn(result);

			const retried = await client.getToken(options(`${closing.origin}/v1/oauth2/token`, {retries: undefined, timeoutMs: 20_000}));
			expect(retried.message).toMatch(/after 4 attempts \(ECONNRESET\)/);
			expect(connections).toBe(5);
			expect(retried.elapsedMs).toBeLessThan(5000);
		} finally {
			await closing.close();
		}
	});
});

describe('across these runs', () => {
	test('no unhandled rejection, and no secret in any debug output', async () => {
		expect(children.length).toBeGreaterThan(10);
		for (const client of children) {
			expect(await client.unhandled()).toEqual([]);
			for (const form of [...leakForms, proxyPassword, encodeURIComponent(proxyPassword)]) {
				expect(client.stderr()).not.toContain(form);
			}
		}

		expect(children.some(client => client.stderr().includes('requesting a token from'))).toBe(true);
	});
});
