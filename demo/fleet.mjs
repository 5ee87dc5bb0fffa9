// `npm run demo:fleet`: one token for a whole fleet, through Redis, with no credentials and no
// network. It starts a redis-server (a temporary directory, a free loopback port, no persistence),
// the embedded OAuth2 authorization server (oidc-provider) and its protected API, then 8 worker
// processes, each using the built package the way an application would:
// `attachVibrantAuth(axios.create(…), {client: new Client({store: new RedisTokenStore(redis)})})`.
// Every count printed comes from the servers; a wrong count exits 1. Without redis-server it says
// so and exits 0.
//
// The worker processes are demo/fleet-worker.mjs.
import {fileURLToPath} from 'node:url';
import {hasRedisServer, startRedisServer} from '../harness/redis-server.cjs';
import {forkChild} from '../harness/rpc.cjs';
import {sleep} from '../harness/wait.cjs';
import {narration} from './narration.mjs';

const processes = 8;
/** Concurrent requests per process: at the cold start, then after each revocation. */
const coldRequests = 25;
const laterRequests = 10;

await runDemo();

// ---------------------------------------------------------------------------------------------
// The demo

async function runDemo() {
	if (!hasRedisServer()) {
		console.log(
			'demo:fleet needs redis-server, which is not installed: `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), then run it again.',
		);
		return;
	}

	const {expectCount, failures, print, finish} = narration();

	// Nothing may hang: a demo that waits forever is a failure.
	setTimeout(() => {
		console.error('FAILED demo:fleet did not finish within 90 s');
		process.exit(1);
	}, 90_000).unref();
	process.once('SIGINT', () => process.exit(130));
	process.once('SIGTERM', () => process.exit(143));

	// Everything starts at once; the workers are killed whatever happens (the harness sees to it).
	const workers = Array.from({length: processes}, (_, index) =>
		forkChild(fileURLToPath(new URL('fleet-worker.mjs', import.meta.url)), {name: `worker process ${index}`}),
	);
	const [redis, {grantedScope, startAuthServer}] = await Promise.all([
		startRedisServer(),
		import('../__tests__/helpers/oidc/auth-server.mjs'),
		...workers.map(async worker => worker.ready),
	]);
	const auth = await startAuthServer();
	try {
		const {clientId, clientSecret} = auth.clients.post;
		const clientOptions = {clientId, clientSecret, tokenUrl: auth.tokenUrl, scope: grantedScope, authMethod: 'client_secret_post'};
		await Promise.all(workers.map(async worker => worker.call('init', {redisUrl: redis.url, clientOptions, apiOrigin: auth.apiOrigin})));
		print(`vibrant-oauth2-client fleet demo: ${processes} processes, each with its own Redis connection, share one token`);
		print(
			`  redis-server ${redis.version} on ${redis.url}, token endpoint ${auth.tokenUrl}, API ${auth.apiOrigin}; counts are the servers' own`,
		);

		/** Every process sends `count` concurrent GETs; what the servers counted meanwhile. */
		async function fleetRequests(count) {
			const before = auth.counts();
			const statuses = (await Promise.all(workers.map(async worker => worker.call('requests', {count})))).flat();
			const after = auth.counts();
			return {
				requests: statuses.length,
				ok: statuses.filter(status => status === 200).length,
				tokenRequests: after.tokenRequests - before.tokenRequests,
				apiCalls: after.apiCalls - before.apiCalls,
				api401: after.apiRejected - before.apiRejected,
			};
		}

		const answers = (step, r) => `${expectCount(`${step}: 200 answers`, r.ok, r.requests)}×200`;
		const retried = (step, r) =>
			`API calls: ${expectCount(`${step}: API calls`, r.apiCalls, 2 * r.requests)}, of which 401: ${expectCount(`${step}: 401 answers`, r.api401, r.requests)}`;

		// 1. Cold start: every process needs a token at once; one of them fetches it for all.
		const cold = await fleetRequests(coldRequests);
		expectCount('cold start: requests', cold.requests, processes * coldRequests);
		print(
			`1. Cold start: ${processes} processes, ${cold.requests} requests (${coldRequests} concurrent in each) -> ${answers('cold start', cold)}, ` +
				`${expectCount('cold start: token requests', cold.tokenRequests, 1)} token request ` +
				`(API calls: ${expectCount('cold start: API calls', cold.apiCalls, cold.requests)}).`,
		);

		// 2. Revocation: every process gets 401s; the first to take the lock fetches, the others adopt its token.
		const tokens = new Set(await Promise.all(workers.map(async worker => worker.call('token'))));
		expectCount('revocation: distinct tokens in the fleet', tokens.size, 1);
		await auth.revoke([...tokens][0]);
		const revocation = await fleetRequests(laterRequests);
		print(
			`2. The fleet's token revoked at the server; ${revocation.requests} requests (${laterRequests} concurrent in each process) -> ${answers('revocation', revocation)} after one retry each: ` +
				`${expectCount('revocation: token requests', revocation.tokenRequests, 1)} token request for the fleet (${retried('revocation', revocation)}).`,
		);

		// 3. Redis stops answering (SIGSTOP) and the token is revoked again: no process can share, each fetches for itself.
		const shared = new Set(await Promise.all(workers.map(async worker => worker.call('token'))));
		expectCount('Redis stopped: distinct tokens in the fleet', shared.size, 1);
		redis.pause();
		let outage;
		try {
			await auth.revoke([...shared][0]);
			outage = await fleetRequests(laterRequests);
		} finally {
			redis.resume();
		}

		print(
			`3. Redis stopped (SIGSTOP) and the token revoked again; ${outage.requests} requests -> ${answers('Redis stopped', outage)}: ` +
				`Redis did not answer within commandTimeoutMs (500 ms), so each process fetched for itself: ` +
				`${expectCount('Redis stopped: token requests', outage.tokenRequests, processes)} token requests (${retried('Redis stopped', outage)}).`,
		);

		// 4. Redis answers again (SIGCONT). Past the clients' back-off (they leave Redis alone for 1 s
		//    after a failed command, 2 s after two), a revocation of every process's token costs one
		//    token request again.
		await untilBackoffsEnd(workers);
		const own = new Set(await Promise.all(workers.map(async worker => worker.call('token'))));
		expectCount('Redis resumed: distinct tokens in the fleet', own.size, processes);
		await Promise.all([...own].map(async token => auth.revoke(token)));
		const resumed = await fleetRequests(laterRequests);
		print(
			`4. Redis resumed (SIGCONT); after the clients' back-off, the ${own.size} tokens revoked; ${resumed.requests} requests -> ${answers('Redis resumed', resumed)}: ` +
				`sharing resumed, ${expectCount('Redis resumed: token requests', resumed.tokenRequests, 1)} token request for the fleet (${retried('Redis resumed', resumed)}).`,
		);

		const {tokenRequests, tokensIssued, apiCalls} = auth.counts();
		print(`Totals from the servers: ${tokenRequests} token requests (${tokensIssued} tokens issued), ${apiCalls} API calls.`);
	} catch (error) {
		failures.push(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
	} finally {
		await Promise.all([...workers.map(async worker => worker.stop()), auth.close(), redis.stop()]);
	}

	finish('All checks passed; redis-server, servers and processes stopped.');
}

/** Until the store back-off of every worker has ended (as their store channels announced it). */
async function untilBackoffsEnd(workers) {
	for (;;) {
		const endsAt = Math.max(...(await Promise.all(workers.map(async worker => worker.call('backoffEndsAt')))));
		if (Date.now() > endsAt) {
			return;
		}

		await sleep(endsAt - Date.now() + 20);
	}
}
