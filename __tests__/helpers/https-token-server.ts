import type http from 'node:http';
import https from 'node:https';
import type {AddressInfo} from 'node:net';
import type {KeyPair} from './certificates.js';
import {readBody} from './http-server.js';

export type HttpsTokenServer = {
	/** The token URL on this server, with `localhost` (the default) or `127.0.0.1` as its host. */
	url(host?: 'localhost' | '127.0.0.1'): string;
	readonly port: number;
	/** Every token request that arrived (after a completed TLS handshake). */
	readonly requests: Array<{readonly form: URLSearchParams; readonly headers: http.IncomingHttpHeaders}>;
	/** TCP connections accepted, whether or not their TLS handshake succeeded: one per attempt. */
	readonly connections: number;
	/** TLS handshakes that failed on this side (the client gave up on the certificate, or reset). */
	readonly tlsErrors: number;
	close(): Promise<void>;
};

/**
 * An OAuth2 token endpoint over TLS on 127.0.0.1:0 with the given certificate. Answers every request
 * with a fresh token (`token-1`, `token-2`, …), except `401 invalid_client` to the client id
 * `unknown`, and counts connections, so a test can prove that a failure was attempted exactly once.
 */
export async function startHttpsTokenServer(pair: KeyPair): Promise<HttpsTokenServer> {
	const requests: Array<{form: URLSearchParams; headers: http.IncomingHttpHeaders}> = [];
	let connections = 0;
	let tlsErrors = 0;
	const server = https.createServer({key: pair.key, cert: pair.cert}, (request, response) => {
		void readBody(request).then(body => {
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
	server.on('tlsClientError', () => {
		tlsErrors++;
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	server.unref();
	const {port} = server.address() as AddressInfo;
	return {
		url: (host = 'localhost') => `https://${host}:${port}/v1/oauth2/token`,
		port,
		requests,
		get connections() {
			return connections;
		},
		get tlsErrors() {
			return tlsErrors;
		},
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
