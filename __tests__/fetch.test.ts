import type http from 'node:http';
import {performance} from 'node:perf_hooks';
import {Client, VibrantConfigError, VibrantTokenError, withVibrantAuth, type FetchFunction, type VibrantFetch} from '../lib/index.js';
import {type ApiServer, startApiServer} from './helpers/api-server.js';
import {waitFor} from './helpers/deferred.js';
import {listen, type TestServer} from './helpers/http-server.js';
import {clientId, expectNoSecret, secret} from './helpers/secrets.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

let tokens: TokenServer;
let api: ApiServer;
let foreign: ApiServer;
let client: Client;
let authFetch: VibrantFetch;

beforeEach(async () => {
	[tokens, api, foreign] = await Promise.all([startTokenServer(), startApiServer(), startApiServer()]);
	client = new Client({clientId, clientSecret: secret, tokenUrl: tokens.url, retries: 0, timeoutMs: 5000});
	authFetch = withVibrantAuth(fetch, {client, origins: [api.origin]});
});
afterEach(async () => {
	await Promise.all([tokens.close(), api.close(), foreign.close()]);
});

const authorizations = (server: {calls: ReadonlyArray<{headers: http.IncomingHttpHeaders}>}) =>
	server.calls.map(call => call.headers.authorization ?? null);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
	return promise.then(
		() => {
			throw new Error('expected a rejection');
		},
		(error: unknown) => error,
	);
}

// The global fetch as Node has it, before any test replaces it.
const nodeFetch = globalThis.fetch;

/** The real global fetch, recording what it was given and what it answered: a wrapper, not a mock. */
function recordingFetch() {
	const calls: Array<{input: string | URL | Request; init: RequestInit | undefined; earlierBodiesUsed: boolean[]}> = [];
	const responses: Response[] = [];
	const recording: FetchFunction = async (input, init) => {
		calls.push({input, init, earlierBodiesUsed: responses.map(response => response.bodyUsed)});
		const response = await nodeFetch(input, init);
		responses.push(response);
		return response;
	};

	return {fetch: recording, calls, responses};
}

