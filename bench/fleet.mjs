// `npm run bench`, second part: the fleet rows of SPEC's round-2 table. A fleet is 8 worker
// processes (the built package, dist/, each with its own ioredis client) sharing one redis-server
// that this script starts (a temporary directory, a free loopback port, no persistence) and stops.
// Every scenario runs the same 8 processes twice, side by side: WITH a RedisTokenStore and WITHOUT
// a store; the rollover also runs ONE process alone, the reference for "as many token requests as
// one process alone". The token endpoint and the API are bench/servers.mjs (a child process that
// counts what it receives). Adds a `fleet` key to bench/results.json (which bench/run.mjs has just
// written), prints a table; bench/check.mjs checks the targets.
//
// Without redis-server this part says so in one line and records itself as skipped.
//
// Environment knobs: BENCH_QUICK=1 (shorter rollover), BENCH_SKIP=fleet (all of it) or any of
// fleet-cold,fleet-rollover,fleet-storm,fleet-redis-stopped, BENCH_TIMEOUT_SECONDS (170).
//
// The worker processes are bench/fleet-worker.mjs.
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';
import {countBy, quantile, round, table} from '../harness/figures.cjs';
import {hasRedisServer, startRedisServer} from '../harness/redis-server.cjs';
import {forkChild} from '../harness/rpc.cjs';
import {sleep} from '../harness/wait.cjs';

await runBench();

// ---------------------------------------------------------------------------------------------
// The bench

