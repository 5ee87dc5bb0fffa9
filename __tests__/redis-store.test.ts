import type {EventEmitter} from 'node:events';
import {inspect} from 'node:util';
import axios from 'axios';
import Redis, {Cluster} from 'ioredis';
import {RESP_TYPES, createClient, createCluster} from 'redis';
import {Client, cacheOf} from '../lib/client.js';
import {VibrantConfigError} from '../lib/errors.js';
import {RedisTokenStore} from '../lib/redis-store.js';
import type {TokenStore} from '../lib/token-store.js';
import {type RedisServer, startRedisServer} from '../harness/redis-server.cjs';
import {describeWithRedis} from './helpers/describe-with-redis.js';
import {type TokenServer, startTokenServer} from './helpers/token-server.js';

describe('new RedisTokenStore(redis, options)', () => {
	test.each([
		['nothing', undefined],
		['null', null],
		['a URL', 'redis://127.0.0.1:6379'],
		['an empty object', {}],
		['an axios instance', axios.create()],
		['an object with get and set', {get: () => Promise.resolve(null), set: () => Promise.resolve('OK')}],
	])('rejects %s with a VibrantConfigError', (_name, redis) => {
		expect(() => new RedisTokenStore(redis as object)).toThrow(
			new VibrantConfigError(
				'RedisTokenStore needs a Redis client: an ioredis Redis or Cluster (ioredis ≥ 5), or a node-redis client or cluster (redis ≥ 4).',
			),
		);
	});

	test('accepts ioredis Redis and Cluster, node-redis client and cluster, and keeps them untouched', () => {
		const clients = [
			new Redis({lazyConnect: true}),
			new Cluster([{host: '127.0.0.1', port: 7000}], {lazyConnect: true}),
			createClient(),
			createCluster({rootNodes: [{url: 'redis://127.0.0.1:7000'}]}),
		];
		for (const redis of clients) {
			const events = (redis as EventEmitter).eventNames();
			expect(new RedisTokenStore(redis)).toBeInstanceOf(RedisTokenStore);
			expect((redis as EventEmitter).eventNames()).toEqual(events);
		}
	});

	test('has the documented defaults', () => {
		const store = new RedisTokenStore(new Redis({lazyConnect: true}));
		expect([store.prefix, store.commandTimeoutMs, store.lockTtlMs, store.encryptionKey]).toEqual([
			'vibrant-oauth2-client',
			500,
			5000,
			undefined,
		]);
	});

	test.each([
		[{prefix: ''}, 'RedisTokenStore option prefix must be 1 to 100 characters without spaces, "{" or "}".'],
		[{prefix: 'a{b}'}, 'RedisTokenStore option prefix must be 1 to 100 characters without spaces, "{" or "}".'],
		[{commandTimeoutMs: -1}, 'RedisTokenStore option commandTimeoutMs must be a whole number of milliseconds > 0.'],
		[{lockTtlMs: Number.POSITIVE_INFINITY}, 'RedisTokenStore option lockTtlMs must be a whole number of milliseconds > 0.'],
		[{encryptionKey: new Uint8Array(31).fill(9)}, 'RedisTokenStore option encryptionKey must be a Uint8Array of exactly 32 bytes.'],
	])('rejects the option %p', (options, message) => {
		expect(() => new RedisTokenStore(new Redis({lazyConnect: true}), options)).toThrow(new VibrantConfigError(message));
	});

	test('util.inspect and JSON show the settings, never the encryption key or the client', () => {
		const key = Buffer.from('k3y-bytes-that-must-not-show-up!');
		const store = new RedisTokenStore(new Redis({lazyConnect: true, password: 'redis-password'}), {encryptionKey: key});
		const shown = [inspect(store, {showHidden: true, depth: Number.POSITIVE_INFINITY}), JSON.stringify(store)];
		expect(shown[0]!.replaceAll(/\s+/g, ' ')).toBe(
			"RedisTokenStore { prefix: 'vibrant-oauth2-client', commandTimeoutMs: 500, lockTtlMs: 5000 }",
		);
		for (const text of shown) {
			for (const form of [key.toString(), key.toString('hex'), key.toString('base64'), 'redis-password', [...key].join(', ')]) {
				expect(text).not.toContain(form);
			}
		}

		// A copy: changing the returned bytes changes nothing in the store.
		store.encryptionKey!.fill(0);
		expect(Buffer.from(store.encryptionKey!).equals(key)).toBe(true);
	});

	test('a Client rejects a store that is not one', () => {
		const options = {clientId: 'a', clientSecret: 'b'};
		expect(() => new Client({...options, store: {} as unknown as TokenStore})).toThrow(VibrantConfigError);
	});
});

