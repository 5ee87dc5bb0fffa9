// `npm run bench:check`: reads bench/results.json (written by `npm run bench`) and exits non-zero
// when a target of this package is missed. It checks only vibrant-oauth2-client's numbers; the
// axios-auth-refresh columns are there for comparison.
//
// BENCH_MAX_RATIO overrides the axios overhead target (default 1.01), BENCH_MAX_FETCH_RATIO the
// fetch overhead target (default 1.02), BENCH_MAX_IMPORT_MS the import target (default 5 ms, for
// ESM import and CommonJS require alike).
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const resultsPath = fileURLToPath(new URL('results.json', import.meta.url));
const maxRatio = Number(process.env.BENCH_MAX_RATIO ?? 1.01);
// "No measurable difference": within the method's own noise (the bare control) plus half a percent.
const observedTolerance = 0.005;
const maxFetchRatio = Number(process.env.BENCH_MAX_FETCH_RATIO ?? 1.02);
const maxBytesPerRequest = 50;
const maxImportMs = Number(process.env.BENCH_MAX_IMPORT_MS ?? 5);

let results;
try {
	results = JSON.parse(readFileSync(resultsPath, 'utf8'));
} catch (error) {
	console.error(`bench:check: cannot read ${resultsPath} (${error.code ?? error.message}); run npm run bench first.`);
	process.exit(2);
}

const s = results.scenarios ?? {};
const round = value => Math.round(value * 10_000) / 10_000;
const checks = [];
function check(name, actual, ok) {
	checks.push({name, actual, ok: Boolean(ok)});
}

function need(scenario, name) {
	if (s[scenario] === undefined) {
		check(`${name}: scenario "${scenario}" was run`, 'missing', false);
		return false;
	}

	return true;
}

if (need('footprint', 'footprint')) {
	const f = s.footprint;
	if (f.ours?.esm === undefined || f.ours.cjs === undefined) {
		check('footprint: measured through ESM import and CommonJS require', 'missing (results of an older bench?)', false);
	} else {
		for (const [mode, name] of [
			['esm', 'ESM import'],
			['cjs', 'CommonJS require'],
		]) {
			check(
				`footprint: ${name} after axios ≤ ${maxImportMs} ms (median of ${f.runs} fresh processes)`,
				`${f.ours[mode].ms} ms (min – max ${f.ours[mode].msSpread?.join(' – ')}; axios-auth-refresh ${f.aar?.[mode]?.ms} ms)`,
				f.ours[mode].ms <= maxImportMs,
			);
		}

		check(
			'footprint: an ES module application loads no CommonJS copy of axios',
			f.ours.esm.commonJsAxios ? 'loaded' : 'not loaded',
			!f.ours.esm.commonJsAxios,
		);
	}
}

if (need('overhead', 'overhead')) {
	const o = s.overhead;
	check(
		`overhead: median of the repetitions' ratios vs bare axios ≤ ${maxRatio}`,
		`${o.ratio} (spread ${o.ratioSpread?.join(' – ')}; +${o.addedUs} µs; control ${o.controlRatio}; floor of any interceptor pair ${o.floorRatio})`,
		o.ratio <= maxRatio,
	);
	if (o.observedRatio !== undefined) {
		const noise = Math.abs(o.controlRatio - 1) + observedTolerance;
		check(
			`overhead: a subscriber on every channel makes no measurable difference (within ±${round(noise)})`,
			`${o.observedRatio} with, ${o.ratio} without`,
			Math.abs(o.observedRatio - o.ratio) <= noise,
		);
	}
}

if (need('fetchOverhead', 'fetch overhead')) {
	const o = s.fetchOverhead;
	check(
		`fetch overhead: median of the repetitions' ratios vs bare fetch ≤ ${maxFetchRatio}`,
		`${o.ratio} (spread ${o.ratioSpread?.join(' – ')}; +${o.addedUs} µs; control ${o.controlRatio}; fetch with one .then ${o.floorRatio})`,
		o.ratio <= maxFetchRatio,
	);
	check(
		'fetch overhead: no token request and no 401 while measuring',
		`${o.tokenRequestsDuringMeasurement} / ${o.api401DuringMeasurement}`,
		o.tokenRequestsDuringMeasurement === 0 && o.api401DuringMeasurement === 0,
	);
}

if (need('burst', 'cold burst')) {
	const r = s.burst.ours;
	check(`cold burst: ${r.requests} concurrent requests make 1 token request`, r.tokenRequests, r.tokenRequests === 1);
	check('cold burst: 0 failures', r.failures, r.failures === 0);
}

if (need('storm', '401 storm')) {
	const r = s.storm.ours;
	check(`401 storm: ${r.requests} rejected requests make 1 token request`, r.tokenRequests, r.tokenRequests === 1);
	check('401 storm: 0 failures', r.failures, r.failures === 0);
	check('401 storm: at most 1 retry per request (≤ 2 API calls)', r.maxApiCallsPerRequest, r.maxApiCallsPerRequest <= 2);
}

