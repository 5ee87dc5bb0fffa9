// `npm run bench`: measures the built package (dist/) against a bare axios instance and against
// axios-auth-refresh 5.x set up as its README recommends, and its fetch wrapper against bare fetch
// and @badgateway/oauth2-client's OAuth2Fetch set up as its README recommends, on loopback servers
// that run in a child process (bench/servers.mjs). Prints a table and writes bench/results.json; bench/check.mjs
// checks this package's targets in that file. Run with --expose-gc (for the memory scenario).
//
// Environment knobs (defaults in parentheses): BENCH_QUICK=1 (shorter runs, for a smoke test),
// BENCH_SKIP=memory,rollover (skip scenarios by name), BENCH_TIMEOUT_SECONDS (240).
/* global fetch */
import {execFileSync, spawnSync} from 'node:child_process';
import {readFileSync, renameSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import {createRequire} from 'node:module';
import os from 'node:os';
import {dirname, join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';
import axios from 'axios';
import {createAuthRefreshInterceptor} from 'axios-auth-refresh';
import {OAuth2Client, OAuth2Fetch} from '@badgateway/oauth2-client';
import {Client, attachVibrantAuth, withVibrantAuth} from 'vibrant-oauth2-client';
import {countBy, failureKind, median, quantile, round, table} from '../harness/figures.cjs';
import {observeChannels} from '../harness/observe-channels.cjs';
import {forkChild} from '../harness/rpc.cjs';
import {paced, sleep} from '../harness/wait.cjs';

const quick = process.env.BENCH_QUICK === '1';
const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const resultsPath = fileURLToPath(new URL('results.json', import.meta.url));

const plan = {
	overhead: {warmupRounds: quick ? 500 : 2000, rounds: quick ? 1500 : 5000, repetitions: quick ? 2 : 6},
	fetchOverhead: {warmupRounds: quick ? 500 : 2000, rounds: quick ? 1500 : 5000, repetitions: quick ? 1 : 4},
	burst: {concurrency: 200, tokenLatencyMs: 50},
	storm: {concurrency: 200, tokenLatencyMs: 50},
	rollover: {
		tokenLatencyMs: 300,
		expiresIn: 2,
		expiryBufferSeconds: 0,
		intervalMs: 10,
		durationMs: quick ? 3000 : 7000,
		waitedThresholdMs: 200,
	},
	memory: {requests: quick ? 10_000 : 100_000, concurrency: 50, warmup: 5000},
};

const credentials = {clientId: 'bench-client', clientSecret: 'bench-secret'};
const startedAt = performance.now();
// A hung run must not hang CI: the whole bench takes one to two minutes on 2 cores.
const watchdogSeconds = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 240);
setTimeout(() => {
	process.stderr.write(`bench: still running after ${watchdogSeconds} s; giving up.\n`);
	process.exit(1);
}, watchdogSeconds * 1000).unref();

// ---------------------------------------------------------------------------------------------
// Servers (child process) and their control channel

const servers = forkChild(fileURLToPath(new URL('servers.mjs', import.meta.url)), {name: 'bench servers'});
const {tokenUrl, apiBase} = await servers.ready;
const control = servers.call;

// On two or more cores, the servers run on one and this process on another (taskset, when the
// machine has it): a request's time then depends less on what the scheduler does meanwhile.
let pinned = false;
if (os.cpus().length >= 2) {
	try {
		execFileSync('taskset', ['-pc', '1', String(servers.child.pid)], {stdio: 'ignore'});
		execFileSync('taskset', ['-pc', '0', String(process.pid)], {stdio: 'ignore'});
		pinned = true;
	} catch {
		// No taskset: unpinned, as before.
	}
}
const apiOrigin = new URL(apiBase).origin;

// ---------------------------------------------------------------------------------------------
// The contenders. Each instance gets its own keep-alive agent of the same configuration.

const newAgent = () => new http.Agent({keepAlive: true});
// The overhead scenarios send one request at a time: every contender goes through this one
// keep-alive socket, so that no contender gets a luckier connection than another.
const sharedAgent = new http.Agent({keepAlive: true, maxSockets: 1});

function newClient(options = {}) {
	return new Client({...credentials, tokenUrl, ...options});
}

/** This package: attachVibrantAuth on a plain axios.create() instance. */
function createOurs(client, httpAgent = newAgent()) {
	return attachVibrantAuth(axios.create({baseURL: apiBase, httpAgent}), {client});
}

/** The baseline: no interceptors, a fixed Authorization header. */
function createBare(authorization, httpAgent = newAgent()) {
	return axios.create({baseURL: apiBase, httpAgent, headers: {Authorization: authorization}});
}

/**
 * axios-auth-refresh 5.x exactly as its README shows: a request interceptor that writes the stored
 * token on every request, and a refresh function (run on a 401) that fetches a new token, stores it
 * and sets it on failedRequest.response.config.headers. The token is fetched with a separate
 * axios call (as the README's `axios.post(...)`), here with its own keep-alive agent.
 */
function createAar(options = {}, httpAgent = newAgent()) {
	const tokenAgent = newAgent();
	const store = {token: null};
	const fetchToken = async () => {
		const response = await axios.post(
			tokenUrl,
			new URLSearchParams({grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret}),
			{httpAgent: tokenAgent},
		);
		return response.data.access_token;
	};

	const instance = axios.create({baseURL: apiBase, httpAgent});
	instance.interceptors.request.use(request => {
		request.headers['Authorization'] = `Bearer ${store.token}`;
		return request;
	});
	const refreshAuthLogic = failedRequest =>
		fetchToken().then(token => {
			store.token = token;
			failedRequest.response.config.headers['Authorization'] = 'Bearer ' + token;
			return Promise.resolve();
		});
	createAuthRefreshInterceptor(instance, refreshAuthLogic, options);
	return {
		instance,
		/** What a service does at start-up: fetch a token before the first request. */
		async warm() {
			store.token = await fetchToken();
		},
	};
}

/** This package's fetch wrapper over the global fetch (undici's default keep-alive agent). */
function createOursFetch(client) {
	return withVibrantAuth(fetch, {client, origins: [apiOrigin]});
}

/**
 * @badgateway/oauth2-client 3.x's fetch wrapper exactly as its README shows: an OAuth2Client and an
 * OAuth2Fetch whose getNewToken is client.clientCredentials(). Its token endpoint is given (no
 * discovery); client_secret_post, as the bench's token endpoint expects.
 */
function createBadgateway() {
	const oauth2 = new OAuth2Client({
		server: new URL(tokenUrl).origin,
		tokenEndpoint: new URL(tokenUrl).pathname,
		clientId: credentials.clientId,
		clientSecret: credentials.clientSecret,
		authenticationMethod: 'client_secret_post',
	});
	const wrapper = new OAuth2Fetch({
		client: oauth2,
		getNewToken: async () => oauth2.clientCredentials(),
		onError() {},
	});
	return {
		fetch: async (input, init) => wrapper.fetch(input, init),
		/** What a service does at start-up: fetch a token before the first request. */
		async warm() {
			await wrapper.getAccessToken();
		},
	};
}

/**
 * A fetch function seen through the axios-shaped `get(path, {headers})` the scenarios use: the body
 * is read (so the connection is reused), and a status that is not 2xx rejects, as axios does.
 */
function fetchClient(fetchFunction) {
	return {
		async get(path, config = {}) {
			const response = await fetchFunction(`${apiBase}${path}`, config.headers === undefined ? undefined : {headers: config.headers});
			await response.arrayBuffer();
			if (!response.ok) {
				throw Object.assign(new Error(`HTTP ${response.status}`), {response: {status: response.status}});
			}

			return response;
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Runs `total` GETs with at most `concurrency` in flight. */
async function pooled(instance, total, concurrency) {
	let next = 0;
	let failures = 0;
	const worker = async () => {
		while (next < total) {
			next++;
			try {
				await instance.get('/items');
			} catch {
				failures++;
			}
		}
	};

	await Promise.all(Array.from({length: Math.min(concurrency, total)}, worker));
	return failures;
}

/** `n` concurrent GETs, each tagged so the API server can count calls per logical request. */
async function burst(label, instance, n) {
	await control('reset');
	const start = performance.now();
	const results = await Promise.allSettled(
		Array.from({length: n}, (_, i) => instance.get('/items', {headers: {'x-bench-id': `${label}-${i}`}})),
	);
	const wallMs = performance.now() - start;
	const stats = await control('stats');
	const failed = results.filter(result => result.status === 'rejected');
	return {
		requests: n,
		tokenRequests: stats.tokenRequests,
		failures: failed.length,
		failureKinds: countBy(failed.map(result => failureKind(result.reason))),
		apiCalls: stats.apiCalls,
		api401: stats.api401,
		apiCallsPerRequest: round(stats.apiCalls / n, 2),
		maxApiCallsPerRequest: stats.maxCallsPerId,
		wallMs: round(wallMs),
	};
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const results = {
	package: 'vibrant-oauth2-client',
	machine: {
		node: process.version,
		v8: process.versions.v8,
		platform: `${os.platform()} ${os.release()} ${os.arch()}`,
		cpuModel: os.cpus()[0]?.model ?? 'unknown',
		cpuCount: os.cpus().length,
		availableParallelism: os.availableParallelism?.() ?? os.cpus().length,
		totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
		loadAvgAtStart: os.loadavg().map(value => round(value, 2)),
	},
	date: new Date().toISOString(),
	versions: {
		axios: axios.VERSION,
		undici: process.versions.undici,
		'@badgateway/oauth2-client': JSON.parse(
			readFileSync(join(dirname(createRequire(import.meta.url).resolve('@badgateway/oauth2-client')), '..', 'package.json'), 'utf8'),
		).version,
		// Its package.json is not in its "exports"; read it beside the resolved entry point.
		'axios-auth-refresh': JSON.parse(
			readFileSync(join(dirname(createRequire(import.meta.url).resolve('axios-auth-refresh')), '..', 'package.json'), 'utf8'),
		).version,
	},
	quick,
	plan,
	setup: {
		servers: 'token endpoint and API in a child process on 127.0.0.1, ephemeral ports, keep-alive (keepAliveTimeout 120 s)',
		agents: 'one new http.Agent({keepAlive: true}) per axios instance',
		fetch: "the global fetch (undici's default agent, keep-alive) for every fetch contender; each response body read to its end",
		badgateway:
			"@badgateway/oauth2-client as in its README: OAuth2Fetch({client: new OAuth2Client({server, tokenEndpoint, clientId, clientSecret, authenticationMethod: 'client_secret_post'}), getNewToken: () => client.clientCredentials()}); wrapper.fetch(url)",
		aar: 'axios-auth-refresh as in its README: request interceptor writes `Bearer ${storedToken}`; refreshAuthLogic POSTs to the token endpoint on 401, stores the token and sets failedRequest.response.config.headers.Authorization; default options (deduplicateRefresh: true) unless noted',
	},
	scenarios: {},
};

function log(message) {
	process.stderr.write(`[bench ${round((performance.now() - startedAt) / 1000)} s] ${message}\n`);
}

/**
 * Times `arms` ({name, request}) round-robin, one request per arm per round, the order reversed every
 * other round: every contender sees the same moment-to-moment conditions of a noisy machine. Each
 * request is timed with process.hrtime.bigint(). A repetition for which `isObserved` holds runs with
 * a subscriber on every channel of the package (a global subscription, so for a whole repetition).
 * Returns the samples of every arm (repetitions not observed) and one `row(medians, observed)` per
 * repetition.
 */
async function roundRobin(label, arms, {warmupRounds, rounds, repetitions}, {row, isObserved = () => false}) {
	const reversed = [...arms].reverse();
	for (let index = 0; index < warmupRounds; index++) {
		for (const arm of arms) {
			await arm.request();
		}
	}

	await control('reset');
	const all = Object.fromEntries(arms.map(arm => [arm.name, []]));
	const perRepetition = [];
	for (let repetition = 0; repetition < repetitions; repetition++) {
		const observed = isObserved(repetition);
		const unobserve = observed ? observeChannels(() => {}) : undefined;
		const samples = Object.fromEntries(arms.map(arm => [arm.name, new Float64Array(rounds)]));
		for (let index = 0; index < rounds; index++) {
			for (const arm of index % 2 === 0 ? arms : reversed) {
				const start = process.hrtime.bigint();
				await arm.request();
				samples[arm.name][index] = Number(process.hrtime.bigint() - start) / 1000;
			}
		}

		unobserve?.();
		if (!observed) {
			for (const arm of arms) {
				all[arm.name].push(...samples[arm.name]);
			}
		}

		perRepetition.push(row(Object.fromEntries(arms.map(arm => [arm.name, median(samples[arm.name])])), observed));
		log(`${label} repetition ${repetition + 1}/${repetitions}: ${JSON.stringify(perRepetition.at(-1))}`);
	}

	return {all, perRepetition};
}

/** Medians and p90 of every contender's samples, in µs. */
function summarise(all, names) {
	const summary = {p90Us: {}};
	for (const name of names) {
		summary[`${name}Us`] = round(median(all[name]), 2);
		summary.p90Us[name] = round(quantile(all[name], 0.9), 1);
	}

	return summary;
}

/** One repetition's medians (µs) of bare, ours and `other` (the competitor), and their ratios to bare. */
function repetitionRow(medians, other) {
	return {
		bareUs: round(medians.bare, 2),
		oursUs: round(medians.ours, 2),
		[`${other}Us`]: round(medians[other], 2),
		ratio: round(medians.ours / medians.bare, 4),
		floorRatio: round(medians.floor / medians.bare, 4),
		[`${other}Ratio`]: round(medians[other] / medians.bare, 4),
		controlRatio: round(medians.bare2 / medians.bare, 4),
	};
}

/** What the overhead scenarios report besides their own fields: the ratios of `other` (the competitor) too. */
function overheadSummary(all, perRepetition, other) {
	const middle = key => round(median(perRepetition.map(entry => entry[key])), 4);
	const ratios = perRepetition.map(entry => entry.ratio);
	return {
		...summarise(all, ['bare', 'bare2', 'floor', 'ours', other]),
		ratio: middle('ratio'),
		ratioSpread: [Math.min(...ratios), Math.max(...ratios)],
		addedUs: round(median(perRepetition.map(entry => entry.oursUs - entry.bareUs)), 2),
		floorRatio: middle('floorRatio'),
		[`${other}Ratio`]: middle(`${other}Ratio`),
		[`${other}AddedUs`]: round(median(perRepetition.map(entry => entry[`${other}Us`] - entry.bareUs)), 2),
		controlRatio: middle('controlRatio'),
	};
}

async function overheadScenario() {
	await control('configure', {tokenLatencyMs: 0, expiresIn: 3600});
	const client = newClient();
	const ours = createOurs(client, sharedAgent);
	const token = await client.getToken();
	const aar = createAar({}, sharedAgent);
	await aar.warm();
	// The least any auth plumbing costs in axios: a synchronous request interceptor that sets the
	// header, and a response interceptor for errors (axios chains it with a .then for every request).
	const floor = axios.create({baseURL: apiBase, httpAgent: sharedAgent});
	floor.interceptors.request.use(
		config => {
			config.headers['Authorization'] = token;
			return config;
		},
		undefined,
		{synchronous: true},
	);
	floor.interceptors.response.use(undefined, async error => {
		throw error;
	});
	// bare2 is a second, identical baseline: its ratio to bare shows the noise floor of the method.
	const instances = {bare: createBare(token, sharedAgent), bare2: createBare(token, sharedAgent), floor, ours, aar: aar.instance};
	const arms = Object.entries(instances).map(([name, instance]) => ({name, request: () => instance.get('/items')}));
	const {all, perRepetition} = await roundRobin('overhead', arms, plan.overhead, {
		// Every other repetition: what observing costs a warm request.
		isObserved: repetition => repetition % 2 === 1,
		row: (medians, observed) => ({observed, ...repetitionRow(medians, 'aar'), floorUs: round(medians.floor, 2)}),
	});
	const stats = await control('stats');
	const plain = perRepetition.filter(entry => !entry.observed);
	const observed = perRepetition.filter(entry => entry.observed);
	const {ratio, ratioSpread, addedUs, floorRatio, aarRatio, aarAddedUs, controlRatio, ...samples} = overheadSummary(all, plain, 'aar');
	return {
		method:
			'per-request round-robin (bare, bare2, floor, ours, aar; order reversed every other round) over one keep-alive socket, each request timed with process.hrtime.bigint(); a median per contender per repetition; ratios are medians of the repetitions without a subscriber; every other repetition runs with a subscriber on every channel',
		pinned,
		requestsPerContender: plan.overhead.rounds * plain.length,
		...samples,
		ratio,
		ratioSpread,
		addedUs,
		observedRatio: observed.length === 0 ? undefined : round(median(observed.map(entry => entry.ratio)), 4),
		floorRatio,
		aarRatio,
		aarAddedUs,
		controlRatio,
		perRepetition,
		tokenRequestsDuringMeasurement: stats.tokenRequests,
		api401DuringMeasurement: stats.api401,
	};
}

async function fetchOverheadScenario() {
	await control('configure', {tokenLatencyMs: 0, expiresIn: 3600});
	const client = newClient();
	const ours = createOursFetch(client);
	const token = await client.getToken();
	const badgateway = createBadgateway();
	await badgateway.warm();
	const url = `${apiBase}/items`;
	const bareInit = {headers: {Authorization: token}};
	// bare2 is a second, identical baseline: its ratio to bare shows the noise floor of the method.
	// The least a fetch wrapper that can see a 401 costs: one .then on fetch's promise.
	const keep = response => response;
	const requests = {
		bare: () => fetch(url, bareInit),
		bare2: () => fetch(url, bareInit),
		floor: () => fetch(url, bareInit).then(keep),
		ours: () => ours(url),
		badgateway: () => badgateway.fetch(url),
	};
	// Each request and the reading of its body.
	const arms = Object.entries(requests).map(([name, request]) => ({
		name,
		async request() {
			const response = await request();
			await response.arrayBuffer();
			if (response.status !== 200) {
				throw new Error(`${name}: HTTP ${response.status}`);
			}
		},
	}));
	const {all, perRepetition} = await roundRobin('fetch overhead', arms, plan.fetchOverhead, {
		row: medians => repetitionRow(medians, 'badgateway'),
	});
	const stats = await control('stats');
	const {ratio, ratioSpread, addedUs, floorRatio, badgatewayRatio, badgatewayAddedUs, controlRatio, ...samples} = overheadSummary(
		all,
		perRepetition,
		'badgateway',
	);
	return {
		method:
			'per-request round-robin (bare fetch, bare fetch again, fetch with one .then, withVibrantAuth, badgateway OAuth2Fetch; order reversed every other round), each request and the reading of its body timed with process.hrtime.bigint(); a median per contender per repetition; ratios are medians of the repetitions',
		requestsPerContender: plan.fetchOverhead.rounds * plan.fetchOverhead.repetitions,
		...samples,
		ratio,
		ratioSpread,
		addedUs,
		floorRatio,
		badgatewayRatio,
		badgatewayAddedUs,
		controlRatio,
		perRepetition,
		tokenRequestsDuringMeasurement: stats.tokenRequests,
		api401DuringMeasurement: stats.api401,
	};
}

async function burstScenario() {
	const {concurrency, tokenLatencyMs} = plan.burst;
	await control('configure', {tokenLatencyMs, expiresIn: 3600});
	const ours = await burst('burst-ours', createOurs(newClient()), concurrency);
	const aar = await burst('burst-aar', createAar().instance, concurrency);
	const aarNoDedup = await burst('burst-aar-nodedup', createAar({deduplicateRefresh: false}).instance, concurrency);
	const fetchOurs = await burst('burst-fetch-ours', fetchClient(createOursFetch(newClient())), concurrency);
	const fetchBadgateway = await burst('burst-fetch-badgateway', fetchClient(createBadgateway().fetch), concurrency);
	return {tokenLatencyMs, ours, aar, aarNoDedup, fetchOurs, fetchBadgateway};
}

async function stormScenario() {
	const {concurrency, tokenLatencyMs} = plan.storm;
	await control('configure', {tokenLatencyMs: 0, expiresIn: 3600});
	const ourClient = newClient();
	const oursInstance = createOurs(ourClient);
	await oursInstance.get('/items');
	const aar = createAar();
	await aar.warm();
	await aar.instance.get('/items');
	const aarNoDedup = createAar({deduplicateRefresh: false});
	await aarNoDedup.warm();
	await aarNoDedup.instance.get('/items');
	const fetchOurs = fetchClient(createOursFetch(newClient()));
	await fetchOurs.get('/items');
	const badgateway = createBadgateway();
	await badgateway.warm();
	const fetchBadgateway = fetchClient(badgateway.fetch);
	await fetchBadgateway.get('/items');

	await control('configure', {tokenLatencyMs});
	const run = async (label, instance) => {
		await control('revoke');
		return burst(label, instance, concurrency);
	};

	return {
		tokenLatencyMs,
		ours: await run('storm-ours', oursInstance),
		aar: await run('storm-aar', aar.instance),
		aarNoDedup: await run('storm-aar-nodedup', aarNoDedup.instance),
		fetchOurs: await run('storm-fetch-ours', fetchOurs),
		fetchBadgateway: await run('storm-fetch-badgateway', fetchBadgateway),
	};
}

/** A steady stream of requests, one every intervalMs, not waiting for each other. */
async function stream(label, instance) {
	const {intervalMs, durationMs, waitedThresholdMs} = plan.rollover;
	await control('reset');
	const latencies = [];
	const failures = [];
	const inFlight = await paced({intervalMs, durationMs}, i => {
		const sentAt = performance.now();
		return instance.get('/items', {headers: {'x-bench-id': `${label}-${i}`}}).then(
			() => latencies.push(performance.now() - sentAt),
			error => {
				latencies.push(performance.now() - sentAt);
				failures.push(failureKind(error));
			},
		);
	});
	await Promise.all(inFlight);
	const stats = await control('stats');
	const typical = median(latencies);
	const waited = latencies.filter(value => value > waitedThresholdMs);
	return {
		requests: latencies.length,
		tokenRequests: stats.tokenRequests,
		waited: waited.length,
		maxLatencyMs: round(Math.max(...latencies)),
		medianLatencyMs: round(typical, 2),
		p99LatencyMs: round(quantile(latencies, 0.99), 2),
		maxAddedLatencyMs: round(Math.max(...latencies) - typical),
		failures: failures.length,
		failureKinds: countBy(failures),
		api401: stats.api401,
		maxApiCallsPerRequest: stats.maxCallsPerId,
	};
}

async function rolloverScenario() {
	const {tokenLatencyMs, expiresIn, expiryBufferSeconds} = plan.rollover;
	await control('configure', {tokenLatencyMs, expiresIn});
	const run = async (label, options) => {
		const client = newClient({expiryBufferSeconds, ...options});
		const instance = createOurs(client);
		await client.getToken();
		return stream(label, instance);
	};

	const refreshAhead = await run('rollover-ours-ahead', {});
	log('rollover: ours with refresh ahead done');
	const noRefreshAhead = await run('rollover-ours-noahead', {refreshAheadRatio: false});
	log('rollover: ours without refresh ahead done');
	const aar = createAar();
	await aar.warm();
	const aarResult = await stream('rollover-aar', aar.instance);
	return {tokenLatencyMs, expiresIn, expiryBufferSeconds, refreshAhead, noRefreshAhead, aar: aarResult};
}

async function memoryScenario() {
	if (typeof globalThis.gc !== 'function') {
		return {skipped: 'run node with --expose-gc'};
	}

	const {requests, concurrency, warmup} = plan.memory;
	await control('configure', {tokenLatencyMs: 0, expiresIn: 3600});
	const instance = createOurs(newClient());
	await pooled(instance, warmup, concurrency);
	const collect = async () => {
		for (let i = 0; i < 3; i++) {
			globalThis.gc();
			await sleep(20);
		}

		return process.memoryUsage().heapUsed;
	};

	await control('reset');
	const before = await collect();
	const start = performance.now();
	const failures = await pooled(instance, requests, concurrency);
	const seconds = (performance.now() - start) / 1000;
	const after = await collect();
	const stats = await control('stats');
	return {
		requests,
		concurrency,
		seconds: round(seconds, 1),
		requestsPerSecond: Math.round(requests / seconds),
		heapBeforeBytes: before,
		heapAfterBytes: after,
		growthBytes: after - before,
		bytesPerRequest: round((after - before) / requests, 2),
		failures,
		tokenRequests: stats.tokenRequests,
	};
}

/**
 * What importing the package costs an application that has loaded axios already, through ESM
 * `import` and CommonJS `require`: each run in a fresh process (load axios, gc, then time the import
 * of the contender and measure the heap after gc), interleaved (nothing, this package,
 * axios-auth-refresh; ESM and CommonJS); medians of the runs. Also whether an ES module application
 * got a CommonJS copy of axios.
 */
async function footprintScenario() {
	const runs = quick ? 3 : 10;
	const timed = load => `
		globalThis.gc(); globalThis.gc();
		const heapBefore = process.memoryUsage().heapUsed;
		const started = performance.now();
		${load}
		const ms = performance.now() - started;
		globalThis.gc(); globalThis.gc();
		const heapBytes = process.memoryUsage().heapUsed - heapBefore;
		const commonJsAxios = Object.keys(require.cache).some(file => /[\\/]node_modules[\\/]axios[\\/]/.test(file));
		console.log(JSON.stringify({ms, heapBytes, commonJsAxios}));
	`;
	const scripts = {
		esm: target => [
			'--input-type=module',
			'-e',
			`import {createRequire} from 'node:module';
			import axios from 'axios';
			const require = createRequire(import.meta.url);
			${timed(target === undefined ? '' : `await import(${JSON.stringify(target)});`)}`,
		],
		cjs: target => ['-e', `require('axios'); ${timed(target === undefined ? '' : `require(${JSON.stringify(target)});`)}`],
	};
	const contenders = {nothing: undefined, ours: 'vibrant-oauth2-client', aar: 'axios-auth-refresh'};
	const samples = {};
	for (let run = 0; run < runs; run++) {
		for (const [name, target] of Object.entries(contenders)) {
			for (const [mode, script] of Object.entries(scripts)) {
				// Each child on every core, as any fresh process: this process is pinned to one
				// (for the overhead scenario), and a child would inherit that.
				const command = [process.execPath, '--expose-gc', ...script(target)];
				const [file, ...args] = pinned ? ['taskset', '-c', `0-${os.cpus().length - 1}`, ...command] : command;
				const result = spawnSync(file, args, {cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8'});
				if (result.status !== 0) {
					throw new Error(`footprint ${name} (${mode}): ${result.stderr}`);
				}

				((samples[name] ??= {})[mode] ??= []).push(JSON.parse(result.stdout));
			}
		}
	}

	const summary = {};
	for (const [name, modes] of Object.entries(samples)) {
		summary[name] = {};
		for (const [mode, list] of Object.entries(modes)) {
			summary[name][mode] = {
				ms: round(median(list.map(entry => entry.ms)), 2),
				msSpread: [round(Math.min(...list.map(entry => entry.ms)), 2), round(Math.max(...list.map(entry => entry.ms)), 2)],
				heapBytes: Math.round(median(list.map(entry => entry.heapBytes))),
				...(mode === 'esm' ? {commonJsAxios: list.some(entry => entry.commonJsAxios)} : {}),
			};
		}
	}

	return {
		method: `a fresh node process per run (${runs} runs each, interleaved; on every core${pinned ? ', not pinned like this process' : ''}; ESM: import axios, then await import() the contender; CommonJS: require both): gc, then time the import of the contender and measure heapUsed after gc; medians`,
		runs,
		...summary,
	};
}

const scenarios = [
	['footprint', footprintScenario],
	['overhead', overheadScenario],
	['fetchOverhead', fetchOverheadScenario],
	['burst', burstScenario],
	['storm', stormScenario],
	['rollover', rolloverScenario],
	['memory', memoryScenario],
];

try {
	for (const [name, scenario] of scenarios) {
		if (skip.has(name)) {
			continue;
		}

		log(`${name}…`);
		const scenarioStart = performance.now();
		results.scenarios[name] = await scenario();
		results.scenarios[name].scenarioSeconds = round((performance.now() - scenarioStart) / 1000, 1);
	}
} finally {
	await control('close').catch(() => {});
}

results.totalSeconds = round((performance.now() - startedAt) / 1000, 1);
results.machine.loadAvgAtEnd = os.loadavg().map(value => round(value, 2));

writeFileSync(`${resultsPath}.tmp`, `${JSON.stringify(results, null, '\t')}\n`);
renameSync(`${resultsPath}.tmp`, resultsPath);

// ---------------------------------------------------------------------------------------------
// The table

const out = [];
const m = results.machine;
out.push(`vibrant-oauth2-client bench — node ${m.node}, ${m.cpuCount}× ${m.cpuModel}, ${results.date}, load ${m.loadAvgAtStart.join(' ')}`);
out.push(
	`axios ${results.versions.axios}, axios-auth-refresh ${results.versions['axios-auth-refresh']}, undici ${results.versions.undici}, @badgateway/oauth2-client ${results.versions['@badgateway/oauth2-client']}${quick ? ' (QUICK run)' : ''}`,
);
const s = results.scenarios;
if (s.footprint) {
	const f = s.footprint;
	out.push(
		'',
		`0. Footprint: importing after axios, through ESM import and CommonJS require (${f.runs} fresh processes each; medians, min – max)`,
	);
	const row = (label, r) => [
		label,
		`${r.esm.ms} (${r.esm.msSpread.join(' – ')})`,
		`${r.cjs.ms} (${r.cjs.msSpread.join(' – ')})`,
		round(r.esm.heapBytes / 1024, 1),
		r.esm.commonJsAxios ? 'yes' : 'no',
	];
	out.push(
		table(
			['import after axios', 'ESM import, ms', 'CommonJS require, ms', 'heap after gc (ESM), kB', 'ESM: a CommonJS copy of axios loaded'],
			[row('nothing: the floor of the method', f.nothing), row('vibrant-oauth2-client', f.ours), row('axios-auth-refresh', f.aar)],
		),
	);
}

/** The rows of an overhead table: the baseline, its control, the floor, ours and `other` (the competitor). */
function overheadRows(o, perRepetition, labels, other) {
	const perRow = key => perRepetition.map(r => r[key]).join(' / ');
	return [
		[labels.bare, o.bareUs, o.p90Us.bare, 0, 1, '-'],
		[labels.control, o.bare2Us, o.p90Us.bare2, round(o.bare2Us - o.bareUs, 2), o.controlRatio, perRow('controlRatio')],
		[labels.floor, o.floorUs, o.p90Us.floor, round(o.floorUs - o.bareUs, 2), o.floorRatio, perRow('floorRatio')],
		[labels.ours, o.oursUs, o.p90Us.ours, o.addedUs, o.ratio, perRow('ratio')],
		[labels.other, o[`${other}Us`], o.p90Us[other], o[`${other}AddedUs`], o[`${other}Ratio`], perRow(`${other}Ratio`)],
	];
}

const overheadHeaders = ['contender', 'median µs/request', 'p90 µs', 'added µs', 'ratio vs bare', 'ratio per repetition'];
if (s.overhead) {
	const o = s.overhead;
	const plain = o.perRepetition.filter(r => !r.observed);
	const observed = o.perRepetition.filter(r => r.observed);
	out.push(
		'',
		`1. Overhead, warm token, sequential GETs over one keep-alive socket: ${plan.overhead.repetitions} × ${plan.overhead.rounds} rounds, one request per contender per round (order reversed every other round)${o.pinned ? '; servers and client pinned to separate cores' : ''}. Ratios: median of the ${plain.length} repetitions without a subscriber (ours: spread ${o.ratioSpread.join(' – ')})`,
	);
	const labels = {
		bare: 'bare axios + fixed header',
		control: 'bare axios again (control)',
		floor: 'floor: a sync request + an error response interceptor',
		ours: 'vibrant attachVibrantAuth',
		other: 'axios-auth-refresh (README)',
	};
	out.push(table(overheadHeaders, overheadRows(o, plain, labels, 'aar')));
	if (observed.length > 0) {
		out.push(
			`With a subscriber on every channel (the other ${observed.length} repetitions): attachVibrantAuth ${o.observedRatio} × bare (${observed.map(r => r.ratio).join(' / ')}), control ${observed.map(r => r.controlRatio).join(' / ')}.`,
		);
	}
}

if (s.fetchOverhead) {
	const o = s.fetchOverhead;
	out.push(
		'',
		`1b. Fetch overhead, warm token, sequential GETs with the body read: ${plan.fetchOverhead.repetitions} × ${plan.fetchOverhead.rounds} rounds, one request per contender per round (order reversed every other round)`,
	);
	const labels = {
		bare: 'bare fetch + fixed header',
		control: 'bare fetch again (control)',
		floor: 'floor: fetch with one .then',
		ours: 'vibrant withVibrantAuth(fetch)',
		other: '@badgateway/oauth2-client OAuth2Fetch (README)',
	};
	out.push(table(overheadHeaders, overheadRows(o, o.perRepetition, labels, 'badgateway')));
}

const burstRows = (scenario, extra = []) =>
	[
		['vibrant', scenario.ours],
		['axios-auth-refresh (README)', scenario.aar],
		['axios-auth-refresh deduplicateRefresh:false', scenario.aarNoDedup],
		['vibrant withVibrantAuth (fetch)', scenario.fetchOurs],
		['@badgateway/oauth2-client OAuth2Fetch (README)', scenario.fetchBadgateway],
		...extra,
	]
		.filter(([, r]) => r !== undefined)
		.map(([name, r]) => [
			name,
			r.tokenRequests,
			r.failures,
			Object.entries(r.failureKinds)
				.map(([kind, count]) => `${count}× ${kind}`)
				.join(', ') || '-',
			r.apiCalls,
			r.api401,
			r.apiCallsPerRequest,
			r.maxApiCallsPerRequest,
			r.wallMs,
		]);
const burstHeaders = [
	'contender',
	'token requests',
	'failures',
	'failure kinds',
	'API calls',
	'API 401s',
	'API calls/request',
	'max calls/request',
	'wall ms',
];
if (s.burst) {
	out.push(
		'',
		`2. Cold burst: ${plan.burst.concurrency} concurrent GETs, empty cache, token endpoint latency ${plan.burst.tokenLatencyMs} ms`,
	);
	out.push(table(burstHeaders, burstRows(s.burst)));
}

if (s.storm) {
	out.push(
		'',
		`3. 401 storm: warm token revoked at the API, ${plan.storm.concurrency} concurrent GETs, token endpoint latency ${plan.storm.tokenLatencyMs} ms`,
	);
	out.push(table(burstHeaders, burstRows(s.storm)));
}

if (s.rollover) {
	const r = s.rollover;
	out.push(
		'',
		`4. Rollover: expires_in ${r.expiresIn} s (expiryBufferSeconds ${r.expiryBufferSeconds}), token latency ${r.tokenLatencyMs} ms, one GET every ${plan.rollover.intervalMs} ms for ${plan.rollover.durationMs / 1000} s; "waited" = took > ${plan.rollover.waitedThresholdMs} ms`,
	);
	out.push(
		table(
			['contender', 'requests', 'token requests', 'waited', 'max added ms', 'median ms', 'p99 ms', 'API 401s', 'failures'],
			[
				['vibrant, refreshAheadRatio 0.8 (default)', r.refreshAhead],
				['vibrant, refreshAheadRatio false', r.noRefreshAhead],
				['axios-auth-refresh (README)', r.aar],
			].map(([name, x]) => [
				name,
				x.requests,
				x.tokenRequests,
				x.waited,
				x.maxAddedLatencyMs,
				x.medianLatencyMs,
				x.p99LatencyMs,
				x.api401,
				x.failures,
			]),
		),
	);
}

if (s.memory) {
	const x = s.memory;
	out.push('', '5. Memory: heapUsed after gc, before vs after N requests through one vibrant instance');
	out.push(
		x.skipped
			? `skipped: ${x.skipped}`
			: table(
					[
						'requests',
						'in flight',
						'seconds',
						'req/s',
						'heap before',
						'heap after',
						'growth',
						'bytes/request',
						'failures',
						'token requests',
					],
					[
						[
							x.requests,
							x.concurrency,
							x.seconds,
							x.requestsPerSecond,
							x.heapBeforeBytes,
							x.heapAfterBytes,
							x.growthBytes,
							x.bytesPerRequest,
							x.failures,
							x.tokenRequests,
						],
					],
				),
	);
}

out.push('', `total ${results.totalSeconds} s; results in bench/results.json; check with npm run bench:check`);
process.stdout.write(`${out.join('\n')}\n`);
