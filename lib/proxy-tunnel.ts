import type {ClientRequest} from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import {log} from './log.js';
import {proxyForUrl} from './proxy-selection.js';

// The CONNECT tunnel of the token request. axios 1.21 tunnels with https-proxy-agent 5.0.1, which
// (1) gives the TLS upgrade the target host as `servername` even when it is an IP address, which
// Node 25+, Bun and Deno refuse (ERR_INVALID_ARG_VALUE), and (2) waits for the proxy's answer to
// CONNECT until the socket errors: a proxy that closes the connection without answering left the
// request waiting for axios's timeout (dist/parse-proxy-response.js only logs 'end' and 'close').
// This agent does the same job without either flaw, and stops waiting when axios gives up.

/** How far one request's tunnel got, for the error messages (token-errors.ts). */
export type TunnelStage =
	/** Connected, or connecting, to the proxy; CONNECT not answered. */
	| 'connect'
	/** The proxy closed the connection without answering CONNECT. */
	| 'closed'
	/** The proxy answered CONNECT with something other than 2xx: that answer is the request's response. */
	| 'refused'
	/** The tunnel is open; TLS with the token endpoint is being set up inside it. */
	| 'tls'
	/** TLS with the token endpoint is up. */
	| 'open';

/** @internal */
export type TunnelRecord = {
	/** The proxy as `scheme://host:port`, never with its credentials. */
	readonly proxy: string;
	/** Whether HTTPS_PROXY held credentials for the proxy (never what they are). */
	readonly hasCredentials: boolean;
	stage: TunnelStage;
};

const records = new WeakMap<object, TunnelRecord>();

/**
 * What became of the tunnel of `request` (an axios error's `request`), if it went through one.
 *
 * @internal
 */
export function tunnelOf(request: unknown): TunnelRecord | undefined {
	return typeof request === 'object' && request !== null ? records.get(request) : undefined;
}

/** The longest answer to CONNECT this agent reads (status line and headers). */
const maxAnswerBytes = 16 * 1024;

/** Options of `https.globalAgent` that are about pooling, not TLS: they stay off the tunnelled TLS connection. */
const poolOptions = new Set([
	'agentKeepAliveTimeoutBuffer',
	'defaultPort',
	'host',
	'hostname',
	'keepAlive',
	'keepAliveMsecs',
	'maxCachedSessions',
	'maxFreeSockets',
	'maxSockets',
	'maxTotalSockets',
	'noDelay',
	'path',
	'port',
	'protocol',
	'proxyEnv',
	'scheduling',
	'servername',
	'socket',
	'timeout',
]);

/**
 * An `https.Agent` that reaches every host through one HTTP(S) proxy, with a CONNECT tunnel per
 * request (no pooling) and TLS end to end inside it.
 *
 * - The certificate is verified against the URL's host: a host name is also sent as SNI; an IP
 *   address is not (TLS forbids it) but is still what the certificate must name.
 * - The proxy's credentials (in the proxy URL, sent as written) go on the CONNECT request only.
 * - The CONNECT phase ends as soon as the proxy answers, closes, resets or errors, or the request
 *   is destroyed (axios's timeout, a cancel): then the connection to the proxy is destroyed too.
 * - A non-2xx answer to CONNECT becomes the request's response (status, reason and headers, no
 *   body), so that it is retried or not exactly as the same status from the token endpoint; the
 *   request itself is never sent to the proxy.
 * - TLS options set on `https.globalAgent.options` (a `ca`, say) apply as they do without a proxy.
 *
 * @internal
 */
export class ProxyTunnelAgent extends https.Agent {
	/** The proxy URL this agent was made for, credentials included: private, so inspect() never shows it. */
	readonly #proxyUrl: string;
	readonly #proxy: {readonly secure: boolean; readonly host: string; readonly port: number; readonly origin: string};
	readonly #authorization: string | undefined;

	constructor(proxy: URL) {
		super({keepAlive: false});
		this.#proxyUrl = proxy.href;
		const secure = proxy.protocol === 'https:';
		const host = proxy.hostname.startsWith('[') ? proxy.hostname.slice(1, -1) : proxy.hostname;
		const port = Number(proxy.port) || (secure ? 443 : 80);
		this.#proxy = {secure, host, port, origin: `${secure ? 'https' : 'http'}://${proxy.hostname}:${port}`};
		// As axios sent them: user name and password as written in the URL (percent-escapes and all).
		this.#authorization =
			proxy.username === '' ? undefined : `Basic ${Buffer.from(`${proxy.username}:${proxy.password}`).toString('base64')}`;
	}

