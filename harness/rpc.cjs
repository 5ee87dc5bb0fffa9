// The one protocol between a parent and the processes (or worker threads) it drives, both ends.
//
//   child                                   parent
//   serve(commands, {ready})  ─ {ready} ─▶  forkChild() / connect(): `ready` resolves with it
//                             ◀ {id, command, args} ─  call(command, args)
//   commands[command](args)   ─ {id, result} or {id, error, problems?} ─▶  resolves or rejects
//
// `error` is the child's stack (or String(error)). With `recordProblems`, every answer also carries
// the unhandled rejections and uncaught exceptions the child has seen, which the parent keeps in
// `problems`. A forked child exits when its parent goes away (the IPC channel closes); the parent
// kills whatever it forked that is still running when it exits.
'use strict';
const {fork} = require('node:child_process');
const path = require('node:path');

/** Children forked here and not yet exited. */
const running = new Set();
process.on('exit', () => {
	for (const child of running) {
		child.kill('SIGKILL');
	}
});

/**
 * The parent's end over a ChildProcess (`send`) or a worker thread (`postMessage`).
 */
function connect(target, {name = 'child'} = {}) {
	const post = typeof target.send === 'function' ? message => target.send(message) : message => target.postMessage(message);
	const pending = new Map();
	const problems = [];
	let nextId = 0;
	let failure;
	let settleReady;
	const ready = new Promise((resolve, reject) => {
		settleReady = {resolve, reject};
	});
	// A caller that never awaits `ready` (it only calls) must not see an unhandled rejection.
	ready.catch(() => {});

	const fail = error => {
		failure ??= error;
		settleReady.reject(failure);
		for (const call of pending.values()) {
			call.reject(failure);
		}

		pending.clear();
	};

	target.on('message', message => {
		if (message !== null && typeof message === 'object' && 'ready' in message) {
			settleReady.resolve(message.ready);
			return;
		}

		if (Array.isArray(message.problems)) {
			problems.splice(0, problems.length, ...message.problems);
		}

		const call = pending.get(message.id);
		pending.delete(message.id);
		if (message.error === undefined) {
			call?.resolve(message.result);
		} else {
			call?.reject(new Error(`${name}: ${message.error}`));
		}
	});
	target.on('error', fail);
	target.once('exit', (code, signal) => {
		fail(new Error(`${name} exited (${signal ?? code})`));
	});

	return {
		name,
		ready,
		problems,
		async call(command, args = {}) {
			await ready;
			if (failure !== undefined) {
				throw failure;
			}

			const id = ++nextId;
			return new Promise((resolve, reject) => {
				pending.set(id, {resolve, reject});
				post({id, command, args});
			});
		},
	};
}

/**
 * Forks `modulePath` (a module that calls serve()) and connects to it. `output: 'inherit'` shares
 * this process's stdout and stderr; `'collect'` drops stdout and keeps stderr for `stderr()`.
 */
function forkChild(modulePath, {args = [], env = process.env, output = 'inherit', name = path.basename(modulePath)} = {}) {
	const child = fork(modulePath, args, {
		env,
		stdio: output === 'collect' ? ['ignore', 'ignore', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
	});
	running.add(child);
	const exited = new Promise(resolve => {
		child.once('exit', () => {
			running.delete(child);
			resolve();
		});
	});
	let stderr = '';
	child.stderr?.setEncoding('utf8').on('data', chunk => {
		stderr += chunk;
	});
	return {
		...connect(child, {name}),
		child,
		stderr: () => stderr,
		/** SIGKILL (unless it has exited already), then waits for the exit. */
		async stop() {
			if (child.exitCode === null && child.signalCode === null) {
				child.kill('SIGKILL');
			}

			await exited;
		},
	};
}

/**
 * The child's end: answers the parent's calls with `commands[command](args)` and sends
 * `{ready}` at once, so call it when the child is ready to answer.
 */
function serve(commands, {ready = {}, recordProblems = false, port = defaultPort()} = {}) {
	const problems = [];
	if (recordProblems) {
		process.on('unhandledRejection', reason => {
			problems.push(`unhandledRejection: ${String(reason)}`);
		});
		process.on('uncaughtException', error => {
			problems.push(`uncaughtException: ${String(error)}`);
		});
	}

	const post = port === process ? message => process.send(message) : message => port.postMessage(message);
	port.on('message', async ({id, command, args}) => {
		let answer;
		try {
			const run = commands[command];
			if (typeof run !== 'function') {
				throw new TypeError(`unknown command ${command}`);
			}

			answer = {id, result: await run(args)};
		} catch (error) {
			answer = {id, error: error instanceof Error ? (error.stack ?? error.message) : String(error)};
		}

		post(recordProblems ? {...answer, problems} : answer);
	});
	if (port === process) {
		process.on('disconnect', () => process.exit(0));
	}

	post({ready});
	return {problems};
}

function defaultPort() {
	const {parentPort} = require('node:worker_threads');
	if (parentPort !== null) {
		return parentPort;
	}

	if (typeof process.send !== 'function') {
		throw new TypeError('serve() runs in a forked child process or a worker thread');
	}

	return process;
}

module.exports = {connect, forkChild, serve};
