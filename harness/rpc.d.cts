import type {ChildProcess} from 'node:child_process';
import type {MessagePort, Worker} from 'node:worker_threads';

/** The parent's end of the protocol (see rpc.cjs). */
export type Peer<Ready = unknown> = {
	/** Names the child in errors: `<name> exited (SIGKILL)`, `<name>: <the child's stack>`. */
	readonly name: string;
	/** Resolves with what the child passed to serve() as `ready`; rejects if it dies first. */
	readonly ready: Promise<Ready>;
	/**
	 * The unhandled rejections and uncaught exceptions the child reported with its latest answer
	 * (children that serve with `recordProblems`).
	 */
	readonly problems: readonly string[];
	/** Runs `command` in the child (once it is ready); rejects with its error, or when it exits. */
	call<T = unknown>(command: string, args?: unknown): Promise<T>;
};

/** A forked child process and its end of the protocol. */
export type Child<Ready = unknown> = Peer<Ready> & {
	readonly child: ChildProcess;
	/** What the child wrote to stderr so far (with `output: 'collect'`; else empty). */
	stderr(): string;
	/** SIGKILL (unless it has exited already), then waits for the exit. */
	stop(): Promise<void>;
};

export type ForkOptions = {
	/** Arguments for the module (`process.argv.slice(2)`). */
	readonly args?: readonly string[];
	/** @default process.env */
	readonly env?: NodeJS.ProcessEnv;
	/** `inherit`: share stdout and stderr; `collect`: drop stdout, keep stderr for `stderr()`. @default 'inherit' */
	readonly output?: 'inherit' | 'collect';
	/** @default the module's file name */
	readonly name?: string;
};

/** Forks `modulePath`, a module that calls serve(), and connects to it; killed when this process exits. */
export function forkChild<Ready = unknown>(modulePath: string, options?: ForkOptions): Child<Ready>;

/** The parent's end over a child process or a worker thread already started. */
export function connect<Ready = unknown>(target: ChildProcess | Worker, options?: {readonly name?: string}): Peer<Ready>;

/** A command of a child: takes the parent's `args` and answers with anything structured-cloneable. */
export type Command = (args: never) => unknown;

export type ServeOptions = {
	/** Sent to the parent at once (its `ready`). @default {} */
	readonly ready?: unknown;
	/** Record unhandled rejections and uncaught exceptions and send them with every answer. @default false */
	readonly recordProblems?: boolean;
	/** @default the worker thread's parentPort, else the IPC channel of this process */
	readonly port?: MessagePort | NodeJS.Process;
};

/** The child's end: answers the parent's calls with `commands[command](args)`. */
export function serve(commands: Readonly<Record<string, Command>>, options?: ServeOptions): {problems: string[]};
