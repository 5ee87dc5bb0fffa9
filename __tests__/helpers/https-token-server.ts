import type http from 'node:http';
import https from 'node:https';
import type {AddressInfo} from 'node:net';
import type {TLSSocket} from 'node:tls';
import type {KeyPair} from './certificates.js';
import {readBody} from './http-server.js';

/** What the server does with the next token requests. */
export type HttpsTokenBehaviour =
	/** A fresh token (or 401 to the client id `unknown`). */
	| 'answer'
	/** Read the request, then close the connection without an answer. */
	| 'close';

export type HttpsTokenServer = {
	/** The token URL on this server, with `localhost` (the default), `127.0.0.1` or `[::1]` as its host. */
	url(host?: 'localhost' | '127.0.0.1' | '[::1]'): string;
	readonly port: number;
	behave(behaviour: HttpsTokenBehaviour): void;
	/** Every token request that arrived (after a completed TLS handshake). */
	readonly requests: Array<{readonly form: URLSearchParams; readonly headers: http.IncomingHttpHeaders}>;
	/** TCP connections accepted, whether or not their TLS handshake succeeded: one per attempt. */
	readonly connections: number;
	/** TLS handshakes that failed on this side (the client gave up on the certificate, or reset). */
	readonly tlsErrors: number;
	/** The SNI host name of each completed TLS handshake, in order (`undefined`: the client sent none). */
	readonly servernames: Array<string | undefined>;
	close(): Promise<void>;
};

/**
 * An OAuth2 token endpoint over TLS on 127.0.0.1:0 (or `host`) with the given certificate. Answers
 * every request with a fresh token (`token-1`, `token-2`, …), except `401 invalid_client` to the
 * client id `unknown`, and counts connections, so a test can prove that a failure was attempted
 * exactly once.
 */
export async function startHttpsTokenServer(pair: KeyPair, host = '127.0.0.1'): Promise<HttpsTokenServer> {
	const requests: Array<{form: URLSearchParams; headers: http.IncomingHttpHeaders}> = [];
	const servernames: Array<string | undefined> = [];
	let behaviour: HttpsTokenBehaviour = 'answer';
	let connections = 0;
	let tlsErrors = 0;
	const server = https.createServer({key: pair.key, cert: pair.cert}, (request, response) => {
		void readBody(request).then(body => {
			if (behaviour === 'close') {
				request.socket.destroy();
				return;
			}

			const form = new URLSearchParams(body);
			const index = requests.push({form, headers: request.headers});
			if (form.get('client_id') === 'unknown') {
				response.writeHead(401, {'Content-Type': 'application/json'});
				response.end(JSON.stringify({error: 'invalid_client'}));
				return;
			}

			response.writeHead(200, {'Content-Type': 'application/json'});
			response.end(JSON.stringify({access_token: `token-${index}`, token_type: 'bearer', expires_in: 3600}));
		});
	});
	server.keepAliveTimeout = 0;
	server.on('connection', () => {
		connections++;
	});
	server.on('secureConnection', (socket: TLSSocket) => {
		const {servername} = socket as TLSSocket & {servername?: string | false};
		servernames.push(typeof servername === 'string' ? servername : undefined);
	});
	server.on('tlsClientError', () => {
		tlsErrors++;
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, host, resolve);
	});
	server.unref();
	const {port} = server.address() as AddressInfo;
	return {
		url: (urlHost = 'localhost') => `https://${urlHost}:${port}/v1/oauth2/token`,
		port,
		behave(next) {
			behaviour = next;
		},
		requests,
		get connections() {
			return connections;
		},
		get tlsErrors() {
			return tlsErrors;
		},
		servernames,
		async close() {
			server.closeAllConnections();
			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
		},
	};
}
