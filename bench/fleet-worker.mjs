// One process of the fleet of bench/fleet.mjs: the built package (dist/) with one ioredis client for
// the process's life, driven over the harness protocol (harness/rpc.cjs). Commands:
//
//   init({redisPort})  connects to Redis (with an application's defaults) → {pid}
//   setup({tokenUrl, apiBase, client, store})  a new Client (empty cache; `store`: RedisTokenStore
//        options, or absent for no store) and axios instance (keep-alive agent) → null
//   warm()  one getToken() → null
//   burst({label, count})  `count` concurrent GETs → timings
//   stream({label, intervalMs, durationMs})  one GET every intervalMs for durationMs, not waiting
//        for each other → timings
//
// Timings: {beforeSendMs[], latencyMs[], retried, failures[]}, where beforeSendMs is the time from
// the call to the request reaching axios's HTTP adapter (the wait for a token).
import http from 'node:http';
import {performance} from 'node:perf_hooks';
import axios from 'axios';
import {Redis} from 'ioredis';
import {Client, RedisTokenStore, attachVibrantAuth} from 'vibrant-oauth2-client';
import {failureKind} from '../harness/figures.cjs';
import {serve} from '../harness/rpc.cjs';
import {paced} from '../harness/wait.cjs';

const credentials = {clientId: 'bench-client', clientSecret: 'bench-secret'};

/** One Redis connection for the process's life, with an application's defaults. */
let redis;
/** The client and axios instance of the current scenario. */
let current;
/** x-bench-id → when the request first reached axios's HTTP adapter, and how often it did. */
const dispatches = new Map();
const httpAdapter = axios.getAdapter('http');
// Runs after every request interceptor, ours included: the moment the request is really sent.
const timedAdapter = config => {
	const id = config.headers.get('x-bench-id');
	const seen = dispatches.get(id);
	if (seen === undefined) {
		dispatches.set(id, {firstSentAt: performance.now(), count: 1});
	} else {
		seen.count++;
	}

	return httpAdapter(config);
};

/** One GET, timed: from the call to the first dispatch (waiting for a token), and in all. */
async function timedGet(id) {
	const startedAt = performance.now();
	let failure;
	try {
		await current.instance.get('/items', {headers: {'x-bench-id': id}});
	} catch (error) {
		failure = failureKind(error);
	}

	const endedAt = performance.now();
	const dispatch = dispatches.get(id);
	dispatches.delete(id);
	return {
		beforeSendMs: dispatch === undefined ? endedAt - startedAt : dispatch.firstSentAt - startedAt,
		latencyMs: endedAt - startedAt,
		sent: dispatch?.count ?? 0,
		failure,
	};
}

function summarise(samples) {
	return {
		beforeSendMs: samples.map(sample => sample.beforeSendMs),
		latencyMs: samples.map(sample => sample.latencyMs),
		retried: samples.filter(sample => sample.sent > 1).length,
		failures: samples.filter(sample => sample.failure !== undefined).map(sample => sample.failure),
	};
}

const commands = {
	init({redisPort}) {
		if (redisPort !== undefined) {
			redis = new Redis({host: '127.0.0.1', port: redisPort});
			// An application listens for errors; the store's own timeout bounds every wait.
			redis.on('error', () => {});
		}

		return {pid: process.pid};
	},

	/** A new client (an empty cache) and axios instance; `store` holds RedisTokenStore options, or is absent. */
	setup({tokenUrl, apiBase, client: clientOptions = {}, store}) {
		current?.agent.destroy();
		const client = new Client({
			...credentials,
			tokenUrl,
			...clientOptions,
			store: store === undefined ? undefined : new RedisTokenStore(redis, store),
		});
		const agent = new http.Agent({keepAlive: true});
		const instance = attachVibrantAuth(axios.create({baseURL: apiBase, httpAgent: agent, adapter: timedAdapter}), {client});
		current = {client, agent, instance};
		return null;
	},

	async warm() {
		await current.client.getToken();
		return null;
	},

	/** `count` concurrent GETs. */
	async burst({label, count}) {
		return summarise(await Promise.all(Array.from({length: count}, (_, i) => timedGet(`${label}-${i}`))));
	},

	/** One GET every `intervalMs` for `durationMs`, not waiting for each other. */
	async stream({label, intervalMs, durationMs}) {
		return summarise(await Promise.all(await paced({intervalMs, durationMs}, i => timedGet(`${label}-${i}`))));
	},
};

serve(commands);
