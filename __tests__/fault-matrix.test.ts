import {type ChildClient, type Outcome, startChildClient} from './helpers/child-client.js';
import {listen} from './helpers/http-server.js';
import {clientId, secret, secretForms} from './helpers/secrets.js';
import {type Reply, startTokenServer, type TokenServer} from './helpers/token-server.js';

// The token endpoint's faults, each with an exact outcome, a request count and a time bound, run
// by the built package in a child process with NODE_DEBUG=vibrant (retries: 2, timeoutMs: 300).

let server: TokenServer;
let child: ChildClient;

beforeAll(async () => {
	server = await startTokenServer();
	child = startChildClient({});
});

afterAll(async () => {
	child.close();
	await server.close();
});

async function getToken(tokenUrl = server.url): Promise<Outcome> {
	return child.getToken({clientId, clientSecret: secret, tokenUrl, retries: 2, timeoutMs: 300});
}

// Distinct values, so that a scan for them means something.
const accessToken = 'matrix-token-7f3a9c';
const truncatedToken = 'matrix-token-trunc-51e';
const token = {body: {access_token: accessToken, token_type: 'bearer', expires_in: 3600}};
const html = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>';

type Case = {
	replies: Reply[] | (() => Reply[]);
	requests: number;
	maxMs: number;
	minMs?: number;
	expected: Partial<Outcome>;
};

const cases: Record<string, Case> = {
	'a reset socket, every time': {replies: ['reset'], requests: 3, maxMs: 4000, expected: {ok: false, causeCode: 'ECONNRESET'}},
	'a reset socket, then a token': {
		replies: ['reset', token],
		requests: 2,
		maxMs: 3000,
		expected: {ok: true, token: `Bearer ${accessToken}`},
	},
	'a hang beyond timeoutMs': {replies: ['hang'], requests: 3, minMs: 900, maxMs: 5000, expected: {ok: false, causeCode: 'ETIMEDOUT'}},
	'500, beyond the retry budget': {replies: [{status: 500}], requests: 3, maxMs: 4000, expected: {ok: false, status: 500}},
	'502, then a token': {replies: [{status: 502}, token], requests: 2, maxMs: 3000, expected: {ok: true, token: `Bearer ${accessToken}`}},
	'503 twice, then a token': {
		replies: [{status: 503}, {status: 503}, token],
		requests: 3,
		maxMs: 4000,
		expected: {ok: true, token: `Bearer ${accessToken}`},
	},
	'429 with Retry-After: 1': {
		replies: [{status: 429, headers: {'Retry-After': '1'}}, token],
		requests: 2,
		minMs: 950,
		maxMs: 4000,
		expected: {ok: true, token: `Bearer ${accessToken}`},
	},
	'503 with Retry-After as an HTTP-date': {
		replies: () => [{status: 503, headers: {'Retry-After': new Date(Date.now() + 2000).toUTCString()}}, token],
		requests: 2,
		minMs: 900,
		maxMs: 4000,
		expected: {ok: true, token: `Bearer ${accessToken}`},
	},
	'429 with a Retry-After over 30 s': {
		replies: [{status: 429, headers: {'Retry-After': '3600'}}],
		requests: 1,
		maxMs: 1000,
		expected: {ok: false, status: 429},
	},
	'an HTML error page': {replies: [{status: 502, body: html}], requests: 3, maxMs: 4000, expected: {ok: false, status: 502}},
	'an HTML page with 200': {replies: [{body: html}], requests: 1, maxMs: 1000, expected: {ok: false, status: 200}},
	'an empty body': {replies: [{body: ''}], requests: 1, maxMs: 1000, expected: {ok: false, status: 200}},
	'truncated JSON': {
		replies: [{body: `{"access_token":"${truncatedToken}","expi`}],
		requests: 1,
		maxMs: 1000,
		expected: {ok: false, status: 200},
	},
	'a 200 without access_token': {
		replies: [{body: {token_type: 'bearer', expires_in: 3600}}],
		requests: 1,
		maxMs: 1000,
		expected: {ok: false, status: 200},
	},
	'401 invalid_client': {
		replies: [{status: 401, body: {error: 'invalid_client'}}],
		requests: 1,
		maxMs: 1000,
		expected: {ok: false, status: 401, oauthError: 'invalid_client'},
	},
};

