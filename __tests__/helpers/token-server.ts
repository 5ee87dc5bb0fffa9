import type http from 'node:http';
import {type Deferred, deferred} from './deferred.js';
import {listen, readBody} from './http-server.js';

export type RecordedRequest = {
	readonly method: string;
	readonly path: string;
	readonly headers: http.IncomingHttpHeaders;
	readonly body: string;
	readonly form: URLSearchParams;
};

/** One scripted answer of the token server. */
export type Reply =
	| {
			readonly status?: number;
			readonly headers?: Readonly<Record<string, string>>;
			/** A string is sent as is; anything else as JSON. */
			readonly body?: unknown;
			readonly delayMs?: number;
	  }
	/** Accept the request and never answer. */
	| 'hang'
	/** Destroy the socket without an answer. */
	| 'reset';

export type TokenServer = {
	readonly url: string;
	readonly origin: string;
	readonly requests: RecordedRequest[];
	/** Answers the next requests with these replies, in order; the last one repeats. Indexes restart at 0. */
	reply(...replies: Array<Reply | ((request: RecordedRequest, index: number) => Reply)>): void;
	/** Holds every answer until the returned function is called. */
	hold(): () => void;
	close(): Promise<void>;
};

/** The default answer: a fresh token per request, `token-1`, `token-2`, … valid for an hour. */
export function tokenReply(_request: RecordedRequest, index: number): Reply {
	return {body: {access_token: `token-${index + 1}`, token_type: 'bearer', expires_in: 3600}};
}

/** A programmable OAuth2 token endpoint on 127.0.0.1 that records every request. */
export async function startTokenServer(): Promise<TokenServer> {
	const requests: RecordedRequest[] = [];
	let script: Array<Reply | ((request: RecordedRequest, index: number) => Reply)> = [tokenReply];
	let scriptStart = 0;
	let gate: Deferred | undefined;
	const test = await listen(async (request, response) => {
		const body = await readBody(request);
		const recorded: RecordedRequest = {
			method: request.method ?? '',
			path: request.url ?? '',
			headers: request.headers,
			body,
			form: new URLSearchParams(body),
		};
		const index = requests.push(recorded) - 1 - scriptStart;
		const step = script[Math.min(index, script.length - 1)]!;
		const reply = typeof step === 'function' ? step(recorded, index) : step;
		if (gate !== undefined) {
			await gate.promise;
		}

		if (reply === 'hang') {
			return;
		}

		if (reply === 'reset') {
			request.socket.destroy();
			return;
		}

		if (reply.delayMs !== undefined) {
			await new Promise(resolve => {
				setTimeout(resolve, reply.delayMs);
			});
		}

		const payload = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
		response.writeHead(reply.status ?? 200, {
			'Content-Type': typeof reply.body === 'string' ? 'text/html' : 'application/json',
			...reply.headers,
		});
		response.end(payload);
	});
	return {
		url: `${test.origin}/v1/oauth2/token`,
		origin: test.origin,
		requests,
		reply(...replies) {
			script = replies;
			scriptStart = requests.length;
		},
		hold() {
			const current = deferred();
			gate = current;
			return () => {
				gate = undefined;
				current.resolve();
			};
		},
		close: async () => test.close(),
	};
}