for (const [scenario, name] of [
	['burst', 'cold burst'],
	['storm', '401 storm'],
]) {
	const r = s[scenario]?.fetchOurs;
	if (s[scenario] !== undefined && r === undefined) {
		check(`${name}, fetch: measured`, 'missing', false);
	} else if (r !== undefined) {
		check(`${name}, fetch: ${r.requests} concurrent requests make 1 token request`, r.tokenRequests, r.tokenRequests === 1);
		check(`${name}, fetch: 0 failures`, r.failures, r.failures === 0);
		check(`${name}, fetch: at most 1 retry per request (≤ 2 API calls)`, r.maxApiCallsPerRequest, r.maxApiCallsPerRequest <= 2);
	}
}

if (need('rollover', 'rollover')) {
	const r = s.rollover.refreshAhead;
	check('rollover with refresh ahead: no request waited for a token', `${r.waited} (max added ${r.maxAddedLatencyMs} ms)`, r.waited === 0);
	check('rollover with refresh ahead: 0 failures', r.failures, r.failures === 0);
	check('rollover with refresh ahead: the token was renewed during the stream', r.tokenRequests, r.tokenRequests >= 1);
}

if (need('memory', 'memory')) {
	const r = s.memory;
	if (r.skipped === undefined) {
		check(
			`memory: heap growth < ${maxBytesPerRequest} bytes/request`,
			`${r.bytesPerRequest} bytes/request over ${r.requests} requests`,
			r.bytesPerRequest < maxBytesPerRequest,
		);
		check('memory: 0 failures', r.failures, r.failures === 0);
	} else {
		check('memory: measured', r.skipped, false);
	}
}

// The fleet rows (bench/fleet.mjs): skipped without redis-server, and then reported as skipped.
const skipped = [];
const fleetTargets = {
	coldStart: 'fleet cold start: 8 processes × 25 concurrent requests make 1 token request, 0 failures',
	rollover: 'fleet rollover: tokens renewed, no more token requests than one process alone (+ 1), 0 requests waited, 0 failures',
	storm: 'fleet revocation storm: 1 token request, 0 failures, at most 1 retry per request',
	redisStopped: 'fleet with Redis stopped (SIGSTOP) mid-run: 0 failed requests; sharing resumes after SIGCONT (1 token request)',
};
const f = results.fleet;
if (f === undefined) {
	check('fleet: bench/fleet.mjs was run', 'missing', false);
} else if (f.skipped !== undefined) {
	skipped.push(...Object.values(fleetTargets).map(name => `${name}: ${f.skipped}`));
} else {
	for (const [key, name] of Object.entries(fleetTargets)) {
		const r = f[key];
		if (r === undefined) {
			check(`${name}: scenario "${key}" was run`, 'missing', false);
		} else if (key === 'coldStart' || key === 'storm') {
			const ok = r.store.tokenRequests === 1 && r.store.failures === 0 && r.store.maxApiCallsPerRequest <= 2;
			check(
				name,
				`${r.store.tokenRequests} token request(s), ${r.store.failures} failures (without a store: ${r.noStore.tokenRequests})`,
				ok,
			);
		} else if (key === 'rollover') {
			const ok =
				r.single.tokenRequests >= 2 &&
				r.store.tokenRequests <= r.single.tokenRequests + 1 &&
				r.store.waited === 0 &&
				r.store.failures === 0;
			const actual = `${r.store.tokenRequests} token requests (one process alone: ${r.single.tokenRequests}; without a store: ${r.noStore.tokenRequests}), ${r.store.waited} waited, ${r.store.failures} failures`;
			check(name, actual, ok);
		} else {
			const ok = r.store.failures === 0 && r.store.tokenRequestsAfterResume === 1;
			const actual = `${r.store.failures} failures; token requests during the outage ${r.store.tokenRequestsDuringOutage}, after SIGCONT ${r.store.tokenRequestsAfterResume}`;
			check(name, actual, ok);
		}
	}
}

const when = `${results.date ?? 'unknown date'}, node ${results.machine?.node ?? '?'}, ${results.machine?.cpuCount ?? '?'}× ${results.machine?.cpuModel ?? '?'}`;
console.log(`bench:check on bench/results.json (${when})${results.quick ? ' — a QUICK run' : ''}`);
for (const {name, actual, ok} of checks) {
	console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}: ${actual}`);
}

for (const name of skipped) {
	console.log(`skip  ${name}`);
}

const failed = checks.filter(entry => !entry.ok).length;
if (failed > 0) {
	console.error(`bench:check: ${failed} of ${checks.length} targets missed.`);
	process.exit(1);
}

console.log(`bench:check: all ${checks.length} targets met.`);
if (skipped.length > 0) {
	console.log(`bench:check: ${skipped.length} fleet targets were SKIPPED, not met.`);
}
