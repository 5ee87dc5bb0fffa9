// Runs the embedded authorization server and protected API in a worker thread, for Jest suites
// (CommonJS) that cannot import the ESM-only oidc-provider. ./index.ts is the other end; the
// protocol is the harness's (harness/rpc.cjs). Commands: counts(), introspect({token}),
// revoke({token}), close() (the parent terminates the thread once the servers are closed).
import {parentPort, workerData} from 'node:worker_threads';
import {serve} from '../../../harness/rpc.cjs';
import {startAuthServer} from './auth-server.mjs';

if (parentPort === null) {
	throw new Error('worker.mjs runs in a worker thread; import auth-server.mjs directly instead.');
}

const server = await startAuthServer(workerData ?? {});

serve(
	{
		counts: () => server.counts(),
		introspect: ({token}) => server.introspect(token),
		revoke: ({token}) => server.revoke(token),
		close: () => server.close(),
	},
	{
		ready: {
			issuer: server.issuer,
			tokenUrl: server.tokenUrl,
			apiOrigin: server.apiOrigin,
			clients: server.clients,
			accessTokenTtlSeconds: server.accessTokenTtlSeconds,
		},
	},
);