	/** Whether this agent is the one for the proxy `href` (credentials included). */
	isFor(href: string): boolean {
		return this.#proxyUrl === href;
	}

	/** Called by Node's http client for each request made with this agent (as agent-base does it). */
	addRequest(request: ClientRequest, options: TargetOptions): void {
		const record: TunnelRecord = {proxy: this.#proxy.origin, hasCredentials: this.#authorization !== undefined, stage: 'connect'};
		records.set(request, record);
		new Tunnel(request, options, record, this.#proxy).open(this.#authorization);
	}
}

/** What Node's http client tells an agent of the request's target. */
type TargetOptions = {host?: string | null; hostname?: string | null; port?: number | string | null; servername?: string};

/**
 * One request's tunnel: CONNECT to the proxy, then TLS with the target inside it, handed to the
 * request as its socket. Until then it is "unsettled": the proxy's answer, a close, a reset, an
 * error or the request's destroy() settles it, exactly once.
 */
class Tunnel {
	readonly #request: ClientRequest;
	readonly #record: TunnelRecord;
	readonly #targetHost: string;
	readonly #servername: string;
	readonly #authority: string;
	readonly #socket: net.Socket;
	#settled = false;
	#answer = Buffer.alloc(0);
	readonly #onData = (chunk: Buffer) => {
		this.#read(chunk);
	};

	readonly #onClosed = () => {
		this.#record.stage = 'closed';
		this.#fail(tunnelError('the proxy closed the connection without answering CONNECT', 'ECONNRESET'));
	};

