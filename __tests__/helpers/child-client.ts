import path from 'node:path';
import {forkChild} from '../../harness/rpc.cjs';

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

/** A message of the package's channels, rendered when it was published. */
export type ChannelMessage = {channel: string; reason?: string; texts: string[]};

export type ChildClient = {
	/** `new Client(options).getToken()` in the child. */
	getToken(options: Record<string, unknown>): Promise<Outcome>;
	/** Unhandled rejections (and uncaught exceptions) seen in the child so far. */
	unhandled(): Promise<string[]>;
	/** Every message the child's channels published so far. */
	messages(): Promise<ChannelMessage[]>;
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

	const child = forkChild(path.join(__dirname, 'fault-client.cjs'), {
		env: {...env, NODE_DEBUG: 'vibrant', ...environment},
		output: 'collect',
	});
	return {
		getToken: async options => child.call<Outcome>('getToken', {options}),
		async unhandled() {
			await child.call('messages');
			return [...child.problems];
		},
		messages: async () => child.call<ChannelMessage[]>('messages'),
		stderr: () => child.stderr(),
		close() {
			void child.stop();
		},
	};
}