describe('withVibrantAuth: whom the token goes to', () => {
	test('authorizes requests to an allowed origin with one cached token, from a string, a URL or a Request', async () => {
		const responses = [
			await authFetch(`${api.origin}/v1/a`),
			await authFetch(new URL(`${api.origin}/v1/b`)),
			await authFetch(new Request(`${api.origin}/v1/c`, {method: 'POST', body: 'x'})),
		];
		expect(responses.map(response => response.status)).toEqual([200, 200, 200]);
		expect(await responses[0]!.json()).toEqual({authorization: 'Bearer token-1', method: 'GET', body: ''});
		expect(api.calls.map(call => [call.method, call.path, call.headers.authorization])).toEqual([
			['GET', '/v1/a', 'Bearer token-1'],
			['GET', '/v1/b', 'Bearer token-1'],
			['POST', '/v1/c', 'Bearer token-1'],
		]);
		expect(tokens.requests).toHaveLength(1);
	});

	test('a cold burst of 100 concurrent requests makes one token request', async () => {
		const release = tokens.hold();
		const pending = Promise.all(Array.from({length: 100}, async (_, index) => authFetch(`${api.origin}/v1/item/${index}`)));
		await waitFor(() => tokens.requests.length === 1);
		expect(api.calls).toHaveLength(0);
		release();
		const responses = await pending;
		expect(responses.filter(response => response.status === 200)).toHaveLength(100);
		expect(tokens.requests).toHaveLength(1);
		expect(api.calls).toHaveLength(100);
		expect(new Set(authorizations(api))).toEqual(new Set(['Bearer token-1']));
	});

	test('a request to another origin gets no token, and none is fetched for it', async () => {
		const response = await authFetch(`${foreign.origin}/public`);
		expect(response.status).toBe(200);
		expect(authorizations(foreign)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('lookalike URLs get no token', async () => {
		const {port} = new URL(api.origin);
		await authFetch(`http://localhost:${port}/public`);
		// Upper case is the same origin to the URL parser: allowed.
		await authFetch(`HTTP://127.0.0.1:${port}/public?x`);
		// fetch itself refuses a URL with credentials; the token was never at stake.
		const refused = await rejection(authFetch(`http://user:pw@127.0.0.1:${port}/public`));
		expect((refused as Error).name).toBe('TypeError');
		expect(authorizations(api)).toEqual([null, 'Bearer token-1']);
		expect(tokens.requests).toHaveLength(1);
	});

	test('an input that is not a Request is judged by the URL fetch makes of it, not by a url property', async () => {
		const disguised = {url: `${api.origin}/v1/a`, toString: () => `${foreign.origin}/public`};
		const response = await authFetch(disguised as unknown as URL);
		expect(response.status).toBe(200);
		expect(authorizations(foreign)).toEqual([null]);
		expect(api.calls).toHaveLength(0);
		expect(tokens.requests).toHaveLength(0);
	});

	test('without origins, only https://api.vibrant-wellness.com is allowed', async () => {
		const byDefault = withVibrantAuth(fetch, {client});
		const response = await byDefault(`${api.origin}/public`);
		expect(response.status).toBe(200);
		expect(authorizations(api)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('the global fetch is the default, looked up at each request', async () => {
		const recording = recordingFetch();
		const original = globalThis.fetch;
		globalThis.fetch = recording.fetch;
		try {
			const response = await withVibrantAuth(undefined, {client, origins: [api.origin]})(`${api.origin}/v1/a`);
			expect(response.status).toBe(200);
		} finally {
			globalThis.fetch = original;
		}

		expect(recording.calls).toHaveLength(1);
		expect(authorizations(api)).toEqual(['Bearer token-1']);
	});

	test("the caller's init is passed on and never changed", async () => {
		const recording = recordingFetch();
		const wrapped = withVibrantAuth(recording.fetch, {client, origins: [api.origin]});
		const forms: [Record<string, string>, string[][], Headers] = [
			{'X-Trace': 'abc'},
			[['X-Trace', 'abc']],
			new Headers({'X-Trace': 'abc'}),
		];
		for (const headers of forms) {
			const init = {method: 'PUT', headers, body: 'payload', keepalive: false};
			await wrapped(`${api.origin}/v1/put`, init);
			expect(init).toEqual({method: 'PUT', headers, body: 'payload', keepalive: false});
		}

		expect(forms[2].has('authorization')).toBe(false);
		expect(forms[0]).toEqual({'X-Trace': 'abc'});
		expect(forms[1]).toEqual([['X-Trace', 'abc']]);
		expect(api.calls.map(call => [call.method, call.headers['x-trace'], call.headers.authorization, call.body])).toEqual([
			['PUT', 'abc', 'Bearer token-1', 'payload'],
			['PUT', 'abc', 'Bearer token-1', 'payload'],
			['PUT', 'abc', 'Bearer token-1', 'payload'],
		]);
	});

	test.each([
		['a Headers', () => ({headers: new Headers({authorization: 'Bearer mine'})})],
		['an array of pairs', () => ({headers: [['AUTHORIZATION', 'Bearer mine']] as Array<[string, string]>})],
		['a record', () => ({headers: {Authorization: 'Bearer mine'}})],
		['a record in lower case', () => ({headers: {authorization: 'Bearer mine'}})],
		['a Map', () => ({headers: new Map([['Authorization', 'Bearer mine']]) as unknown as Headers})],
	])("the caller's own Authorization in init.headers as %s is left alone and its 401 not retried", async (_, makeInit) => {
		const response = await authFetch(`${api.origin}/v1/private`, makeInit());
		expect(response.status).toBe(401);
		expect(authorizations(api)).toEqual(['Bearer mine']);
		expect(tokens.requests).toHaveLength(0);
	});

	test("the caller's own Authorization on a Request is left alone and its 401 not retried", async () => {
		const request = new Request(`${api.origin}/v1/private`, {method: 'POST', body: 'x', headers: {Authorization: 'Bearer mine'}});
		const response = await authFetch(request);
		expect(response.status).toBe(401);
		expect(authorizations(api)).toEqual(['Bearer mine']);
		expect(tokens.requests).toHaveLength(0);
	});

	test("init.headers replaces a Request's headers (as in fetch), so the Request's Authorization is not sent and ours is", async () => {
		const request = new Request(`${api.origin}/v1/a`, {headers: {Authorization: 'Bearer mine'}});
		const response = await authFetch(request, {headers: {'X-Trace': 'abc'}});
		expect(response.status).toBe(200);
		expect(api.calls.map(call => [call.headers.authorization, call.headers['x-trace']])).toEqual([['Bearer token-1', 'abc']]);
	});

	test('vibrantAuth: false gets no token and no 401 retry', async () => {
		const response = await authFetch(`${api.origin}/v1/private`, {vibrantAuth: false});
		expect(response.status).toBe(401);
		expect(authorizations(api)).toEqual([null]);
		expect(tokens.requests).toHaveLength(0);
	});

	test('when no token can be had, nothing is sent and the promise rejects with the VibrantTokenError', async () => {
		tokens.reply({status: 401, body: {error: 'invalid_client'}});
		const request = new Request(`${api.origin}/v1/a`, {method: 'POST', body: 'kept'});
		for (const attempt of [authFetch(`${api.origin}/v1/a`), authFetch(request)]) {
			const error = await rejection(attempt);
			expect(error).toBeInstanceOf(VibrantTokenError);
			expect((error as VibrantTokenError).oauthError).toBe('invalid_client');
			expectNoSecret(error);
		}

		expect(api.calls).toHaveLength(0);
		// The caller's Request was not read: it can be sent once the token is back.
		expect(request.bodyUsed).toBe(false);
	});
});

describe('withVibrantAuth: the 401 retry', () => {
	test('a rejected token is invalidated and the request retried once with a fresh one', async () => {
		await authFetch(`${api.origin}/v1/a`);
		api.revoke('Bearer token-1');
		const response = await authFetch(`${api.origin}/v1/b`);
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({authorization: 'Bearer token-2'});
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
		await authFetch(`${api.origin}/v1/c`);
		expect(tokens.requests).toHaveLength(2);
	});

	test("the retry's 401 is the result, with its body", async () => {
		api.revoke('Bearer token-1');
		api.revoke('Bearer token-2');
		const response = await authFetch(`${api.origin}/v1/a`);
		expect(response.status).toBe(401);
		expect(await response.json()).toEqual({error: 'invalid_token'});
		expect(authorizations(api)).toEqual(['Bearer token-1', 'Bearer token-2']);
		expect(tokens.requests).toHaveLength(2);
	});

	test("the retry's 401 does not drop the fresh token: one token request per rejected request", async () => {
		for (let request = 0; request < 3; request++) {
			expect((await authFetch(`${api.origin}/v1/status/401`)).status).toBe(401);
		}

		expect(api.calls).toHaveLength(6);
		expect(tokens.requests).toHaveLength(4);
	});

	test.each([403, 500, 503])('%i is not retried', async status => {
		expect((await authFetch(`${api.origin}/v1/status/${status}`)).status).toBe(status);
		expect(api.calls).toHaveLength(1);
		expect(tokens.requests).toHaveLength(1);
	});

	test('a storm of 200 concurrent 401s causes one token request and 200 successes', async () => {
		await authFetch(`${api.origin}/v1/warm`);
		api.revoke('Bearer token-1');
		const release = tokens.hold();
		const pending = Promise.all(Array.from({length: 200}, async (_, index) => authFetch(`${api.origin}/v1/item/${index}`)));
		// Every request has had its 401 and waits for the one new token.
		await waitFor(() => api.calls.length === 201 && tokens.requests.length === 2, 15_000);
		release();
		const responses = await pending;
		expect(responses.filter(response => response.status === 200)).toHaveLength(200);
		expect(tokens.requests).toHaveLength(2);
		expect(api.calls).toHaveLength(401);
		expect(authorizations(api).filter(value => value === 'Bearer token-2')).toHaveLength(200);
	}, 30_000);

	test("the discarded 401's body is released before the retry is sent", async () => {
		const recording = recordingFetch();
		const wrapped = withVibrantAuth(recording.fetch, {client, origins: [api.origin]});
		api.revoke('Bearer token-1');
		const response = await wrapped(`${api.origin}/v1/a`);
		expect(response.status).toBe(200);
		expect(recording.responses.map(answer => answer.status)).toEqual([401, 200]);
		// When the retry was handed to fetch, the 401's body had been read (or cancelled).
		expect(recording.calls[1]!.earlierBodiesUsed).toEqual([true]);
		// The caller's response is untouched.
		expect(response.bodyUsed).toBe(false);
	});

	test('a 401 with a large body does not hold its connection: the retry comes after it is closed or on it', async () => {
		const sockets: Array<{port: number}> = [];
		const open = new Map<number, boolean>();
		const big = await listen((request, response) => {
			const port = request.socket.remotePort!;
			if (!open.has(port)) {
				open.set(port, true);
				request.socket.on('close', () => open.set(port, false));
			}

			sockets.push({port});
			if (request.headers.authorization === 'Bearer token-1') {
				response.writeHead(401, {'Content-Type': 'application/octet-stream'});
				response.end(Buffer.alloc(4 * 1024 * 1024));
				return;
			}

			response.writeHead(200).end('ok');
		});
		try {
			const wrapped = withVibrantAuth(fetch, {client, origins: [big.origin]});
			const response = await wrapped(`${big.origin}/a`);
			expect(await response.text()).toBe('ok');
			expect(sockets).toHaveLength(2);
			const [first, retry] = [sockets[0]!, sockets[1]!];
			// Either the retry reused the 401's connection, or that connection was closed.
			await waitFor(() => first.port === retry.port || open.get(first.port) === false);
		} finally {
			await big.close();
		}
	});
});

/** An API that records raw bodies and answers 401 to `Bearer token-1`, 200 to any other token. */
async function startBodyServer(): Promise<TestServer & {calls: Array<{method: string; headers: http.IncomingHttpHeaders; body: Buffer}>}> {
	const calls: Array<{method: string; headers: http.IncomingHttpHeaders; body: Buffer}> = [];
	const server = await listen(async (request, response) => {
		const chunks: Buffer[] = [];
		for await (const chunk of request) {
			chunks.push(chunk as Buffer);
		}

		calls.push({method: request.method ?? '', headers: request.headers, body: Buffer.concat(chunks)});
		const {authorization} = request.headers;
		response.writeHead(authorization === 'Bearer token-1' || authorization === undefined ? 401 : 200, {'Content-Type': 'text/plain'});
		response.end(authorization === 'Bearer token-1' ? 'token-1 is revoked' : 'ok');
	});
	return Object.assign(server, {calls});
}

describe('withVibrantAuth: bodies on the retry', () => {
	let bodies: Awaited<ReturnType<typeof startBodyServer>>;
	beforeEach(async () => {
		bodies = await startBodyServer();
	});
	afterEach(async () => {
		await bodies.close();
	});

	const bytes = Uint8Array.from([0, 1, 2, 250, 251, 252, 253, 254, 255, 0x80, 0xc3]);
	const formData = () => {
		const form = new FormData();
		form.append('panel', 'gut');
		form.append('file', new Blob([bytes], {type: 'application/octet-stream'}), 'sample.bin');
		return form;
	};

	const kinds: Array<[string, () => RequestInit]> = [
		['no body (GET)', () => ({})],
		['no body (POST)', () => ({method: 'POST'})],
		['a string', () => ({method: 'POST', body: 'héllo wörld'})],
		['URLSearchParams', () => ({method: 'POST', body: new URLSearchParams({a: '1', b: 'two words'})})],
		['FormData', () => ({method: 'POST', body: formData()})],
		['a Blob', () => ({method: 'PUT', body: new Blob([bytes], {type: 'image/png'})})],
		['an ArrayBuffer', () => ({method: 'POST', body: bytes.slice().buffer})],
		['a Uint8Array', () => ({method: 'POST', body: bytes.slice()})],
		['a Float64Array', () => ({method: 'POST', body: new Float64Array([1.5, -2, Math.PI])})],
		['a DataView', () => ({method: 'PATCH', body: new DataView(bytes.slice().buffer, 2, 5)})],
		['a Buffer', () => ({method: 'POST', body: Buffer.from('buffer body')})],
	];

	const cases = kinds.flatMap(([name, makeInit]): Array<[string, () => [string | Request, RequestInit | undefined]]> => [
		[name, () => [`${bodies.origin}/upload`, makeInit()]],
		[`a Request carrying ${name}`, () => [new Request(`${bodies.origin}/upload`, makeInit()), undefined]],
	]);

	test.each(cases)('%s arrives identical on the retry', async (_, make) => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [bodies.origin]});
		const [input, init] = make();
		const response = await wrapped(input, init);
		expect(await response.text()).toBe('ok');
		expect(bodies.calls.map(call => call.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
		const [first, retry] = bodies.calls as [(typeof bodies.calls)[0], (typeof bodies.calls)[0]];
		expect(retry.method).toBe(first.method);
		expect(retry.body.equals(first.body)).toBe(true);
		expect(retry.headers['content-type']).toBe(first.headers['content-type']);
		expect(retry.headers['content-length']).toBe(first.headers['content-length']);
		expect(retry.headers['transfer-encoding']).toBe(first.headers['transfer-encoding']);
		// And it is the body the caller gave, as fetch itself sends it.
		const [plainInput, plainInit] = make();
		await fetch(plainInput, plainInit);
		const plain = bodies.calls[2]!;
		const boundaryFree = (call: {body: Buffer; headers: http.IncomingHttpHeaders}) => {
			const boundary = /boundary=(\S+)/.exec(call.headers['content-type'] ?? '')?.[1];
			return boundary === undefined ? call.body.toString('latin1') : call.body.toString('latin1').replaceAll(boundary, 'B');
		};

		expect(boundaryFree(first)).toBe(boundaryFree(plain));
		expect(first.headers['content-type']?.replace(/boundary=\S+/, 'B')).toBe(plain.headers['content-type']?.replace(/boundary=\S+/, 'B'));
	});

	const stream = () =>
		new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(new TextEncoder().encode('chunk-1,'));
				controller.enqueue(new TextEncoder().encode('chunk-2'));
				controller.close();
			},
		});

	test.each([
		['a ReadableStream body', () => [`${bodies.origin}/upload`, {method: 'POST', body: stream(), duplex: 'half'}] as const],
		[
			'a Request with a ReadableStream body',
			() => [new Request(`${bodies.origin}/upload`, {method: 'POST', body: stream(), duplex: 'half'})] as const,
		],
	])('%s is not retried: its 401 is the result, and the token is still invalidated', async (_, make) => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [bodies.origin]});
		const [input, init] = make();
		const response = await wrapped(input, init);
		expect(response.status).toBe(401);
		expect(await response.text()).toBe('token-1 is revoked');
		expect(bodies.calls.map(call => [call.headers.authorization, call.body.toString()])).toEqual([['Bearer token-1', 'chunk-1,chunk-2']]);
		// The next request starts with a fresh token: one call, no 401 of its own.
		expect(await (await wrapped(`${bodies.origin}/next`)).text()).toBe('ok');
		expect(bodies.calls.map(call => call.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
		expect(tokens.requests).toHaveLength(2);
	});
});

describe('withVibrantAuth: abort', () => {
	test('an abort during a hung token request rejects at once with the signal’s reason, and nothing is sent', async () => {
		tokens.reply('hang');
		for (const make of [
			(signal: AbortSignal) => authFetch(`${api.origin}/v1/a`, {signal}),
			(signal: AbortSignal) => authFetch(new Request(`${api.origin}/v1/a`, {method: 'POST', body: 'x', signal})),
		]) {
			const controller = new AbortController();
			const reason = {why: 'the caller gave up'};
			const pending = rejection(make(controller.signal));
			await waitFor(() => tokens.requests.length === 1);
			const abortedAt = performance.now();
			controller.abort(reason);
			const error = await pending;
			const elapsedMs = performance.now() - abortedAt;
			expect(error).toBe(reason);
			// "At once": a generous bound for a shared machine; the token request hangs for 5 s.
			expect(elapsedMs).toBeLessThan(1000);
		}

		expect(api.calls).toHaveLength(0);
	});

	test('an already aborted signal rejects with its reason before any token request', async () => {
		const reason = new Error('already gone');
		const error = await rejection(authFetch(`${api.origin}/v1/a`, {signal: AbortSignal.abort(reason)}));
		expect(error).toBe(reason);
		expect(tokens.requests).toHaveLength(0);
		expect(api.calls).toHaveLength(0);
	});
});

/** A server that answers `/to/<status>?to=URL` with that redirect, and anything else as the API server would. */
async function startRedirector(): Promise<
	TestServer & {calls: Array<{method: string; path: string; headers: http.IncomingHttpHeaders; body: string}>; revoked: Set<string>}
> {
	const calls: Array<{method: string; path: string; headers: http.IncomingHttpHeaders; body: string}> = [];
	const revoked = new Set<string>();
	const server = await listen(async (request, response) => {
		const chunks: Buffer[] = [];
		for await (const chunk of request) {
			chunks.push(chunk as Buffer);
		}

		const path = request.url ?? '';
		calls.push({method: request.method ?? '', path, headers: request.headers, body: Buffer.concat(chunks).toString()});
		const url = new URL(path, 'http://localhost');
		const status = /^\/to\/(\d{3})$/.exec(url.pathname);
		if (status) {
			response.writeHead(Number(status[1]), {Location: url.searchParams.get('to') ?? '/'}).end('moved');
			return;
		}

		const {authorization} = request.headers;
		const accepted = authorization !== undefined && /^Bearer token-\d+$/.test(authorization) && !revoked.has(authorization);
		response.writeHead(accepted ? 200 : 401).end(`landed ${path}`);
	});
	return Object.assign(server, {calls, revoked});
}

/**
 * A fetch that follows redirects itself and keeps every header, to any origin (as node-fetch 2
 * still does for subdomains, and as old fetch implementations did): real requests, a careless
 * redirect policy. With `redirect: "manual"` it is plain fetch.
 */
const carelessFetch: FetchFunction = async (input, init) => {
	if (init?.redirect === 'manual' || typeof input !== 'string') {
		return fetch(input, init);
	}

	let url = input;
	let response = await fetch(url, {...init, redirect: 'manual'});
	for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops++) {
		await response.arrayBuffer();
		url = new URL(response.headers.get('location') ?? '/', url).href;
		response = await fetch(url, {...init, redirect: 'manual'});
	}

	return response;
};