describeWithRedis('RedisTokenStore on a real Redis', () => {
	let server: RedisServer;
	let tokens: TokenServer;

	beforeAll(async () => {
		[server, tokens] = await Promise.all([startRedisServer(), startTokenServer()]);
	});

	afterAll(async () => {
		await Promise.all([server.stop(), tokens.close()]);
	});

	type Connection = {redis: object; close: () => Promise<void>};
	const connections: Record<string, () => Promise<Connection>> = {
		'ioredis RESP3': async () => {
			const redis = new Redis({port: server.port, host: '127.0.0.1', lazyConnect: true});
			await redis.connect();
			return {redis, close: async () => redis.quit().then(() => {})};
		},
		'ioredis RESP2': async () => {
			const redis = new Redis({port: server.port, host: '127.0.0.1', lazyConnect: true, protocol: 2});
			await redis.connect();
			return {redis, close: async () => redis.quit().then(() => {})};
		},
		'node-redis RESP3': async () => {
			const redis = createClient({url: server.url, RESP: 3});
			await redis.connect();
			return {redis, close: async () => redis.quit().then(() => {})};
		},
		'node-redis RESP2, Buffer replies': async () => {
			const redis = createClient({url: server.url, RESP: 2}).withTypeMapping({[RESP_TYPES.BLOB_STRING]: Buffer});
			await redis.connect();
			return {redis, close: async () => redis.quit().then(() => {})};
		},
	};

	describe.each(Object.keys(connections))('over %s', name => {
		let connection: Connection;
		let store: RedisTokenStore;
		let prefix: string;

		beforeAll(async () => {
			connection = await connections[name]!();
			prefix = `test-${name.replaceAll(/\W+/g, '-')}`;
			store = new RedisTokenStore(connection.redis, {prefix});
		});

		afterAll(async () => {
			await connection.close();
		});

		test('get and set, with the TTL on the key', async () => {
			expect(await store.get('entry')).toBeUndefined();
			await store.set('entry', 'v1.sealed', 60_000);
			expect(await store.get('entry')).toBe('v1.sealed');
			const ttl = Number(await server.admin.call('PTTL', `${prefix}:{entry}`));
			expect(ttl).toBeGreaterThan(59_000);
			expect(ttl).toBeLessThanOrEqual(60_000);
		});

		test('delete only removes the value it is given (compare-and-delete)', async () => {
			await store.set('compared', 'newer', 60_000);
			await store.delete('compared', 'older');
			expect(await store.get('compared')).toBe('newer');
			await store.delete('compared', 'newer');
			expect(await store.get('compared')).toBeUndefined();
		});

		test('the lock: one owner at a time, extended and released only by its owner, with a TTL', async () => {
			expect(await store.lock('locked', 'owner-a', 5000)).toBe(true);
			expect(await store.lock('locked', 'owner-b', 5000)).toBe(false);
			expect(await store.extendLock('locked', 'owner-b', 60_000)).toBe(false);
			expect(await store.extendLock('locked', 'owner-a', 60_000)).toBe(true);
			expect(Number(await server.admin.call('PTTL', `${prefix}:{locked}:lock`))).toBeGreaterThan(59_000);
			await store.unlock('locked', 'owner-b');
			expect(await store.lock('locked', 'owner-b', 5000)).toBe(false);
			await store.unlock('locked', 'owner-a');
			expect(await store.lock('locked', 'owner-b', 5000)).toBe(true);
			await store.unlock('locked', 'owner-b');
		});

		test('the scripts work after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
			await server.admin.call('SCRIPT', 'FLUSH');
			expect(await store.lock('flushed', 'owner', 5000)).toBe(true);
			expect(await store.extendLock('flushed', 'owner', 5000)).toBe(true);
			await server.admin.call('SCRIPT', 'FLUSH');
			await store.unlock('flushed', 'owner');
			expect(Number(await server.admin.call('EXISTS', `${prefix}:{flushed}:lock`))).toBe(0);
		});

		test("a Client on it never changes the Redis client's listeners, settings or connection", async () => {
			const redis = connection.redis as EventEmitter & {options?: unknown; status?: string; isOpen?: boolean};
			const before = {
				events: redis.eventNames().map(event => [event, redis.listenerCount(event)]),
				options: JSON.stringify(redis.options),
				status: redis.status ?? redis.isOpen,
			};
			const client = new Client({clientId: `untouched-${name}`, clientSecret: 'secret', tokenUrl: tokens.url, store});
			const first = await client.getToken();
			cacheOf(client).invalidate(first);
			await client.getToken();
			client.clearCache();
			await client.getToken();
			expect({
				events: redis.eventNames().map(event => [event, redis.listenerCount(event)]),
				options: JSON.stringify(redis.options),
				status: redis.status ?? redis.isOpen,
			}).toEqual(before);
			expect(await (redis as unknown as Redis).ping()).toBe('PONG');
		});
	});
});