	readonly #onError = (error: Error) => {
		this.#fail(error);
	};

	constructor(
		request: ClientRequest,
		options: TargetOptions,
		record: TunnelRecord,
		proxy: {readonly secure: boolean; readonly host: string; readonly port: number},
	) {
		this.#request = request;
		this.#record = record;
		this.#targetHost = (options.hostname ?? options.host ?? 'localhost').replace(/^\[(.*)\]$/, '$1');
		this.#servername = options.servername ?? this.#targetHost;
		const targetPort = Number(options.port) || 443;
		this.#authority = `${net.isIPv6(this.#targetHost) ? `[${this.#targetHost}]` : this.#targetHost}:${targetPort}`;
		log('opening a tunnel to %s through the proxy %s', this.#authority, record.proxy);
		this.#socket = proxy.secure
			? tls.connect({
					host: proxy.host,
					port: proxy.port,
					ALPNProtocols: ['http/1.1'],
					...(net.isIP(proxy.host) === 0 ? {servername: proxy.host} : {}),
				})
			: net.connect({host: proxy.host, port: proxy.port});
	}

	/** Asks the proxy for the tunnel. */
	open(authorization: string | undefined): void {
		const socket = this.#socket;
		this.#abandonWithRequest(socket);
		socket.on('data', this.#onData);
		socket.once('end', this.#onClosed);
		socket.once('close', this.#onClosed);
		socket.once('error', this.#onError);
		socket.write(
			`CONNECT ${this.#authority} HTTP/1.1\r\nHost: ${this.#authority}\r\n${authorization === undefined ? '' : `Proxy-Authorization: ${authorization}\r\n`}\r\n`,
		);
	}

	/**
	 * Until the tunnel is handed over, nothing tells this agent that axios gave up on the request
	 * (its timeout and a cancel destroy() a request that has no socket yet, and no event follows):
	 * destroy() itself is the signal, and the connection to the proxy goes with the request.
	 */
	#abandonWithRequest(socket: net.Socket): void {
		const request = this.#request;
		const destroy = request.destroy.bind(request);
		request.destroy = (error?: Error) => {
			if (!this.#settled) {
				this.#settle();
				socket.destroy();
				log('the tunnel through the proxy %s was abandoned before CONNECT was answered', this.#record.proxy);
			}

			return destroy(error);
		};
	}

	/** Reads the proxy's answer to CONNECT, up to the end of its headers. */
	#read(chunk: Buffer): void {
		this.#answer = Buffer.concat([this.#answer, chunk]);
		const end = this.#answer.indexOf('\r\n\r\n');
		if (end === -1) {
			if (this.#answer.length > maxAnswerBytes) {
				this.#fail(tunnelError('the proxy answered CONNECT with more than 16 KiB of headers', 'ERR_PROXY_TUNNEL'));
			}

			return;
		}

		const head = this.#answer.subarray(0, end).toString('latin1');
		const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: |$)/.exec(head)?.[1];
		if (status === undefined) {
			this.#fail(tunnelError('the proxy answered CONNECT with something that is not HTTP', 'ERR_PROXY_TUNNEL'));
			return;
		}

		const socket = this.#socket;
		socket.pause();
		this.#settle();
		if (status.startsWith('2')) {
			this.#startTls(socket, this.#answer.subarray(end + 4));
		} else {
			this.#record.stage = 'refused';
			socket.destroy();
			log('the proxy %s refused the tunnel (%s)', this.#record.proxy, status);
			this.#request.onSocket(replay(this.#request, head));
		}
	}

	/** The tunnel is open: TLS with the target inside it becomes the request's socket. */
	#startTls(socket: net.Socket, rest: Buffer): void {
		if (rest.length > 0) {
			socket.unshift(rest);
		}

		this.#record.stage = 'tls';
		let secure: tls.TLSSocket;
		try {
			secure = tls.connect({
				...globalTlsOptions(),
				socket,
				// The certificate is verified against `host`. SNI carries a host name, never an IP
				// address (RFC 6066 §3; Node 25+, Bun and Deno refuse one).
				host: this.#targetHost,
				...(net.isIP(this.#servername) === 0 ? {servername: this.#servername} : {}),
			});
		} catch (error) {
			socket.destroy();
			this.#request.emit('error', error);
			return;
		}

		secure.once('secureConnect', () => {
			this.#record.stage = 'open';
		});
		// The connection to the proxy lives and dies with the TLS connection inside it.
		socket.on('error', (error: Error) => secure.destroy(error));
		secure.once('close', () => socket.destroy());
		this.#request.onSocket(secure);
	}

	#settle(): void {
		this.#settled = true;
		const socket = this.#socket;
		socket.removeListener('data', this.#onData);
		socket.removeListener('end', this.#onClosed);
		socket.removeListener('close', this.#onClosed);
		socket.removeListener('error', this.#onError);
		// The request's own destroy() again: from now on it has a socket, or an error, of its own.
		Reflect.deleteProperty(this.#request, 'destroy');
	}

	#fail(error: Error): void {
		if (this.#settled) {
			return;
		}

		this.#settle();
		this.#socket.destroy();
		log('the tunnel through the proxy %s failed (%s)', this.#record.proxy, (error as NodeJS.ErrnoException).code ?? error.message);
		this.#request.emit('error', error);
	}
}

function tunnelError(message: string, code: string): Error {
	return Object.assign(new Error(message), {code});
}

/**
 * A socket that only reads the proxy's answer: its status line and headers, with no body (the
 * message is about the status), for Node's HTTP parser to turn into the request's response. What
 * the request writes to it goes nowhere.
 */
function replay(request: ClientRequest, head: string): net.Socket {
	const headers = head
		.split('\r\n')
		.slice(1)
		.filter(line => !/^(?:content-length|transfer-encoding|connection)\s*:/i.test(line));
	const [statusLine = ''] = head.split('\r\n', 1);
	const socket = new net.Socket({writable: false});
	// Once the HTTP parser listens (it does by the 'socket' event).
	request.once('socket', () => {
		socket.push([statusLine, ...headers, 'Content-Length: 0', 'Connection: close', '', ''].join('\r\n'), 'latin1');
		socket.push(null);
	});
	return socket;
}

/** The TLS options an application set on `https.globalAgent` (a `ca`, ciphers, a client certificate …). */
function globalTlsOptions(): tls.ConnectionOptions {
	return Object.fromEntries(Object.entries(https.globalAgent.options).filter(([key]) => !poolOptions.has(key)));
}

let lastAgent: ProxyTunnelAgent | undefined;

/**
 * The agent for a token request to `url` now: a {@link ProxyTunnelAgent} when the environment
 * gives it a proxy (proxy-selection.ts), else `undefined` (a direct connection). Read on every
 * attempt, as axios reads the environment; the agent holds no connection, so one is kept for reuse.
 *
 * @internal
 */
export function tunnelAgentFor(url: URL): ProxyTunnelAgent | undefined {
	const proxy = proxyForUrl(url);
	if (proxy === undefined) {
		return undefined;
	}

	if (lastAgent?.isFor(proxy.href) !== true) {
		lastAgent = new ProxyTunnelAgent(proxy);
	}

	return lastAgent;
}