describe('withVibrantAuth: redirects', () => {
	let home: Awaited<ReturnType<typeof startRedirector>>;
	let away: Awaited<ReturnType<typeof startRedirector>>;
	beforeEach(async () => {
		[home, away] = await Promise.all([startRedirector(), startRedirector()]);
	});
	afterEach(async () => {
		await Promise.all([home.close(), away.close()]);
	});

	const seen = (server: typeof home) => server.calls.map(call => [call.method, call.path, call.headers.authorization ?? null]);

	test.each([301, 302, 303, 307, 308])('a %i to another origin (another port) does not carry the token', async status => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin]});
		const response = await wrapped(`${home.origin}/to/${status}?to=${encodeURIComponent(`${away.origin}/landing`)}`);
		expect(response.status).toBe(401);
		expect(await response.text()).toBe('landed /landing');
		expect(response.url).toBe(`${away.origin}/landing`);
		expect(seen(home)).toEqual([['GET', `/to/${status}?to=${encodeURIComponent(`${away.origin}/landing`)}`, 'Bearer token-1']]);
		expect(seen(away)).toEqual([['GET', '/landing', null]]);
		// A 401 from a hop that got no token says nothing about the token: kept, not retried.
		expect(tokens.requests).toHaveLength(1);
	});

	test('it does not depend on the wrapped fetch: a fetch that keeps headers on redirects leaks, wrapped it does not', async () => {
		const target = `${home.origin}/to/302?to=${encodeURIComponent(`${away.origin}/landing`)}`;
		// The control: this fetch does leak a header it is given across origins.
		await carelessFetch(target, {headers: {Authorization: 'Bearer token-1'}});
		expect(seen(away)).toEqual([['GET', '/landing', 'Bearer token-1']]);
		const wrapped = withVibrantAuth(carelessFetch, {client, origins: [home.origin]});
		await wrapped(target);
		expect(seen(away)).toEqual([
			['GET', '/landing', 'Bearer token-1'],
			['GET', '/landing', null],
		]);
		expect(authorizations(home)).toEqual(['Bearer token-1', 'Bearer token-1']);
	});

	test('a redirect to the same origin, or to another allowed one, carries the token', async () => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin, away.origin]});
		const chain = `${home.origin}/to/302?to=${encodeURIComponent(`${home.origin}/to/307?to=${encodeURIComponent(`${away.origin}/end`)}`)}`;
		const response = await wrapped(chain);
		expect(await response.text()).toBe('landed /end');
		expect([...authorizations(home), ...authorizations(away)]).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
	});

	test('once a redirect chain has left the allowed origins, a hop back to one gets no token', async () => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin]});
		const back = `${away.origin}/to/302?to=${encodeURIComponent(`${home.origin}/back`)}`;
		const response = await wrapped(`${home.origin}/to/302?to=${encodeURIComponent(back)}`);
		expect(response.status).toBe(401);
		expect(seen(home).map(([, path, authorization]) => [path, authorization])).toEqual([
			[`/to/302?to=${encodeURIComponent(back)}`, 'Bearer token-1'],
			['/back', null],
		]);
		expect(authorizations(away)).toEqual([null]);
		expect(tokens.requests).toHaveLength(1);
	});

	test('a 303 turns a POST into a GET without its body; a 307 keeps method and body', async () => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin]});
		const post = {method: 'POST', body: '{"a":1}', headers: {'Content-Type': 'application/json'}};
		await wrapped(`${home.origin}/to/303?to=/after-303`, post);
		await wrapped(`${home.origin}/to/307?to=/after-307`, post);
		expect(home.calls.map(call => [call.method, call.path, call.body, call.headers['content-type'] ?? null])).toEqual([
			['POST', '/to/303?to=/after-303', '{"a":1}', 'application/json'],
			['GET', '/after-303', '', null],
			['POST', '/to/307?to=/after-307', '{"a":1}', 'application/json'],
			['POST', '/after-307', '{"a":1}', 'application/json'],
		]);
	});

	test('a 401 after a same-origin redirect retries the whole request from its first URL', async () => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin]});
		home.revoked.add('Bearer token-1');
		const response = await wrapped(`${home.origin}/to/302?to=/private`, {vibrantAuth: true});
		expect(response.status).toBe(200);
		expect(seen(home).map(([, path, authorization]) => [path, authorization])).toEqual([
			['/to/302?to=/private', 'Bearer token-1'],
			['/private', 'Bearer token-1'],
			['/to/302?to=/private', 'Bearer token-2'],
			['/private', 'Bearer token-2'],
		]);
		expect(tokens.requests).toHaveLength(2);
	});

	test("redirect: 'manual' returns the redirect, which went to the first URL only", async () => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin]});
		const response = await wrapped(`${home.origin}/to/302?to=${encodeURIComponent(`${away.origin}/landing`)}`, {redirect: 'manual'});
		expect(response.status).toBe(302);
		expect(response.headers.get('location')).toBe(`${away.origin}/landing`);
		expect(away.calls).toHaveLength(0);
	});

	test('more than 20 redirects fail as fetch fails', async () => {
		const wrapped = withVibrantAuth(fetch, {client, origins: [home.origin]});
		let url = `${home.origin}/end`;
		for (let index = 0; index < 21; index++) {
			url = `${home.origin}/to/302?to=${encodeURIComponent(url)}`;
		}

		const error = await rejection(wrapped(url));
		expect((error as Error).name).toBe('TypeError');
		expect(((error as TypeError).cause as Error).message).toBe('redirect count exceeded');
		expect(home.calls).toHaveLength(21);
	});
});

