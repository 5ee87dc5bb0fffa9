import path from 'node:path';
import {Worker} from 'node:worker_threads';
import {connect} from '../../../harness/rpc.cjs';

/** The credentials of one registered OAuth2 client. */
export type ClientCredentials = {readonly clientId: string; readonly clientSecret: string};

/** Every counter, as the servers counted them. */
export type AuthServerCounts = {
	/** POST requests the token endpoint received, answered or refused. */
	readonly tokenRequests: number;
	/** Tokens issued (oidc-provider's `grant.success` events). */
	readonly tokensIssued: number;
	/** Token requests refused (oidc-provider's `grant.error` events). */
	readonly tokenErrors: number;
	/** Requests the protected API received, whatever its answer. */
	readonly apiCalls: number;
	/** Requests the protected API answered 401. */
	readonly apiRejected: number;
};

/** An RFC 7662 introspection answer. */
export type Introspection = {
	readonly active: boolean;
	readonly client_id?: string;
	readonly scope?: string;
	readonly exp?: number;
	readonly iat?: number;
	readonly iss?: string;
	readonly token_type?: string;
};

/** A real OAuth2 authorization server (oidc-provider) and a protected API, on 127.0.0.1. */
export type AuthServer = {
	readonly issuer: string;
	readonly tokenUrl: string;
	readonly apiOrigin: string;
	/** `post` uses client_secret_post, `basic` client_secret_basic; both may get the `labs:read` scope. */
	readonly clients: {readonly post: ClientCredentials; readonly basic: ClientCredentials};
	readonly accessTokenTtlSeconds: number;
	tokenRequests(): Promise<number>;
	apiCalls(): Promise<number>;
	counts(): Promise<AuthServerCounts>;
	/** Asks the provider's introspection endpoint about a token (raw or `Bearer <token>`). */
	introspect(token: string): Promise<Introspection>;
	/** Revokes a token (raw or `Bearer <token>`) at the provider's revocation endpoint. */
	revoke(token: string): Promise<void>;
	/** Stops both servers and the worker thread. */
	close(): Promise<void>;
};

export type AuthServerOptions = {
	/** Lifetime of the access tokens. @default 300 */
	readonly accessTokenTtlSeconds?: number;
};

/** The scope the test clients may ask for. */
export const grantedScope = 'labs:read';

type Ready = Pick<AuthServer, 'issuer' | 'tokenUrl' | 'apiOrigin' | 'clients' | 'accessTokenTtlSeconds'>;

/**
 * Starts the embedded authorization server and protected API in a worker thread: oidc-provider is
 * ESM-only, which Jest's CommonJS module system cannot load.
 */
export async function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
	const worker = new Worker(path.join(__dirname, 'worker.mjs'), {workerData: options});
	const peer = connect<Ready>(worker, {name: 'the auth server worker'});
	let ready: Ready;
	try {
		ready = await peer.ready;
	} catch (error) {
		await worker.terminate();
		throw error;
	}

	const counts = async (): Promise<AuthServerCounts> => peer.call<AuthServerCounts>('counts');
	let closed: Promise<void> | undefined;
	return {
		...ready,
		counts,
		tokenRequests: async () => (await counts()).tokenRequests,
		apiCalls: async () => (await counts()).apiCalls,
		introspect: async token => peer.call<Introspection>('introspect', {token}),
		revoke: async token => peer.call<undefined>('revoke', {token}),
		close() {
			closed ??= (async () => {
				try {
					await peer.call('close');
				} finally {
					await worker.terminate();
				}
			})();
			return closed;
		},
	};
}
