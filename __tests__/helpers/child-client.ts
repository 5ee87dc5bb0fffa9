import {type ChildProcess, fork} from 'node:child_process';
import path from 'node:path';

/** What fault-client.cjs reports for one getToken() of the built package. */
export type Outcome = {
	ok: boolean;
	token?: string;
	elapsedMs: number;
	name?: string;
	status?: number;
	oauthError?: string;
	message?: string;
	causeCode?: string;
	/** Every rendering of the error a logger could print (inspect, JSON, String, the cause chain). */
	renderings?: string[];
};

export type ChildClient = {
	/** `new Client(options).getToken()` in the child. */
	getToken(options: Record<string, unknown>): Promise<Outcome>;
	/** Unhandled rejections seen in the child so far. */
	unhandled(): Promise<string[]>;
	/** The child's stderr so far (NODE_DEBUG=vibrant output, Node's warnings). */
	stderr(): string;
	close(): void;
};

/** Settings that change how Node or axios reach a server; a child gets only the ones a test gives it. */
const networkVariables = [
	'HTTP_PROXY',
	'HTTPS_PROXY',
	'ALL_PROXY',
	'NO_PROXY',
	'NODE_EXTRA_CA_CERTS',
	'NODE_TLS_REJECT_UNAUTHORIZED',
	'NODE_USE_ENV_PROXY',
	'NODE_OPTIONS',
	'SSL_CERT_FILE',
	'SSL_CERT_DIR',
];

/**
 * Starts the built package in a child process (helpers/fault-client.cjs) whose environment is set
 * before Node starts, as NODE_EXTRA_CA_CERTS needs: the parent's environment without any proxy or
 * TLS setting, plus `environment` and NODE_DEBUG=vibrant.
 */
export function startChildClient(environment: Record<string, string>): ChildClient {
	const env: Record<string, string | undefined> = {...process.env};
	for (const name of Object.keys(env)) {
		if (networkVariables.includes(name.toUpperCase())) {
			Reflect.deleteProperty(env, name);
		}
	}

	const child: ChildProcess = fork(path.join(__dirname, 'fault-client.cjs'), [], {
		env: {...env, NODE_DEBUG: 'vibrant', ...environment},
		stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
	});
	let stderr = '';
	child.stderr!.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	let nextId = 0;
	const pending = new Map<number, (message: unknown) => void>();
	child.on('message', (message: {id: number}) => {
		pending.get(message.id)?.(message);
		pending.delete(message.id);
	});
	const ask = async (message: object): Promise<unknown> => {
		const id = nextId++;
		return new Promise(resolve => {
			pending.set(id, resolve);
			child.send({id, ...message});
		});
	};

	return {
		getToken: async options => (await ask({options})) as Outcome,
		unhandled: async () => ((await ask({kind: 'unhandled'})) as {unhandled: string[]}).unhandled,
		stderr: () => stderr,
		close() {
			child.kill();
		},
	};
}