describe('withVibrantAuth: options', () => {
	test('without a client, one is built from the environment when wrapping', () => {
		const saved = {...process.env};
		try {
			delete process.env['VIBRANT_CLIENT_ID'];
			expect(() => withVibrantAuth(fetch)).toThrow(VibrantConfigError);
			process.env['VIBRANT_CLIENT_ID'] = 'id';
			process.env['VIBRANT_CLIENT_SECRET'] = 'secret';
			expect(typeof withVibrantAuth()).toBe('function');
		} finally {
			process.env = saved;
		}
	});

	test.each([
		[{origins: []}, /Option origins must be a non-empty array/],
		[{origins: ['http://api.example.com']}, /origins\[0\] uses plain http: to api.example.com/],
		[{origins: ['not a url']}, /origins\[0\] is not an absolute URL/],
		[{origins: ['ftp://x.example.com']}, /origins\[0\] must be an https: origin/],
		[{origins: [42]}, /origins\[0\] must be a string/],
		[{client: {getToken: () => Promise.resolve('Bearer x')}}, /Option client must be a Client/],
		[null, /withVibrantAuth options must be an object/],
	])('rejects bad options %j', (options, message) => {
		expect(() => withVibrantAuth(fetch, options as never)).toThrow(VibrantConfigError);
		expect(() => withVibrantAuth(fetch, options as never)).toThrow(message);
	});

	test('rejects a fetchFunction that is not a function (such as options passed first)', () => {
		expect(() => withVibrantAuth({client} as never)).toThrow(/fetchFunction must be a function/);
	});

	test('types: vibrantAuth is a boolean in init', async () => {
		// @ts-expect-error vibrantAuth is a boolean
		const response = await authFetch(`${api.origin}/v1/a`, {vibrantAuth: 'no'});
		expect(response.status).toBe(200);
		const asFetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response> = authFetch;
		expect(asFetch).toBe(authFetch);
	});
});
