import {execFileSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import https from 'node:https';
import {Client, VibrantTokenError} from '../lib/index.js';
import {proxyForUrl} from '../lib/proxy-selection.js';
import {type Certificates, createCertificates} from './helpers/certificates.js';
import {type ConnectProxy, startConnectProxy} from './helpers/connect-proxy.js';
import {type HttpsTokenServer, startHttpsTokenServer} from './helpers/https-token-server.js';
import {clientId, expectNoSecret, secret} from './helpers/secrets.js';

// The CONNECT tunnel of the token request (lib/proxy-tunnel.ts), in this process: the proxy is
// chosen from process.env on every attempt, and a private CA is trusted through
// https.globalAgent.options.ca, which the tunnel honours as a direct request does.
// tls-proxy.test.ts covers the same ground in child processes started with NODE_EXTRA_CA_CERTS.

const proxyVariables = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];
const savedEnvironment = Object.fromEntries(proxyVariables.map(name => [name, process.env[name]]));
const savedCa = https.globalAgent.options.ca;

let certificates: Certificates;
let server: HttpsTokenServer;
let proxy: ConnectProxy;

beforeAll(async () => {
	certificates = createCertificates();
	[server, proxy] = await Promise.all([startHttpsTokenServer(certificates.server), startConnectProxy()]);
	https.globalAgent.options.ca = readFileSync(certificates.caFile, 'utf8');
});

afterAll(async () => {
	https.globalAgent.options.ca = savedCa;
	await Promise.all([server.close(), proxy.close()]);
	certificates.remove();
});

beforeEach(() => {
	for (const name of proxyVariables) {
		Reflect.deleteProperty(process.env, name);
	}

	process.env['HTTPS_PROXY'] = proxy.url;
	proxy.behave({kind: 'tunnel'});
	server.behave('answer');
});

afterEach(() => {
	for (const [name, value] of Object.entries(savedEnvironment)) {
		if (value === undefined) {
			Reflect.deleteProperty(process.env, name);
		} else {
			process.env[name] = value;
		}
	}
});

function client(tokenUrl: string, options: {retries?: number; timeoutMs?: number} = {}): Client {
	return new Client({clientId, clientSecret: secret, tokenUrl, retries: 0, timeoutMs: 20_000, ...options});
}

/** The VibrantTokenError `promise` rejects with, how long it took, and what the proxy saw meanwhile. */
async function failure(promise: () => Promise<unknown>) {
	const connects = proxy.connects.length;
	const started = Date.now();
	const error = await promise().then(
		() => {
			throw new Error('expected a VibrantTokenError');
		},
		(error: unknown) => error,
	);
	const elapsedMs = Date.now() - started;
	expect(error).toBeInstanceOf(VibrantTokenError);
	expectNoSecret(error);
	return {error: error as VibrantTokenError, elapsedMs, connects: proxy.connects.slice(connects)};
}

