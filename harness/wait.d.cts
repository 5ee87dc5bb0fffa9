import type {EventEmitter} from 'node:events';

/** Resolves after `ms` milliseconds (at once for ms ≤ 0). */
export function sleep(ms: number): Promise<void>;

/**
 * Calls `tick(i)` at start + i × intervalMs until durationMs have passed, without waiting for what
 * a tick starts; resolves with what the ticks returned.
 */
export function paced<T>(schedule: {readonly intervalMs: number; readonly durationMs: number}, tick: (index: number) => T): Promise<T[]>;

/** A promise with its resolve and reject functions outside, to hold an answer until a test lets it go. */
export type Deferred<T = void> = {promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void};
export function deferred<T = void>(): Deferred<T>;

/** Polls `condition` (sync or async) every 5 ms until it holds; rejects after `timeoutMs` (5000). */
export function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;

/** The arguments of the next `event` of `emitter`; rejects after `timeoutMs` (5000). */
export function waitForEvent(emitter: EventEmitter, event: string, timeoutMs?: number): Promise<unknown[]>;
