// One process of a fleet: the BUILT package with a RedisTokenStore over a real Redis client, driven
// by the test through IPC. Every answer carries the process's unhandled rejections and uncaught
// exceptions so far, which must stay empty.
'use strict';
const {performance} = require('node:perf_hooks');
const {inspect} = require('node:util');
const axios = require('axios');
const {Client, RedisTokenStore, attachVibrantAuth} = require('../../dist/cjs/index.js');
const {observeChannels} = require('./observe-channels.cjs');

const problems = [];
process.on('unhandledRejection', reason => {
	problems.push(`unhandledRejection: ${String(reason)}`);
});
process.on('uncaughtException', error => {
	problems.push(`uncaughtException: ${String(error)}`);
});

let redis;
let client;
let api;

// Every message of the package's channels, rendered as it is published, for the test to scan.
const messages = [];
observeChannels((channel, message) => {
	messages.push({channel, text: inspect(message, {showHidden: true, depth: Number.POSITIVE_INFINITY})});
});

async function connect({kind, ports, awaitConnect = true}) {
	const nodes = ports.map(port => ({host: '127.0.0.1', port}));
	// Each process loads only the client library it uses: starting a fleet stays quick.
	const Redis = kind.startsWith('ioredis') ? require('ioredis') : undefined;
	const {createClient, createCluster} = kind.startsWith('node-redis') ? require('redis') : {};
	switch (kind) {
		case 'ioredis': {
			// The defaults an application would have (offline queue, reconnects): the store's own
			// timeout is what bounds a wait, not a client setting made for the test.
			const connection = new Redis(nodes[0]);
			connection.on('error', () => {});
			return connection;
		}

		case 'ioredis-cluster': {
			const connection = new Redis.Cluster(nodes);
			connection.on('error', () => {});
			return connection;
		}

		case 'node-redis': {
			const connection = createClient({url: `redis://127.0.0.1:${ports[0]}`});
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

const commands = {
	async init({redis: redisOptions, client: clientOptions, store: storeOptions = {}, apiOrigin}) {
		redis = await connect(redisOptions);
		if (storeOptions.encryptionKeyHex !== undefined) {
			storeOptions = {...storeOptions, encryptionKey: Buffer.from(storeOptions.encryptionKeyHex, 'hex')};
			delete storeOptions.encryptionKeyHex;
		}

		client = new Client({...clientOptions, store: new RedisTokenStore(redis, storeOptions)});
		if (apiOrigin !== undefined) {
			api = attachVibrantAuth(axios.create({baseURL: `${apiOrigin}/v1`}), {client});
		}

		return {pid: process.pid};
	},

	/** `count` concurrent getToken() calls. */
	async tokens({count}) {
		const settled = await Promise.allSettled(Array.from({length: count}, () => client.getToken()));
		return settled.map(outcome);
	},

	/** `count` concurrent API requests through attachVibrantAuth. */
	async requests({count, path = '/items'}) {
		const settled = await Promise.allSettled(Array.from({length: count}, () => api.get(path)));
		return settled.map(result => (result.status === 'fulfilled' ? {ok: true, value: result.value.status} : outcome(result)));
	},

	/** getToken() every `intervalMs` for `durationMs`: the tokens seen and the slowest answer. */
	async steady({durationMs, intervalMs}) {
		const tokens = new Set();
		let slowestMs = 0;
		let failures = 0;
		let calls = 0;
		const end = performance.now() + durationMs;
		while (performance.now() < end) {
			const started = performance.now();
			try {
				tokens.add(await client.getToken());
			} catch {
				failures++;
			}

			calls++;
			slowestMs = Math.max(slowestMs, performance.now() - started);
			await new Promise(resolve => {
				setTimeout(resolve, intervalMs);
			});
		}

		return {tokens: [...tokens], slowestMs, failures, calls};
	},

	/** Nothing: answers with the problems seen so far. */
	ping() {
		return null;
	},

	/** The channel messages published so far. */
	messages() {
		return messages;
	},

	clear() {
		client.clearCache();
		return null;
	},

	/** What a test must see unchanged: the client's listeners and status. */
	redisState() {
		const events = ['error', 'connect', 'ready', 'end', 'close', 'reconnecting'];
		return {status: redis.status ?? redis.isOpen, listeners: events.map(event => redis.listenerCount(event))};
	},
};

process.on('message', async ({id, command, args}) => {
	try {
		const result = await commands[command](args ?? {});
		process.send({id, result, problems});
	} catch (error) {
		process.send({id, error: String(error), problems});
	}
});
process.send({ready: true});
