import http from 'node:http';
import type {AddressInfo} from 'node:net';

/** A real HTTP server on 127.0.0.1 and an ephemeral port, closed with all its sockets. */
export type TestServer = {
	readonly server: http.Server;
	readonly origin: string;
	close(): Promise<void>;
};

export async function listen(
	handler: (request: http.IncomingMessage, response: http.ServerResponse) => void | Promise<void>,
): Promise<TestServer> {
	const server = http.createServer((request, response) => {
		// A handler that throws resets the connection, which the test then sees.
		Promise.resolve(handler(request, response)).catch(() => {
			request.socket.destroy();
		});
	});
	server.keepAliveTimeout = 0;
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	server.unref();
	const {port} = server.address() as AddressInfo;
	return {
		server,
		origin: `http://127.0.0.1:${port}`,
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

export async function readBody(request: http.IncomingMessage): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const chunk of request) {
		chunks.push(chunk as Buffer);
	}

	return Buffer.concat(chunks).toString('utf8');
}
