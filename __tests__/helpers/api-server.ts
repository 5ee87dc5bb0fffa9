import type http from 'node:http';
import {listen, readBody} from './http-server.js';

export type ApiCall = {
	readonly method: string;
	readonly path: string;
	readonly headers: http.IncomingHttpHeaders;
	readonly body: string;
};

export type ApiServer = {
	readonly origin: string;
	readonly calls: ApiCall[];
	/** From now on, answer 401 to this Authorization value. */
	revoke(authorization: string): void;
	close(): Promise<void>;
};

/**
 * A protected API on 127.0.0.1. It accepts `Bearer token-N` (what the token server issues) unless
 * revoked, and answers 401 otherwise. Paths:
 * - `…/status/N` answers N (authorized or not);
 * - `…/redirect?to=URL` answers 302 to URL;
 * - `…/public` answers 200 to anyone;
 * - anything else echoes `{authorization, method, body}` as JSON, or 401.
 */
export async function startApiServer(): Promise<ApiServer> {
	const calls: ApiCall[] = [];
	const revoked = new Set<string>();
	const test = await listen(async (request, response) => {
		const body = await readBody(request);
		const path = request.url ?? '';
		calls.push({method: request.method ?? '', path, headers: request.headers, body});
		const url = new URL(path, 'http://localhost');
		const {authorization} = request.headers;
		const status = /\/status\/(\d{3})$/.exec(url.pathname);
		if (status) {
			response.writeHead(Number(status[1]), {'Content-Type': 'application/json'}).end('{}');
			return;
		}

		if (url.pathname.endsWith('/redirect')) {
			response.writeHead(302, {Location: url.searchParams.get('to') ?? '/'}).end();
			return;
		}

		const authorized = authorization !== undefined && /^Bearer token-\d+$/.test(authorization) && !revoked.has(authorization);
		if (!url.pathname.endsWith('/public') && !authorized) {
			response.writeHead(401, {'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer error="invalid_token"'});
			response.end('{"error":"invalid_token"}');
			return;
		}

		response.writeHead(200, {'Content-Type': 'application/json'});
		response.end(JSON.stringify({authorization: authorization ?? null, method: request.method, body}));
	});
	return {
		origin: test.origin,
		calls,
		revoke(authorization) {
			revoked.add(authorization);
		},
		close: async () => test.close(),
	};
}
