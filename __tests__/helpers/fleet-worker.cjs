// One process of a fleet: the BUILT package with a RedisTokenStore over a real Redis client, driven
// by a test through fleet.ts. A process serves one test at a time: `reset` gives it a new Client
// (and a new Redis connection) for the next test, so a pool of processes serves a whole file.
//
// Commands (args → answer):
//   reset({redis, client, store, apiOrigin})  drops the previous Client and Redis connection and
//        the problems, messages and counts recorded so far; then connects to Redis (`redis`:
//        {kind: 'ioredis' | 'node-redis' | 'ioredis-cluster' | 'node-redis-cluster', ports, db?,
//        awaitConnect? (false: Redis is down, do not wait until connected)}) and builds `new Client({...client, store: new RedisTokenStore(redis,
//        store)})` (`store.encryptionKeyHex` becomes `encryptionKey`), and with `apiOrigin` an
//        axios instance `${apiOrigin}/v1` under attachVibrantAuth. reset(null) only drops. → {pid}
//   tokens({count, abortAfterMs?})  `count` concurrent getToken() calls, each given
//        {signal: AbortSignal.timeout(abortAfterMs)} when abortAfterMs is set → Outcome[]
//   clearThenTokens({count})  clearCache(), then `count` concurrent getToken() → Outcome[]
//   freshTokens({count})  a new Client (same settings, same Redis connection: its first getToken()
//        reads Redis at once), then `count` concurrent getToken() → Outcome[]
//   requests({count, path = '/items'})  `count` concurrent GETs through the axios instance
//        → Outcome[] (value: the status)
//   steady({durationMs, intervalMs})  getToken() every intervalMs for durationMs
//        → {tokens, slowestMs, failures, calls}
//   clear()  clearCache() → null
//   inFlight({atLeast = 0})  the getToken() calls and requests started and not yet settled,
//        answered once there are at least `atLeast` of them → number
//   counts()  since the last reset: {tokenRequests (traces started on the token channel), store:
//        {event: count}, storeResumesAt (epoch ms when the latest store back-off ends, or 0)}
//   messages()  every channel message since the last reset, rendered: [{channel, text}]
//   redisState()  the Redis client's status and listener counts (what a test must see unchanged)
//   ping()  null
//
// An Outcome is {ok: true, value} or {ok: false, name, status, message}. Every answer carries the
// process's unhandled rejections and uncaught exceptions since the last reset (`problems`), which
// must stay empty.
'use strict';
const {performance} = require('node:perf_hooks');
const {inspect} = require('node:util');
const axios = require('axios');
const {Client, RedisTokenStore, attachVibrantAuth} = require('../../dist/cjs/index.js');
const {observeChannels} = require('../../harness/observe-channels.cjs');
const {serve} = require('../../harness/rpc.cjs');
const {sleep, waitForEvent} = require('../../harness/wait.cjs');

/** The current test's Redis connection, Client and axios instance. */
let current = {};
let messages = [];
let counts = emptyCounts();
let inFlight = 0;
/** The inFlight({atLeast}) calls still waiting for more calls in flight. */
let inFlightWaiters = [];

function emptyCounts() {
	return {tokenRequests: 0, store: {}, storeResumesAt: 0};
}

observeChannels((channel, message) => {
	messages.push({channel, text: inspect(message, {showHidden: true, depth: Number.POSITIVE_INFINITY})});
	if (channel === 'token:start') {
		counts.tokenRequests++;
	} else if (channel === 'store') {
		counts.store[message.event] = (counts.store[message.event] ?? 0) + 1;
		if (message.event === 'failed') {
			counts.storeResumesAt = Math.max(counts.storeResumesAt, Date.now() + message.backoffMs);
		}
	}
});

async function connect({kind, ports, db = 0, awaitConnect = true}) {
	const nodes = ports.map(port => ({host: '127.0.0.1', port}));
	// Each process loads only the client library it uses: starting a fleet stays quick.
	const Redis = kind.startsWith('ioredis') ? require('ioredis') : undefined;
	const {createClient, createCluster} = kind.startsWith('node-redis') ? require('redis') : {};
	switch (kind) {
		case 'ioredis': {
			// The defaults an application would have (offline queue, reconnects): the store's own
			// timeout is what bounds a wait, not a client setting made for the test.
			const connection = new Redis({...nodes[0], db});
			connection.on('error', () => {});
			if (awaitConnect) {
				await waitForEvent(connection, 'ready', 10_000);
			}

			return connection;
		}

		case 'ioredis-cluster': {
			const connection = new Redis.Cluster(nodes);
			connection.on('error', () => {});
			// A test starts once the client knows the slots: a first command must not pay for that
			// discovery within the store's commandTimeoutMs on a loaded machine.
			await waitForEvent(connection, 'ready', 10_000);
			return connection;
		}

		case 'node-redis': {
			const connection = createClient({url: `redis://127.0.0.1:${ports[0]}`, database: db});
			// node-redis requires the application to listen for errors.
			connection.on('error', () => {});
			const connecting = connection.connect();
			if (awaitConnect) {
				await connecting;
			} else {
				// Redis is down from the start: the application carries on while the client reconnects.
				connecting.catch(() => {});
			}

			return connection;
		}

		case 'node-redis-cluster': {
			const connection = createCluster({rootNodes: ports.map(port => ({url: `redis://127.0.0.1:${port}`}))});
			connection.on('error', () => {});
			await connection.connect();
			return connection;
		}

		default: {
			throw new Error(`unknown redis kind ${kind}`);
		}
	}
}

