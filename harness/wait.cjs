// Waiting, for tests, the bench and the demo: a fixed time only where nothing announces the moment;
// otherwise a promise settled from outside, a condition polled, or an event.
'use strict';
const {once} = require('node:events');
const {performance} = require('node:perf_hooks');

/** Resolves after `ms` milliseconds (at once for ms ≤ 0). */
async function sleep(ms) {
	return new Promise(resolve => {
		setTimeout(resolve, Math.max(0, ms));
	});
}

/** A promise with its resolve and reject functions outside, to hold an answer until a test lets it go. */
function deferred() {
	let resolve;
	let reject;
	const promise = new Promise((settle, fail) => {
		resolve = settle;
		reject = fail;
	});
	return {promise, resolve, reject};
}

/**
 * Calls `tick(i)` at start + i × intervalMs until durationMs have passed, without waiting for what
 * a tick starts; resolves with what the ticks returned.
 */
async function paced({intervalMs, durationMs}, tick) {
	const started = [];
	const start = performance.now();
	for (let index = 0; ; index++) {
		// Behind schedule, the next tick starts at once: the ticks catch up instead of drifting.
		const wait = start + index * intervalMs - performance.now();
		if (wait > 0) {
			await sleep(wait);
		}

		if (performance.now() - start >= durationMs) {
			return started;
		}

		started.push(tick(index));
	}
}

/** Polls `condition` (sync or async) every 5 ms until it holds; rejects after `timeoutMs`. */
async function waitFor(condition, timeoutMs = 5000) {
	const deadline = Date.now() + timeoutMs;
	while (!(await condition())) {
		if (Date.now() > deadline) {
			throw new Error('waitFor: the condition did not hold in time');
		}

		await sleep(5);
	}
}

/** The arguments of the next `event` of `emitter`; rejects after `timeoutMs`. */
async function waitForEvent(emitter, event, timeoutMs = 5000) {
	try {
		return await once(emitter, event, {signal: AbortSignal.timeout(timeoutMs)});
	} catch (error) {
		if (error?.name === 'AbortError') {
			throw new Error(`waitForEvent: no "${event}" within ${timeoutMs} ms`, {cause: error});
		}

		throw error;
	}
}

module.exports = {deferred, paced, sleep, waitFor, waitForEvent};