async function runBench() {
	const quick = process.env.BENCH_QUICK === '1';
	const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
	const resultsPath = fileURLToPath(new URL('results.json', import.meta.url));
	const startedAt = performance.now();
	const log = message => {
		process.stderr.write(`[bench fleet ${round((performance.now() - startedAt) / 1000)} s] ${message}\n`);
	};

	const watchdogSeconds = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 170);
	setTimeout(() => {
		process.stderr.write(`bench fleet: still running after ${watchdogSeconds} s; giving up.\n`);
		process.exit(1);
	}, watchdogSeconds * 1000).unref();

	const processes = 8;
	const waitedThresholdMs = 250;
	const plan = {
		processes,
		waitedThresholdMs,
		coldStart: {concurrency: 25, tokenLatencyMs: 50},
		rollover: {expiresIn: 2, tokenLatencyMs: 300, expiryBufferSeconds: 0, intervalMs: 50, durationMs: quick ? 4000 : 10_000},
		storm: {concurrency: 25, tokenLatencyMs: 50},
		// Times from the start of the stream. Revoked during the outage: every process needs a token
		// while Redis answers nothing. Revoked again once every process's back-off (2 s after its two
		// timed-out commands) is over: that revocation shows whether the fleet shares again.
		redisStopped: {
			tokenLatencyMs: 50,
			intervalMs: 50,
			stopAtMs: 1000,
			revokeAtMs: 1300,
			resumeAtMs: 3000,
			revokeAgainAtMs: 5800,
			durationMs: 7300,
		},
	};

	/** Merges `fleet` into bench/results.json (bench/run.mjs writes the rest just before). */
	function writeResults(fleet) {
		const results = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
		results.fleet = fleet;
		writeFileSync(`${resultsPath}.tmp`, `${JSON.stringify(results, null, '\t')}\n`);
		renameSync(`${resultsPath}.tmp`, resultsPath);
	}

	if (skip.has('fleet')) {
		writeResults({skipped: 'BENCH_SKIP=fleet'});
		console.log('\nFleet rows: skipped (BENCH_SKIP=fleet).');
		return;
	}

	if (!hasRedisServer()) {
		const reason = 'redis-server is not installed';
		writeResults({skipped: reason});
		console.log(
			`\nFleet rows: skipped, ${reason}; install it with \`sudo apt-get install -y redis-server\` (Debian/Ubuntu) or \`brew install redis\` (macOS).`,
		);
		return;
	}

	const redis = await startRedisServer();
	const servers = forkChild(fileURLToPath(new URL('servers.mjs', import.meta.url)), {name: 'bench servers'});
	const control = servers.call;
	const {tokenUrl, apiBase} = await servers.ready;
	const workerFile = fileURLToPath(new URL('fleet-worker.mjs', import.meta.url));
	let fleet = [];
	const fleetResults = {
		processes,
		redisServer: redis.version,
		date: new Date().toISOString(),
		quick,
		plan,
		setup: {
			workers: `${processes} child processes, each importing the package (ESM) and one ioredis client (default options) to the same redis-server; a new Client and axios instance (keep-alive agent) per scenario and contender`,
			store:
				'new RedisTokenStore(redis, {prefix}) with its defaults (commandTimeoutMs 500, lockTtlMs 5000); Redis flushed before each contender',
			waited: `a request "waited" when the time from its instance.get() call to the moment it reached axios's HTTP adapter (after every request interceptor: the wait for a token) was ≥ ${waitedThresholdMs} ms`,
			servers:
				'bench/servers.mjs: token endpoint and API in one child process on 127.0.0.1; token requests counted by the endpoint, API calls and 401s by the API',
		},
		loadAvgAtStart: os.loadavg().map(value => round(value, 2)),
	};

	try {
		log(`redis-server ${redis.version} on port ${redis.port}; starting ${processes} worker processes…`);
		fleet = Array.from({length: processes}, (_, index) => forkChild(workerFile, {name: `fleet worker ${index}`}));
		await Promise.all(fleet.map(async worker => worker.call('init', {redisPort: redis.port})));

		const every = async (workers, command, args = {}) => Promise.all(workers.map(async worker => worker.call(command, args)));

		/** Fresh clients on `workers`; `store` = RedisTokenStore options (Redis flushed first) or undefined. */
		async function setup(workers, {client, store}) {
			if (store !== undefined) {
				await redis.admin.flushall();
			}

			await every(workers, 'setup', {tokenUrl, apiBase, client, store});
		}

		/** Runs `command` on each process with its own label; folds the answers and the servers' counts into one row. */
		async function measure(workers, label, command, args) {
			await control('reset');
			const started = performance.now();
			const answers = await Promise.all(workers.map(async (worker, index) => worker.call(command, {...args, label: `${label}-${index}`})));
			const wallMs = performance.now() - started;
			const stats = await control('stats');
			return {...fold(answers, stats), wallMs: round(wallMs)};
		}

		function fold(answers, stats) {
			const beforeSend = answers.flatMap(answer => answer.beforeSendMs);
			const latency = answers.flatMap(answer => answer.latencyMs);
			const failures = answers.flatMap(answer => answer.failures);
			return {
				processes: answers.length,
				requests: latency.length,
				tokenRequests: stats.tokenRequests,
				failures: failures.length,
				failureKinds: countBy(failures),
				apiCalls: stats.apiCalls,
				api401: stats.api401,
				retried: answers.reduce((sum, answer) => sum + answer.retried, 0),
				maxApiCallsPerRequest: stats.maxCallsPerId,
				waited: beforeSend.filter(value => value >= waitedThresholdMs).length,
				maxBeforeSendMs: round(Math.max(...beforeSend)),
				medianLatencyMs: round(quantile(latency, 0.5), 2),
				p99LatencyMs: round(quantile(latency, 0.99), 1),
				maxLatencyMs: round(Math.max(...latency)),
			};
		}

		const contenders = scenario => [
			['store', {store: {prefix: `bench-${scenario}`}}],
			['noStore', {}],
		];

		const scenarios = {
			async coldStart() {
				const {concurrency, tokenLatencyMs} = plan.coldStart;
				await control('configure', {tokenLatencyMs, expiresIn: 3600});
				const result = {};
				for (const [name, options] of contenders('cold')) {
					await setup(fleet, options);
					result[name] = await measure(fleet, `cold-${name}`, 'burst', {count: concurrency});
				}

				return result;
			},

			async rollover() {
				const {expiresIn, tokenLatencyMs, expiryBufferSeconds, intervalMs, durationMs} = plan.rollover;
				await control('configure', {tokenLatencyMs, expiresIn});
				const client = {expiryBufferSeconds};
				const run = async (name, workers, options) => {
					await setup(workers, {...options, client});
					await every(workers, 'warm');
					const row = await measure(workers, `rollover-${name}`, 'stream', {intervalMs, durationMs});
					log(`rollover, ${name}: ${row.tokenRequests} token requests, ${row.waited} waited`);
					return row;
				};

				const result = {};
				for (const [name, options] of contenders('rollover')) {
					result[name] = await run(name, fleet, options);
				}

				// The reference: one process alone, refresh ahead on (the default), the same traffic.
				result.single = await run('single', fleet.slice(0, 1), {});
				return result;
			},

			async storm() {
				const {concurrency, tokenLatencyMs} = plan.storm;
				await control('configure', {tokenLatencyMs, expiresIn: 3600});
				const result = {};
				for (const [name, options] of contenders('storm')) {
					await setup(fleet, options);
					await every(fleet, 'warm');
					await control('revoke');
					result[name] = await measure(fleet, `storm-${name}`, 'burst', {count: concurrency});
				}

				return result;
			},

			async redisStopped() {
				const {tokenLatencyMs, intervalMs, stopAtMs, revokeAtMs, resumeAtMs, revokeAgainAtMs, durationMs} = plan.redisStopped;
				await control('configure', {tokenLatencyMs, expiresIn: 3600});
				const result = {};
				for (const [name, options] of contenders('stopped')) {
					await setup(fleet, options);
					await every(fleet, 'warm');
					await control('reset');
					const started = performance.now();
					const at = async ms => sleep(started + ms - performance.now());
					const streams = Promise.all(
						fleet.map(async (worker, index) => worker.call('stream', {label: `stopped-${name}-${index}`, intervalMs, durationMs})),
					);
					const tokenRequests = async () => (await control('stats')).tokenRequests;
					let paused = false;
					try {
						await at(stopAtMs);
						redis.pause();
						paused = true;
						await at(revokeAtMs);
						const beforeOutage = await tokenRequests();
						await control('revoke');
						await at(resumeAtMs);
						redis.resume();
						paused = false;
						const duringOutage = (await tokenRequests()) - beforeOutage;
						await at(revokeAgainAtMs);
						const beforeResumed = await tokenRequests();
						await control('revoke');
						const answers = await streams;
						const stats = await control('stats');
						result[name] = {
							...fold(answers, stats),
							tokenRequestsDuringOutage: duringOutage,
							tokenRequestsAfterResume: stats.tokenRequests - beforeResumed,
							wallMs: round(performance.now() - started),
						};
					} finally {
						if (paused) {
							redis.resume();
						}
					}

					log(`Redis stopped, ${name}: ${JSON.stringify(result[name])}`);
				}

				return result;
			},
		};

		const names = {coldStart: 'fleet-cold', rollover: 'fleet-rollover', storm: 'fleet-storm', redisStopped: 'fleet-redis-stopped'};
		for (const [key, scenario] of Object.entries(scenarios)) {
			if (skip.has(names[key])) {
				continue;
			}

			log(`${key}…`);
			const scenarioStart = performance.now();
			fleetResults[key] = await scenario();
			fleetResults[key].scenarioSeconds = round((performance.now() - scenarioStart) / 1000, 1);
		}
	} finally {
		await Promise.all(fleet.map(async worker => worker.stop()));
		await control('close').catch(() => {});
		await redis.stop();
	}

	fleetResults.loadAvgAtEnd = os.loadavg().map(value => round(value, 2));
	fleetResults.totalSeconds = round((performance.now() - startedAt) / 1000, 1);
	writeResults(fleetResults);
	console.log(`\n${fleetTable(fleetResults)}`);
}

