// Runs the embedded authorization server and protected API in a worker thread, for Jest suites
// (CommonJS) that cannot import the ESM-only oidc-provider. ./index.ts is the other end.
import {parentPort, workerData} from 'node:worker_threads';
import {startAuthServer} from './auth-server.mjs';

if (parentPort === null) {
	throw new Error('worker.mjs runs in a worker thread; import auth-server.mjs directly instead.');
}

const port = parentPort;
const server = await startAuthServer(workerData ?? {});

const methods = {
	counts: () => server.counts(),
	introspect: token => server.introspect(token),
	revoke: token => server.revoke(token),
	// The parent terminates the thread once the servers are closed.
	close: () => server.close(),
};

port.on('message', async ({id, method, args}) => {
	try {
		const run = methods[method];
		if (run === undefined) {
			throw new Error(`unknown method ${method}`);
		}

		port.postMessage({id, result: await run(...args)});
	} catch (error) {
		port.postMessage({id, error: error instanceof Error ? error.message : String(error)});
	}
});

port.postMessage({
	ready: {
		issuer: server.issuer,
		tokenUrl: server.tokenUrl,
		apiOrigin: server.apiOrigin,
		clients: server.clients,
		accessTokenTtlSeconds: server.accessTokenTtlSeconds,
	},
});