const messages: Record<string, RegExp> = {
	'a reset socket, every time': /^Could not reach the token endpoint .* after 3 attempts \(ECONNRESET\)/,
	'a hang beyond timeoutMs': /^Token request to .* timed out after 3 attempts/,
	'500, beyond the retry budget': /^Token endpoint answered 500 after 3 attempts: the token endpoint failed; try again later\.$/,
	'429 with a Retry-After over 30 s': /the server asks to wait 3600 s \(Retry-After\)/,
	'an HTML error page':
		/^Token endpoint answered 502 \(body: "<!DOCTYPE html><html><head><title>502 Bad Gateway<\/title>.*"\) after 3 attempts/,
	'an HTML page with 200': /^Token endpoint answered 200 but the body is not valid JSON \(body: "<!DOCTYPE html>/,
	'an empty body': /^Token endpoint answered 200 but the body is empty/,
	'truncated JSON': /^Token endpoint answered 200 but the body is not valid JSON/,
	'a 200 without access_token': /^Token endpoint answered 200 but the body has no access_token/,
	'401 invalid_client': /check VIBRANT_CLIENT_ID \/ VIBRANT_CLIENT_SECRET/,
};

describe('the token endpoint fault matrix', () => {
	test('connection refused: retried, then VibrantTokenError', async () => {
		const closed = await listen(() => {});
		await closed.close();
		const outcome = await getToken(`${closed.origin}/token`);
		expect(outcome).toMatchObject({ok: false, name: 'VibrantTokenError', causeCode: 'ECONNREFUSED'});
		expect(outcome.message).toMatch(/^Could not reach the token endpoint .* after 3 attempts \(ECONNREFUSED\)/);
		expect(outcome.elapsedMs).toBeLessThan(4000);
	});

	test.each(Object.entries(cases))('%s', async (name, {replies, requests, minMs, maxMs, expected}) => {
		server.reply(...(typeof replies === 'function' ? replies() : replies));
		const before = server.requests.length;
		const outcome = await getToken();
		expect(outcome).toMatchObject(expected);
		expect(server.requests.length - before).toBe(requests);
		expect(outcome.elapsedMs).toBeLessThan(maxMs);
		expect(outcome.elapsedMs).toBeGreaterThanOrEqual(minMs ?? 0);
		if (!outcome.ok) {
			expect(outcome.name).toBe('VibrantTokenError');
			expect(outcome.status).toBe(expected.status);
			expect(outcome.message).toMatch(messages[name]!);
			for (const text of outcome.renderings!) {
				for (const form of [...secretForms, truncatedToken]) {
					expect(text).not.toContain(form);
				}
			}
		}
	});

	test('across the matrix: no unhandled rejection, debug output written, no secret in it', async () => {
		expect(await child.unhandled()).toEqual([]);
		const stderr = child.stderr();
		for (const form of [...secretForms, accessToken, truncatedToken]) {
			expect(stderr).not.toContain(form);
		}
		expect(stderr).toContain('requesting a token from');
		expect(stderr).toContain('retrying');
	});

	test('across the matrix: one trace per token request on vibrant-oauth2-client:token, with no secret and no token in any message', async () => {
		const messages = await child.messages();
		const count = (channel: string) => messages.filter(message => message.channel === channel).length;
		// One getToken() per case, plus the refused connection; each a trace from start to asyncEnd.
		const traces = Object.keys(cases).length + 1;
		expect(count('token:start')).toBe(traces);
		expect(count('token:asyncEnd')).toBe(traces);
		expect(count('token:error')).toBe(Object.values(cases).filter(({expected}) => !expected.ok).length + 1);
		expect(new Set(messages.map(message => message.reason))).toEqual(new Set(['miss']));
		const texts = messages.flatMap(message => message.texts);
		expect(texts.join('\n')).toContain('VibrantTokenError');
		expect(texts.join('\n')).toContain("tokenType: 'Bearer'");
		for (const text of texts) {
			for (const form of [...secretForms, accessToken, truncatedToken]) {
				expect(text).not.toContain(form);
			}
		}
	});
});