/** Closes a connection at once, whatever its library or state; pending commands fail. */
function disconnect(connection) {
	if (typeof connection?.destroy === 'function') {
		connection.destroy();
	} else {
		connection?.disconnect();
	}
}

function outcome(settled) {
	return settled.status === 'fulfilled'
		? {ok: true, value: settled.value}
		: {
				ok: false,
				name: settled.reason?.name,
				status: settled.reason?.status ?? settled.reason?.response?.status,
				message: settled.reason?.message,
			};
}

/** `count` concurrent calls of `start`, counted in flight until each settles. */
async function concurrently(count, start) {
	const settled = await Promise.allSettled(
		Array.from({length: count}, async () => {
			inFlight++;
			for (const waiter of inFlightWaiters.filter(({atLeast}) => inFlight >= atLeast)) {
				waiter.resolve();
			}

			inFlightWaiters = inFlightWaiters.filter(({atLeast}) => inFlight < atLeast);
			try {
				return await start();
			} finally {
				inFlight--;
			}
		}),
	);
	return settled.map(outcome);
}

const {problems} = serve(
	{
		async reset(setup) {
			disconnect(current.redis);
			current = {};
			messages = [];
			counts = emptyCounts();
			problems.length = 0;
			if (setup === null) {
				return {pid: process.pid};
			}

			const {redis: redisOptions, client: clientOptions, store: {encryptionKeyHex, ...storeOptions} = {}, apiOrigin} = setup;
			const redis = await connect(redisOptions);
			if (encryptionKeyHex !== undefined) {
				storeOptions.encryptionKey = Buffer.from(encryptionKeyHex, 'hex');
			}

			const newClient = () => new Client({...clientOptions, store: new RedisTokenStore(redis, storeOptions)});
			const client = newClient();
			const api = apiOrigin === undefined ? undefined : attachVibrantAuth(axios.create({baseURL: `${apiOrigin}/v1`}), {client});
			current = {redis, client, api, newClient};
			return {pid: process.pid};
		},

		async freshTokens({count}) {
			current.client = current.newClient();
			return concurrently(count, async () => current.client.getToken());
		},

		async tokens({count, abortAfterMs}) {
			return concurrently(count, async () =>
				current.client.getToken(abortAfterMs === undefined ? undefined : {signal: AbortSignal.timeout(abortAfterMs)}),
			);
		},

		async clearThenTokens({count}) {
			current.client.clearCache();
			return concurrently(count, async () => current.client.getToken());
		},

		async requests({count, path = '/items'}) {
			const outcomes = await concurrently(count, async () => (await current.api.get(path)).status);
			return outcomes;
		},

		async steady({durationMs, intervalMs}) {
			const tokens = new Set();
			let slowestMs = 0;
			let failures = 0;
			let calls = 0;
			const end = performance.now() + durationMs;
			while (performance.now() < end) {
				const started = performance.now();
				try {
					tokens.add(await current.client.getToken());
				} catch {
					failures++;
				}

				calls++;
				slowestMs = Math.max(slowestMs, performance.now() - started);
				await sleep(intervalMs);
			}

			return {tokens: [...tokens], slowestMs, failures, calls};
		},

		clear() {
			current.client.clearCache();
			return null;
		},

		async inFlight({atLeast = 0}) {
			if (inFlight < atLeast) {
				await new Promise(resolve => {
					inFlightWaiters.push({atLeast, resolve});
				});
			}

			return inFlight;
		},

		counts: () => counts,
		messages: () => messages,

		redisState() {
			const events = ['error', 'connect', 'ready', 'end', 'close', 'reconnecting'];
			return {status: current.redis.status ?? current.redis.isOpen, listeners: events.map(event => current.redis.listenerCount(event))};
		},

		ping: () => null,
	},
	{recordProblems: true},
);
