import {inspect} from 'node:util';
import {resolveConfig, isLoopback} from '../lib/config.js';
import {Client, VibrantAuthError, VibrantConfigError} from '../lib/index.js';

const secret = 'S3cr3t/+=&?%20 value';
const credentials = {clientId: 'lab-client', clientSecret: secret};

function configError(run: () => unknown): VibrantConfigError {
	try {
		run();
	} catch (error) {
		expect(error).toBeInstanceOf(VibrantConfigError);
		expect(error).toBeInstanceOf(VibrantAuthError);
		expect((error as Error).name).toBe('VibrantConfigError');
		expect((error as Error).message).not.toContain(secret);
		return error as VibrantConfigError;
	}

	throw new Error('expected a VibrantConfigError');
}

describe('resolveConfig', () => {
	test('applies the defaults', () => {
		const config = resolveConfig(credentials, {});
		expect(config).toEqual({
			clientId: 'lab-client',
			clientSecret: secret,
			tokenUrl: new URL('https://api.vibrant-wellness.com/v1/oauth2/token'),
			scope: undefined,
			authMethod: 'client_secret_post',
			expiryBufferSeconds: 60,
			timeoutMs: 30_000,
			totalTimeoutMs: 60_000,
			retries: 3,
			refreshAheadRatio: 0.8,
		});
	});

	test('reads every setting from the environment', () => {
		const config = resolveConfig(
			{},
			{
				VIBRANT_CLIENT_ID: 'env-id',
				VIBRANT_CLIENT_SECRET: 'env-secret',
				VIBRANT_TOKEN_URL: 'https://auth.example.com/token',
				VIBRANT_SCOPE: ' labs:read   orders:write ',
			},
		);
		expect(config.clientId).toBe('env-id');
		expect(config.clientSecret).toBe('env-secret');
		expect(config.tokenUrl.href).toBe('https://auth.example.com/token');
		expect(config.scope).toBe('labs:read orders:write');
	});

	test('an explicit option wins over the environment', () => {
		const config = resolveConfig(
			{clientId: 'option-id', clientSecret: 'option-secret', tokenUrl: 'https://option.example.com/t', scope: ['a', 'b']},
			{
				VIBRANT_CLIENT_ID: 'env-id',
				VIBRANT_CLIENT_SECRET: 'env-secret',
				VIBRANT_TOKEN_URL: 'https://env.example.com/t',
				VIBRANT_SCOPE: 'c',
			},
		);
		expect([config.clientId, config.clientSecret, config.tokenUrl.href, config.scope]).toEqual([
			'option-id',
			'option-secret',
			'https://option.example.com/t',
			'a b',
		]);
	});

	test('an empty scope string or array means no scope, even over the environment', () => {
		expect(resolveConfig({...credentials, scope: ''}, {VIBRANT_SCOPE: 'x'}).scope).toBeUndefined();
		expect(resolveConfig({...credentials, scope: []}, {VIBRANT_SCOPE: 'x'}).scope).toBeUndefined();
		expect(resolveConfig(credentials, {VIBRANT_SCOPE: ''}).scope).toBeUndefined();
	});

	test.each([
		[{}, {}, /Missing clientId: pass the clientId option or set VIBRANT_CLIENT_ID/],
		[{clientId: 'x'}, {}, /Missing clientSecret: pass the clientSecret option or set VIBRANT_CLIENT_SECRET/],
		[{clientId: 'x'}, {VIBRANT_CLIENT_SECRET: '   '}, /Missing clientSecret/],
		[{clientId: '', clientSecret: 'y'}, {VIBRANT_CLIENT_ID: 'env'}, /Option clientId is empty/],
		[{clientId: 'x', clientSecret: ''}, {VIBRANT_CLIENT_SECRET: 'env'}, /Option clientSecret is empty/],
		[{clientId: 42, clientSecret: 'y'}, {}, /Option clientId must be a string/],
	])('missing or empty credentials name the setting: %j', (options, environment, message) => {
		expect(configError(() => resolveConfig(options as never, environment)).message).toMatch(message);
	});

	test.each([
		['not a url', /^Option tokenUrl \(over VIBRANT_TOKEN_URL\) is not a valid absolute URL\.$/],
		['/relative/path', /^Option tokenUrl \(over VIBRANT_TOKEN_URL\) is not a valid absolute URL\.$/],
		['', /Option tokenUrl must be a non-empty string/],
		['ftp://auth.example.com/token', /must be an https: URL \(it uses ftp:\)/],
		['http://auth.example.com/token', /plain http: to auth.example.com; the client secret travels only over https:/],
		['http://10.0.0.1/token', /plain http: to 10.0.0.1/],
		['http://localhost.evil.com/token', /plain http: to localhost.evil.com/],
		['https://user:hunter2@auth.example.com/token', /must not contain user:password@/],
	])('rejects tokenUrl %j', (tokenUrl, message) => {
		const error = configError(() => resolveConfig({...credentials, tokenUrl}, {}));
		expect(error.message).toMatch(message);
		expect(error.message).not.toContain('hunter2');
	});

	test('a bad VIBRANT_TOKEN_URL is named as such and its password is not quoted', () => {
		const error = configError(() => resolveConfig(credentials, {VIBRANT_TOKEN_URL: 'http://u:hunter2@auth.example.com/t'}));
		expect(error.message).toMatch(/^VIBRANT_TOKEN_URL \(the tokenUrl option is unset\) must not contain user:password@/);
		expect(error.message).not.toContain('hunter2');
	});

	test.each(['http://localhost:8080/t', 'http://127.0.0.1/t', 'http://127.255.3.4:1/t', 'http://[::1]:9/t', 'https://auth.example.com/t'])(
		'accepts tokenUrl %s',
		tokenUrl => {
			expect(resolveConfig({...credentials, tokenUrl}, {}).tokenUrl.href).toBe(new URL(tokenUrl).href);
		},
	);

	test('loopback is exactly localhost, 127.0.0.0/8 and [::1]', () => {
		expect(['localhost', '127.0.0.1', '127.1.2.3', '[::1]'].map(host => isLoopback(host))).toEqual([true, true, true, true]);
		expect(['localhost.', '128.0.0.1', '[::2]', '0.0.0.0', '10.0.0.1', 'example.com'].map(host => isLoopback(host))).toEqual([
			false,
			false,
			false,
			false,
			false,
			false,
		]);
	});

	test.each([
		['timeoutMs', 0],
		['timeoutMs', -1],
		['timeoutMs', Number.NaN],
		['timeoutMs', Number.POSITIVE_INFINITY],
		['timeoutMs', 2 ** 31],
		['retries', -1],
		['retries', 1.5],
		['retries', Number.POSITIVE_INFINITY],
		['expiryBufferSeconds', -1],
		['expiryBufferSeconds', Number.NaN],
		['refreshAheadRatio', 0],
		['refreshAheadRatio', 1],
		['refreshAheadRatio', true],
		['timeoutMs', '100'],
	])('rejects %s = %p', (option, value) => {
		const error = configError(() => resolveConfig({...credentials, [option]: value}, {}));
		expect(error.message).toContain(`Option ${option} must be`);
	});

	test.each([
		['timeoutMs', 1],
		['retries', 0],
		['expiryBufferSeconds', 0],
		['refreshAheadRatio', false],
		['refreshAheadRatio', 0.5],
	])('accepts %s = %p', (option, value) => {
		expect(resolveConfig({...credentials, [option]: value}, {})[option as 'retries']).toBe(value);
	});

	test('rejects an unknown authMethod, an unknown option and a bad scope', () => {
		expect(configError(() => resolveConfig({...credentials, authMethod: 'private_key_jwt' as never}, {})).message).toMatch(
			/authMethod must be "client_secret_post" or "client_secret_basic"/,
		);
		expect(configError(() => resolveConfig({...credentials, clientID: 'typo'} as never, {})).message).toMatch(/Unknown option "clientID"/);
		expect(configError(() => resolveConfig({...credentials, scope: 'a "b"'}, {})).message).toMatch(/RFC 6749 §3.3/);
		expect(configError(() => resolveConfig({...credentials, scope: [1] as never}, {})).message).toMatch(
			/scope must be a string or an array/,
		);
		expect(configError(() => resolveConfig(null as never, {})).message).toMatch(/options must be an object/);
	});
});

describe('new Client', () => {
	const saved = {...process.env};
	afterEach(() => {
		process.env = {...saved};
	});

	test('validates at construction, from the environment', () => {
		delete process.env['VIBRANT_CLIENT_ID'];
		delete process.env['VIBRANT_CLIENT_SECRET'];
		expect(() => new Client()).toThrow(VibrantConfigError);
		process.env['VIBRANT_CLIENT_ID'] = 'env-id';
		process.env['VIBRANT_CLIENT_SECRET'] = secret;
		expect(() => new Client()).not.toThrow();
	});

	test('util.inspect and JSON.stringify show the settings, never the secret', () => {
		const client = new Client({...credentials, tokenUrl: 'http://127.0.0.1:1/token', scope: 'labs:read'});
		const shown = [inspect(client), inspect(client, {showHidden: true, depth: Number.POSITIVE_INFINITY}), JSON.stringify(client)];
		for (const text of shown) {
			expect(text).toContain('lab-client');
			expect(text).toContain('http://127.0.0.1:1/token');
			expect(text).not.toContain(secret);
			expect(text).not.toContain(encodeURIComponent(secret));
		}
	});
});