function fleetTable(f) {
	const {plan} = f;
	const kinds = r =>
		Object.entries(r.failureKinds)
			.map(([kind, count]) => `${count}× ${kind}`)
			.join(', ');
	// Every request of a cold start waits for the first token: "waited" means nothing there.
	const row = (scenario, contender, r, {tokenRequests = r.tokenRequests, waited = r.waited} = {}) => [
		scenario,
		contender,
		r.requests,
		tokenRequests,
		r.failures === 0 ? 0 : `${r.failures} (${kinds(r)})`,
		r.api401,
		waited,
		r.maxBeforeSendMs,
		r.p99LatencyMs,
		r.maxLatencyMs,
	];
	const rows = [];
	const store = 'RedisTokenStore';
	const none = 'no store';
	if (f.coldStart) {
		const name = `cold start: ${plan.processes} × ${plan.coldStart.concurrency} concurrent GETs`;
		rows.push(row(name, store, f.coldStart.store, {waited: '-'}), row('', none, f.coldStart.noStore, {waited: '-'}));
	}

	if (f.rollover) {
		const {expiresIn, durationMs, intervalMs} = plan.rollover;
		const name = `rollover: ${expiresIn} s tokens, a GET every ${intervalMs} ms per process, ${durationMs / 1000} s`;
		rows.push(row(name, store, f.rollover.store), row('', none, f.rollover.noStore), row('', 'one process alone', f.rollover.single));
	}

	if (f.storm) {
		const name = `revocation storm: revoked, then ${plan.processes} × ${plan.storm.concurrency} concurrent GETs`;
		rows.push(row(name, store, f.storm.store), row('', none, f.storm.noStore));
	}

	if (f.redisStopped) {
		const {stopAtMs, resumeAtMs, durationMs, intervalMs} = plan.redisStopped;
		const name = `Redis SIGSTOP ${(resumeAtMs - stopAtMs) / 1000} s mid-run, revoked during and after (a GET every ${intervalMs} ms per process, ${durationMs / 1000} s)`;
		const split = r => ({
			tokenRequests: `${r.tokenRequests} (${r.tokenRequestsDuringOutage} during, ${r.tokenRequestsAfterResume} after SIGCONT)`,
		});
		rows.push(
			row(name, store, f.redisStopped.store, split(f.redisStopped.store)),
			row('', none, f.redisStopped.noStore, split(f.redisStopped.noStore)),
		);
	}

	const latencies = `${plan.coldStart.tokenLatencyMs} ms (cold start, storm, Redis stopped) and ${plan.rollover.tokenLatencyMs} ms (rollover)`;
	return [
		`6. Fleet: ${plan.processes} processes (dist/, one ioredis client each), one redis-server ${f.redisServer}; token endpoint latency ${latencies}${f.quick ? ' (QUICK run)' : ''}`,
		`   "waited" = ≥ ${plan.waitedThresholdMs} ms from the call to the request being sent; times in ms; load ${f.loadAvgAtStart.join(' ')} → ${f.loadAvgAtEnd.join(' ')}`,
		table(
			['scenario', 'fleet', 'requests', 'token requests', 'failures', 'API 401s', 'waited', 'max wait before send', 'p99', 'max'],
			rows,
		),
		`fleet part ${f.totalSeconds} s; results in bench/results.json under "fleet"; check with npm run bench:check`,
	].join('\n');
}
