import {VibrantConfigError} from '../lib/errors.js';
import {CachedToken} from '../lib/token.js';
import {checkTokenStore, openToken, sealToken, storeSlot} from '../lib/token-store.js';
import {clientId, secret, secretForms} from './helpers/secrets.js';

const identity = {tokenUrl: 'https://auth.example/v1/oauth2/token', clientId, scope: 'read write', authMethod: 'client_secret_post'};
const token = new CachedToken({accessToken: 'Bearer abc.DEF-123', expiresAt: 1_700_003_600_000, obtainedAt: 1_700_000_000_000});

describe('sealing a token for the store', () => {
	const slot = storeSlot(identity, secret, undefined);

	test('opens to the same token under the same key and entry key', () => {
		expect(openToken(sealToken(token, slot), slot)).toEqual(token);
		expect(openToken(sealToken(token, slot), slot)).toBeInstanceOf(CachedToken);
	});

	test('a fresh nonce per write: the same token seals differently each time', () => {
		const sealed = new Set(Array.from({length: 20}, () => sealToken(token, slot)));
		expect(sealed.size).toBe(20);
	});

	test('the sealed value shows neither the token nor the secret', () => {
		const sealed = sealToken(token, slot);
		expect(sealed).toMatch(/^v1\.[\w-]+$/);
		for (const form of [...secretForms, 'abc.DEF-123', Buffer.from('abc.DEF-123').toString('base64')]) {
			expect(sealed).not.toContain(form);
		}
	});

	test('any changed character is a miss, never an error', () => {
		const sealed = sealToken(token, slot);
		for (let index = 3; index < sealed.length; index++) {
			const changed = `${sealed.slice(0, index)}${sealed[index] === 'A' ? 'B' : 'A'}${sealed.slice(index + 1)}`;
			expect(openToken(changed, slot)).toBeUndefined();
		}
	});

	test.each([
		['another format version', (sealed: string) => `v2.${sealed.slice(3)}`],
		['no version', (sealed: string) => sealed.slice(3)],
		['truncated', (sealed: string) => sealed.slice(0, 30)],
		['empty', () => ''],
		['not base64', () => 'v1.!!!!'],
		['a token in clear', () => 'Bearer abc'],
	])('%s is a miss', (_name, change) => {
		expect(openToken(change(sealToken(token, slot)), slot)).toBeUndefined();
	});

	test.each([null, undefined, 42, {}, Buffer.from('v1.x')])('a value that is not a string (%p) is a miss', value => {
		expect(openToken(value, slot)).toBeUndefined();
	});

	test('an entry sealed with another secret is a miss', () => {
		// Under the same key name (it differs too, in practice): only the sealing key changes.
		const other = {key: slot.key, sealingKey: storeSlot(identity, 'another secret', undefined).sealingKey};
		expect(openToken(sealToken(token, other), other)).toEqual(token);
		expect(openToken(sealToken(token, other), slot)).toBeUndefined();
	});

	test('an entry copied under another key name does not open (the key name is associated data)', () => {
		const other = storeSlot({...identity, scope: 'admin'}, secret, undefined);
		expect(other.sealingKey.equals(slot.sealingKey)).toBe(true);
		expect(openToken(sealToken(token, other), slot)).toBeUndefined();
	});
});

describe('the entry key of a client', () => {
	const base = storeSlot(identity, secret, undefined);

	test('is the same for every process with the same configuration', () => {
		expect(storeSlot({...identity}, secret, undefined)).toEqual(base);
	});

	test.each([
		['token URL', {tokenUrl: 'https://auth.example/v2/oauth2/token'}],
		['client id', {clientId: 'another'}],
		['scope', {scope: 'read'}],
		['no scope', {scope: undefined}],
		['auth method', {authMethod: 'client_secret_basic'}],
	])('differs with the %s', (_name, change) => {
		expect(storeSlot({...identity, ...change}, secret, undefined).key).not.toBe(base.key);
	});

	test('differs with the secret and with the encryption key, whose identity it hashes', () => {
		const keys = [
			base.key,
			storeSlot(identity, `${secret}2`, undefined).key,
			storeSlot(identity, secret, new Uint8Array(32)).key,
			storeSlot(identity, secret, new Uint8Array(32).fill(1)).key,
		];
		expect(new Set(keys).size).toBe(4);
	});

	test('an explicit encryption key is used as is, whatever the secret', () => {
		const key = new Uint8Array(32).fill(7);
		const one = storeSlot(identity, 'secret one', key);
		expect(one).toEqual(storeSlot(identity, 'secret two', key));
		expect(one.sealingKey.equals(Buffer.from(key))).toBe(true);
	});

	test('holds no form of the secret or the client id', () => {
		expect(base.key).toMatch(/^[\w-]{43}$/);
		for (const form of [...secretForms, clientId]) {
			expect(base.key).not.toContain(form);
		}
	});
});

describe('checkTokenStore', () => {
	const methods = {
		get: () => Promise.resolve(undefined),
		set: async () => {},
		delete: async () => {},
		lock: () => Promise.resolve(true),
		extendLock: () => Promise.resolve(true),
		unlock: async () => {},
	};

	test('accepts an object with the six methods', () => {
		expect(checkTokenStore(methods)).toBe(methods);
	});

	test.each([null, 'redis://localhost', 42])('rejects %p', value => {
		expect(() => checkTokenStore(value)).toThrow(VibrantConfigError);
	});

	test('names the missing methods', () => {
		const rest = Object.fromEntries(Object.entries(methods).filter(([name]) => name !== 'lock' && name !== 'unlock'));
		expect(() => checkTokenStore(rest)).toThrow('Option store is not a TokenStore: it has no lock, unlock method.');
	});

	test.each([
		[{commandTimeoutMs: 0}, 'store.commandTimeoutMs must be a whole number of milliseconds > 0.'],
		[{lockTtlMs: 1.5}, 'store.lockTtlMs must be a whole number of milliseconds > 0.'],
		[{encryptionKey: new Uint8Array(16)}, 'store.encryptionKey must be a Uint8Array of exactly 32 bytes.'],
		[{encryptionKey: 'a'.repeat(32)}, 'store.encryptionKey must be a Uint8Array of exactly 32 bytes.'],
	])('rejects the setting %p', (settings, message) => {
		expect(() => checkTokenStore({...methods, ...settings})).toThrow(new VibrantConfigError(message));
	});
});