async function until(condition: () => boolean): Promise<void> {
	for (const started = Date.now(); !condition();) {
		if (Date.now() - started > 2000) {
			throw new Error('condition not met within 2 s');
		}

		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

const proxyOrigin = () => proxy.url.replaceAll('.', String.raw`\.`).replaceAll('/', String.raw`\/`);

describe('which proxy, if any: the choice axios 1.21 made before the tunnel moved here', () => {
	const urls = [
		'https://auth.example.com/v1/oauth2/token',
		'https://api.auth.example.com:8443/token',
		'https://localhost:9443/token',
		'https://127.0.0.1/token',
		'https://127.0.0.2:8443/token',
		'https://[::1]:9443/token',
		'https://10.1.2.3/token',
		'https://[::ffff:10.1.2.3]/token',
		'https://xn--bcher-kva.example/token',
		'https://AUTH.Example.COM./token',
	];
	const noProxies = [
		'',
		'*',
		'localhost',
		'localhost:9443',
		'localhost:1',
		'127.0.0.1',
		'::1',
		'[::1]',
		'[::1]:9443',
		'0.0.0.0',
		'127.1',
		'0x7f.0.0.1',
		'0177.0.0.1',
		'example.com',
		'.example.com',
		'*.example.com',
		'auth.example.com',
		'AUTH.EXAMPLE.COM',
		'auth.example.com:443',
		'auth.example.com:8443',
		'auth.example.com.',
		'10.0.0.0/8',
		'10.1.2.3/32',
		'10.1.2.4/31',
		'[::ffff:10.0.0.0]/104',
		'::ffff:0:0/96',
		'10.0.0.0/33',
		'127.0.0.0/8',
		'bücher.example',
		'other.example, .internal.example',
		' , ,',
		'127.0.0.1 localhost',
		'*.auth.example.com:8443',
	];
	const environments: Array<Record<string, string>> = [
		...noProxies.map(noProxy => ({HTTPS_PROXY: 'http://proxy.example:3128', NO_PROXY: noProxy})),
		{https_proxy: 'http://lower.example:3128', HTTPS_PROXY: 'http://upper.example:3128'},
		{ALL_PROXY: 'http://all.example:3128'},
		{all_proxy: 'http://all.example:3128', HTTPS_PROXY: 'http://https.example:3128'},
		{HTTP_PROXY: 'http://http-only.example:3128'},
		{HTTPS_PROXY: 'proxy.example:3128'},
		{HTTPS_PROXY: 'https://user:p%40ss@proxy.example'},
		{HTTPS_PROXY: 'http://[::1]:3128'},
		{HTTPS_PROXY: ''},
		{HTTPS_PROXY: 'http://proxy.example:3128', no_proxy: 'localhost', NO_PROXY: '*'},
	];
	const cases = environments.flatMap(environment => urls.map(url => ({url, environment})));

	test(`${cases.length} cases: the same proxy (or none) as axios's own helpers give`, () => {
		// axios's own decision, by the code it runs (an ES module: a child process imports it).
		const script = `
			import {createRequire} from 'node:module';
			import shouldBypassProxy from 'axios/unsafe/helpers/shouldBypassProxy.js';
			const {getProxyForUrl} = createRequire(process.cwd() + '/node_modules/axios/package.json')('proxy-from-env');
			const answers = JSON.parse(process.env.CASES).map(({url, environment}) => {
				for (const name of ${JSON.stringify(proxyVariables)}) delete process.env[name];
				Object.assign(process.env, environment);
				const proxyUrl = getProxyForUrl(url);
				return proxyUrl && !shouldBypassProxy(url) ? new URL(proxyUrl).href : null;
			});
			process.stdout.write(JSON.stringify(answers));`;
		const axiosAnswers = JSON.parse(
			execFileSync(process.execPath, ['--input-type=module', '-e', script], {
				env: {...process.env, CASES: JSON.stringify(cases)},
				encoding: 'utf8',
			}),
		) as Array<string | null>;
		const ours = cases.map(({url, environment}) => ({url, environment, proxy: proxyForUrl(new URL(url), environment)?.href ?? null}));
		expect(ours).toEqual(cases.map(({url, environment}, index) => ({url, environment, proxy: axiosAnswers[index]})));
		// The table means something: some cases go through a proxy, some do not.
		expect(ours.filter(({proxy}) => proxy === null).length).toBeGreaterThan(50);
		expect(ours.filter(({proxy}) => proxy !== null).length).toBeGreaterThan(50);
	});

	test('an HTTPS_PROXY that is not a URL: a VibrantTokenError that does not quote it (it may hold a password)', async () => {
		process.env['HTTPS_PROXY'] = 'http://user:hunter2@proxy example:3128';
		const {error, connects} = await failure(async () => client(server.url()).getToken());
		expect(error.message).toBe(`Token request to ${server.url()} failed: HTTPS_PROXY / https_proxy (or ALL_PROXY) is not a valid URL.`);
		expect(JSON.stringify([error.message, error.stack, String(error.cause)])).not.toContain('hunter2');
		expect(connects).toHaveLength(0);
	});
});

describe('the tunnel', () => {
	test('https://127.0.0.1 through the proxy: a token, CONNECT 127.0.0.1:port, no SNI', async () => {
		const before = {connects: proxy.connects.length, servernames: server.servernames.length};
		expect(await client(server.url('127.0.0.1')).getToken()).toBe(`Bearer token-${server.requests.length}`);
		expect(proxy.connects.slice(before.connects).map(connect => connect.target)).toEqual([`127.0.0.1:${server.port}`]);
		expect(server.servernames.slice(before.servernames)).toEqual([undefined]);
	});

	test('a proxy that closes on CONNECT: at once, retried like an endpoint that closes, and the message says the proxy closed it', async () => {
		proxy.behave({kind: 'close'});
		const single = await failure(async () => client(server.url()).getToken());
		expect(single.error.message).toMatch(
			new RegExp(
				String.raw`^The proxy ${proxyOrigin()} closed the connection without answering the tunnel request \(CONNECT\) to localhost:${server.port}; `,
			),
		);
		expect(single.error.cause).toMatchObject({code: 'ECONNRESET'});
		expect(single.elapsedMs).toBeLessThan(1500);
		expect(single.connects).toHaveLength(1);

		const retried = await failure(async () => client(server.url(), {retries: 3}).getToken());
		expect(retried.error.message).toMatch(/ after 4 attempts; /);
		expect(retried.connects).toHaveLength(4);
		expect(retried.elapsedMs).toBeLessThan(5000);
	});

	test('a proxy that resets on CONNECT: at once, and the message says the proxy reset it', async () => {
		proxy.behave({kind: 'reset'});
		const {error, elapsedMs, connects} = await failure(async () => client(server.url(), {retries: 1}).getToken());
		expect(error.message).toMatch(
			new RegExp(
				String.raw`^The proxy ${proxyOrigin()} reset the connection without answering the tunnel request \(CONNECT\) to localhost:\d+ after 2 attempts; `,
			),
		);
		expect(elapsedMs).toBeLessThan(1500);
		expect(connects).toHaveLength(2);
	});

	test('a proxy that never answers: axios times the attempt out, the connection to the proxy goes with it, and no socket or timer is left', async () => {
		proxy.behave({kind: 'hang'});
		const open = () => {
			const resources = process.getActiveResourcesInfo();
			return {
				sockets: resources.filter(resource => resource === 'TCPSocketWrap' || resource === 'TLSWrap').length,
				timers: resources.filter(resource => resource === 'Timeout').length,
			};
		};

		const before = open();
		const {error, elapsedMs, connects} = await failure(async () => client(server.url(), {timeoutMs: 300}).getToken());
		expect(error.message).toMatch(
			/^Token request to .* timed out waiting for the proxy .*: it did not answer the tunnel request \(CONNECT\) in time \(timeoutMs\)/,
		);
		expect(error.cause).toMatchObject({code: 'ETIMEDOUT'});
		expect(elapsedMs).toBeGreaterThanOrEqual(290);
		expect(connects).toHaveLength(1);
		await until(() => connects[0]!.closed);
		// Both ends of the connection to the proxy are gone (a leaked one would count twice here), and
		// no timer outlives the request (the two left are the test servers' own).
		await until(() => open().sockets <= before.sockets && open().timers <= before.timers);
	});

	test('a token endpoint that closes without answering, through the tunnel: at once, and the message says the endpoint closed it', async () => {
		server.behave('close');
		const before = server.connections;
		const {error, elapsedMs, connects} = await failure(async () => client(server.url(), {retries: 2}).getToken());
		expect(error.message).toMatch(
			new RegExp(
				String.raw`^The token endpoint ${server
					.url()
					.replaceAll('.', String.raw`\.`)
					.replaceAll(
						'/',
						String.raw`\/`,
					)} closed the connection without answering after 3 attempts \(reached through the proxy ${proxyOrigin()}, which opened the tunnel\)`,
			),
		);
		expect(elapsedMs).toBeLessThan(3000);
		expect(connects).toHaveLength(3);
		expect(server.connections - before).toBe(3);
	});

	test('an answer to CONNECT that is not HTTP: the proxy is named, and it is not retried', async () => {
		proxy.behave({kind: 'raw', answer: 'SSH-2.0-OpenSSH_9.6\r\n\r\n'});
		const {error, connects} = await failure(async () => client(server.url(), {retries: 2}).getToken());
		expect(error.message).toMatch(
			new RegExp(
				String.raw`^Could not reach the token endpoint .* through the proxy ${proxyOrigin()} \(ERR_PROXY_TUNNEL: the proxy answered CONNECT with something that is not HTTP\); check HTTPS_PROXY and NO_PROXY\.$`,
			),
		);
		expect(connects).toHaveLength(1);
	});

	test("a proxy's 503 with Retry-After is retried after that wait, as the token endpoint's would be", async () => {
		proxy.behave({kind: 'raw', answer: 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy'});
		const {error, elapsedMs, connects} = await failure(async () => client(server.url(), {retries: 1}).getToken());
		expect(error.message).toMatch(
			new RegExp(
				String.raw`^The proxy ${proxyOrigin()} refused the tunnel to the token endpoint https:\/\/localhost:\d+: it answered 503 Service Unavailable after 2 attempts; `,
			),
		);
		expect(error.status).toBeUndefined();
		expect(connects).toHaveLength(2);
		expect(elapsedMs).toBeGreaterThanOrEqual(950);
	});
});
