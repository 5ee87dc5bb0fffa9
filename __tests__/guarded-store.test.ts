import {type GuardEvent, GuardedStore, failed} from '../lib/guarded-store.js';
import type {TokenStore} from '../lib/token-store.js';

// The guard around a shared store, on a clock the test moves: back-offs are checked without
// waiting them out (shared-token.test.ts proves the same through a Client, in real time).

type Behaviour = 'answer' | 'reject' | 'hang';

function setup() {
	const clock = {now: 1_000_000};
	const behaviour: {current: Behaviour} = {current: 'answer'};
	const calls: string[] = [];
	const events: GuardEvent[] = [];
	const pending: Array<() => void> = [];
	const act = async <T>(name: string, value: T): Promise<T> => {
		calls.push(name);
		if (behaviour.current === 'reject') {
			throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), {code: 'ECONNREFUSED'});
		}

		if (behaviour.current === 'hang') {
			return new Promise(resolve => {
				pending.push(() => {
					resolve(value);
				});
			});
		}

		return value;
	};

	const store: TokenStore = {
		get: async () => act('get', 'value'),
		set: async () => act('set', undefined),
		delete: async () => act('delete', undefined),
		lock: async () => act('lock', true),
		extendLock: async () => act('extendLock', true),
		unlock: async () => act('unlock', undefined),
	};
	const guarded = new GuardedStore(store, {
		commandTimeoutMs: 20,
		now: () => clock.now,
		report: {
			observed: () => true,
			emit(event) {
				events.push(event);
			},
		},
	});
	return {clock, behaviour, calls, events, pending, guarded};
}

describe('GuardedStore', () => {
	test('a failure starts a back-off of 1 s, doubling to 10 s, during which the store is not asked; an answer ends it', async () => {
		const {clock, behaviour, calls, events, guarded} = setup();
		behaviour.current = 'reject';
		const backoffs: number[] = [];
		for (let failure = 0; failure < 6; failure++) {
			expect(await guarded.get('key')).toBe(failed);
			const event = events.at(-1)!;
			expect(event).toMatchObject({event: 'failed', operation: 'get', error: 'Error ECONNREFUSED'});
			backoffs.push((event as {backoffMs: number}).backoffMs);
			// Within the back-off: not asked at all.
			clock.now += backoffs.at(-1)! - 1;
			const asked = calls.length;
			expect(await guarded.get('key')).toBe(failed);
			expect(calls).toHaveLength(asked);
			clock.now += 1;
		}

		expect(backoffs).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
		behaviour.current = 'answer';
		expect(await guarded.get('key')).toBe('value');
		expect(events.at(-1)).toEqual({event: 'recovered'});
		// The next failure starts from 1 s again.
		behaviour.current = 'reject';
		await guarded.get('key');
		expect(events.at(-1)).toMatchObject({event: 'failed', backoffMs: 1000});
	});

	test('no answer within commandTimeoutMs is a failure, and the message names the timeout', async () => {
		const {behaviour, events, guarded} = setup();
		behaviour.current = 'hang';
		expect(await guarded.set('key', 'value', 1000)).toBe(failed);
		expect(events).toEqual([{event: 'failed', operation: 'set', error: 'no answer within 20 ms', backoffMs: 1000}]);
	});

	test('unlock is sent even during a back-off: a lock left behind would hold the fleet back', async () => {
		const {behaviour, calls, guarded} = setup();
		behaviour.current = 'reject';
		await guarded.get('key');
		behaviour.current = 'answer';
		expect(await guarded.lock('key', 'owner', 5000)).toBe(failed);
		expect(await guarded.unlock('key', 'owner')).toBeUndefined();
		expect(calls).toEqual(['get', 'unlock']);
	});

	test('a lock request that timed out after it was sent is released, best effort', async () => {
		const {behaviour, calls, pending, guarded} = setup();
		behaviour.current = 'hang';
		expect(await guarded.lock('key', 'owner', 5000)).toBe(failed);
		expect(calls).toEqual(['lock', 'unlock']);
		for (const answer of pending) {
			answer();
		}
	});

	test('an answer to a call sent before the last failure is no sign of recovery', async () => {
		const {behaviour, events, pending, guarded} = setup();
		behaviour.current = 'hang';
		// Sent first, answered last (within its timeout).
		const early = guarded.get('key');
		behaviour.current = 'reject';
		await guarded.delete('key', 'value');
		pending[0]!();
		expect(await early).toBe('value');
		expect(events.map(event => event.event)).toEqual(['failed']);
	});
});
