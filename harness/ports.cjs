// Loopback ports that are free now: for a server of our own (never a fixed port), or as a port
// where nothing listens.
'use strict';
const net = require('node:net');

/** Whether `port` can be bound on 127.0.0.1 now. */
async function isFree(port) {
	return new Promise(resolve => {
		const server = net.createServer();
		server.once('error', () => {
			resolve(false);
		});
		server.listen(port, '127.0.0.1', () => {
			server.close(() => {
				resolve(true);
			});
		});
	});
}

/** A loopback port free now; with `withBusPort`, port + 10000 too (a Redis Cluster node's bus). */
async function freePort({withBusPort = false} = {}) {
	for (;;) {
		const port = await new Promise((resolve, reject) => {
			const server = net.createServer();
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => {
				const chosen = server.address().port;
				server.close(() => {
					resolve(chosen);
				});
			});
		});
		if (!withBusPort || (port + 10_000 < 65_536 && (await isFree(port + 10_000)))) {
			return port;
		}
	}
}

module.exports = {freePort};
