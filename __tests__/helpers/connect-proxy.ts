import net from 'node:net';
import tls from 'node:tls';
import type {KeyPair} from './certificates.js';

/** What the proxy does with the next CONNECT requests. */
export type ProxyBehaviour =
	/** Open the tunnel (when `requireAuthorization` is set, only for that exact Proxy-Authorization; else 407). */
	| {readonly kind: 'tunnel'; readonly requireAuthorization?: string}
	/** Answer the CONNECT with this status and close. */
	| {readonly kind: 'refuse'; readonly status: number; readonly reason: string}
	/** Close the connection (FIN) without answering the CONNECT. */
	| {readonly kind: 'close'}
	/** Reset the connection (RST) without answering the CONNECT. */
	| {readonly kind: 'reset'}
	/** Never answer the CONNECT, and keep the connection open until the client closes it. */
	| {readonly kind: 'hang'}
	/** Send these bytes as the answer to CONNECT, and close. */
	| {readonly kind: 'raw'; readonly answer: string};

export type ConnectRequest = {
	/** The CONNECT request's target, `host:port` (`[address]:port` for IPv6). */
	readonly target: string;
	readonly proxyAuthorization: string | undefined;
	/** Whether the tunnel was opened (200 sent). */
	opened: boolean;
	/** The bytes the client sent into the tunnel after the CONNECT request. */
	readonly relayed: Buffer[];
	/** Whether the client's connection to the proxy is closed (by either side). */
	closed: boolean;
};

export type ConnectProxy = {
	/** `http://127.0.0.1:port` (or `https:` for a proxy started with a certificate). */
	readonly url: string;
	readonly port: number;
	behave(behaviour: ProxyBehaviour): void;
	/** Every CONNECT request received, whatever the answer. */
	readonly connects: ConnectRequest[];
	/** The request line of every request that was not a CONNECT (a request sent to the proxy in clear). */
	readonly plainRequests: string[];
	/** Every byte received from clients, in order, CONNECT requests included. */
	received(): Buffer;
	/** Every byte sent to clients, in order: the proxy's own answers and what the servers sent back. */
	sent(): Buffer;
	close(): Promise<void>;
};

/**
 * A real HTTP CONNECT proxy on 127.0.0.1:0 that relays tunnels to their target and records every
 * byte it relays in both directions. Other requests (absolute-form, i.e. in clear) are recorded and
 * answered 502. With `tlsPair`, clients reach it over TLS (an `https:` proxy URL).
 */
export async function startConnectProxy(tlsPair?: KeyPair): Promise<ConnectProxy> {
	let behaviour: ProxyBehaviour = {kind: 'tunnel'};
	const connects: ConnectRequest[] = [];
	const plainRequests: string[] = [];
	const fromClients: Buffer[] = [];
	const toClients: Buffer[] = [];
	const sockets = new Set<net.Socket>();

	const track = (socket: net.Socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		socket.on('error', () => {});
	};

	const send = (socket: net.Socket, data: Buffer | string) => {
		toClients.push(Buffer.from(data));
		socket.write(data);
	};

	const answer = (socket: net.Socket, status: number, reason: string, headers = '') => {
		const body = `${status} ${reason}`;
		send(
			socket,
			`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${headers}\r\n${body}`,
		);
		socket.end();
	};

	const handle = (socket: net.Socket) => {
		track(socket);
		let head = Buffer.alloc(0);
		let tunnel: {request: ConnectRequest; upstream: net.Socket} | undefined;
		let done = false;
		socket.on('data', (chunk: Buffer) => {
			fromClients.push(chunk);
			if (tunnel !== undefined) {
				tunnel.request.relayed.push(chunk);
				tunnel.upstream.write(chunk);
				return;
			}

			if (done) {
				return;
			}

			head = Buffer.concat([head, chunk]);
			const end = head.indexOf('\r\n\r\n');
			if (end === -1) {
				return;
			}

			done = true;
			const lines = head.subarray(0, end).toString('latin1').split('\r\n');
			const rest = head.subarray(end + 4);
			const [method = '', target = ''] = lines[0]!.split(' ');
			if (method !== 'CONNECT') {
				plainRequests.push(lines[0]!);
				answer(socket, 502, 'Bad Gateway');
				return;
			}

			const authorization = lines.find(line => line.toLowerCase().startsWith('proxy-authorization:'));
			const request: ConnectRequest = {
				target,
				proxyAuthorization: authorization?.slice(authorization.indexOf(':') + 1).trim(),
				opened: false,
				relayed: [],
				closed: false,
			};
			connects.push(request);
			socket.once('close', () => {
				request.closed = true;
			});
			const current = behaviour;
			switch (current.kind) {
				case 'close': {
					socket.end();
					return;
				}

				case 'reset': {
					socket.resetAndDestroy();
					return;
				}

				case 'hang': {
					return;
				}

				case 'raw': {
					send(socket, current.answer);
					socket.end();
					return;
				}

				case 'refuse': {
					answer(socket, current.status, current.reason);
					return;
				}

				case 'tunnel': {
					if (current.requireAuthorization !== undefined && request.proxyAuthorization !== current.requireAuthorization) {
						answer(socket, 407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="lab"\r\n');
						return;
					}
				}
			}

			const separator = target.lastIndexOf(':');
			const host = target.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
			// The test servers listen on 127.0.0.1 (or ::1); a real proxy would resolve the name itself.
			const upstream = net.connect({host: host === 'localhost' ? '127.0.0.1' : host, port: Number(target.slice(separator + 1))});
			track(upstream);
			tunnel = {request, upstream};
			upstream.on('connect', () => {
				request.opened = true;
				send(socket, 'HTTP/1.1 200 Connection Established\r\n\r\n');
				if (rest.length > 0) {
					request.relayed.push(rest);
					upstream.write(rest);
				}
			});
			upstream.on('data', (data: Buffer) => {
				send(socket, data);
			});
			upstream.on('error', () => {
				if (request.opened) {
					socket.destroy();
				} else {
					answer(socket, 502, 'Bad Gateway');
				}
			});
			upstream.on('end', () => socket.end());
			socket.on('end', () => upstream.end());
			socket.on('close', () => upstream.destroy());
		});
	};

	const server = tlsPair === undefined ? net.createServer(handle) : tls.createServer({key: tlsPair.key, cert: tlsPair.cert}, handle);
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	server.unref();
	const {port} = server.address() as net.AddressInfo;
	return {
		url: `${tlsPair === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
		port,
		behave(next) {
			behaviour = next;
		},
		connects,
		plainRequests,
		received: () => Buffer.concat(fromClients),
		sent: () => Buffer.concat(toClients),
		async close() {
			for (const socket of sockets) {
				socket.destroy();
			}

			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
		},
	};
}
