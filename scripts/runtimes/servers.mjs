// The servers of the runtime matrix, run by the parent process (the Node that runs
// `npm run test:runtimes`), never by the runtime under test: a token endpoint (http and https), a
// protected API, a CONNECT proxy and a private CA. Every one counts what it received, per cell.
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A private CA and one server certificate for localhost and 127.0.0.1, made with the `openssl`
 * command line as __tests__/helpers/certificates.ts makes them (P-256, valid 2 days), in a fresh
 * temporary folder.
 */
export function createCertificates() {
	const directory = mkdtempSync(path.join(os.tmpdir(), 'vibrant-runtimes-tls-'));
	const file = name => path.join(directory, name);
	const openssl = (...args) => execFileSync('openssl', args, {cwd: directory, stdio: 'pipe'});
	const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
	writeFileSync(
		file('ca.cnf'),
		'[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = vibrant-oauth2-client runtimes CA\n' +
			'[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n',
	);
	openssl('req', '-x509', '-new', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-config', 'ca.cnf', '-extensions', 'ca');
	writeFileSync(
		file('server.ext'),
		'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n' +
			'subjectAltName = IP:127.0.0.1,DNS:localhost\nauthorityKeyIdentifier = keyid\n',
	);
	openssl('req', '-new', ...newKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
	const serial = `0x${openssl('rand', '-hex', '8').toString().trim()}`;
	openssl(
		'x509',
		'-req',
		'-in',
		'server.csr',
		'-CA',
		'ca.crt',
		'-CAkey',
		'ca.key',
		'-set_serial',
		serial,
		'-days',
		'2',
		'-extfile',
		'server.ext',
		'-out',
		'server.crt',
	);
	return {
		caFile: file('ca.crt'),
		key: readFileSync(file('server.key'), 'utf8'),
		cert: readFileSync(file('server.crt'), 'utf8'),
		remove: () => rmSync(directory, {recursive: true, force: true}),
	};
}

/** Counts per key (a cell's client id, or its API path). */
class Counter {
	#counts = new Map();
	add(key) {
		this.#counts.set(key, this.get(key) + 1);
	}

	get(key) {
		return this.#counts.get(key) ?? 0;
	}
}

async function listen(server) {
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	return server.address().port;
}

function close(server) {
	server.closeAllConnections?.();
	return new Promise(resolve => {
		server.close(() => resolve());
	});
}

/**
 * A token endpoint (client_secret_post) at /token, over http and over https (the certificate of
 * `certificates`), both counting requests per client id. Access tokens are
 * `at-<client id>-<serial>`. `delay(clientId, ms)` holds that client's answers for `ms`.
 */
export async function startTokenServer({secret, certificates}) {
	const requests = new Counter();
	const delays = new Map();
	const handle = (request, response) => {
		const chunks = [];
		request.on('data', chunk => chunks.push(chunk));
		request.on('end', () => {
			const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
			const clientId = form.get('client_id') ?? '';
			requests.add(clientId);
			const serial = requests.get(clientId);
			const answer = (status, body) => {
				response.writeHead(status, {'content-type': 'application/json', 'cache-control': 'no-store'});
				response.end(JSON.stringify(body));
			};

			setTimeout(
				() => {
					if (request.method !== 'POST' || request.url !== '/token' || form.get('grant_type') !== 'client_credentials') {
						answer(400, {error: 'invalid_request'});
					} else if (form.get('client_secret') !== secret) {
						answer(401, {error: 'invalid_client'});
					} else {
						answer(200, {access_token: `at-${clientId}-${serial}`, token_type: 'bearer', expires_in: 3600});
					}
				},
				delays.get(clientId) ?? 0,
			);
		});
	};

	const plain = http.createServer(handle);
	const secure = https.createServer({key: certificates.key, cert: certificates.cert}, handle);
	const [port, securePort] = await Promise.all([listen(plain), listen(secure)]);
	return {
		url: `http://127.0.0.1:${port}/token`,
		/** The https endpoint, with `host` as its host (localhost, or 127.0.0.1 for an IP literal). */
		secureUrl: host => `https://${host}:${securePort}/token`,
		securePort,
		requests: clientId => requests.get(clientId),
		delay(clientId, ms) {
			delays.set(clientId, ms);
		},
		close: () => Promise.all([close(plain), close(secure)]),
	};
}

/**
 * A protected API: GET /<cell>/data answers 200 with `{ok: true}` for a token of the form the
 * token server issues, and 401 for the first one (serial 1) of each client when the path starts
 * with /revoked-first/. Counts requests per cell and records the Authorization headers.
 */
export async function startApiServer() {
	const requests = new Counter();
	const server = http.createServer((request, response) => {
		const [, mode = '', cell = ''] = (request.url ?? '').split('/');
		requests.add(cell);
		const token = /^Bearer (at-.+-(\d+))$/.exec(request.headers.authorization ?? '');
		const revoked = token !== null && mode === 'revoked-first' && token[2] === '1';
		const status = token === null || revoked ? 401 : 200;
		response.writeHead(status, {'content-type': 'application/json'});
		response.end(JSON.stringify(status === 200 ? {ok: true} : {error: 'invalid_token'}));
	});
	const port = await listen(server);
	return {
		origin: `http://127.0.0.1:${port}`,
		requests: cell => requests.get(cell),
		close: () => close(server),
	};
}

/**
 * A CONNECT proxy on 127.0.0.1 that opens every tunnel it is asked for (localhost is reached as
 * 127.0.0.1) and records each CONNECT target. Anything but CONNECT is answered 502.
 */
export async function startConnectProxy() {
	const targets = [];
	const sockets = new Set();
	const track = socket => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		socket.on('error', () => {});
	};

	const server = net.createServer(socket => {
		track(socket);
		let head = Buffer.alloc(0);
		const onData = chunk => {
			head = Buffer.concat([head, chunk]);
			const end = head.indexOf('\r\n\r\n');
			if (end === -1) {
				return;
			}

			socket.off('data', onData);
			socket.pause();
			const [method, target = ''] = head.subarray(0, end).toString('latin1').split('\r\n')[0].split(' ');
			if (method !== 'CONNECT') {
				socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
				return;
			}

			targets.push(target);
			const separator = target.lastIndexOf(':');
			const host = target.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
			const upstream = net.connect({host: host === 'localhost' ? '127.0.0.1' : host, port: Number(target.slice(separator + 1))});
			track(upstream);
			upstream.on('connect', () => {
				socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
				const rest = head.subarray(end + 4);
				if (rest.length > 0) {
					upstream.write(rest);
				}

				socket.pipe(upstream);
				upstream.pipe(socket);
			});
			upstream.on('error', () => socket.destroy());
			socket.on('close', () => upstream.destroy());
		};

		socket.on('data', onData);
	});
	const port = await listen(server);
	return {
		url: `http://127.0.0.1:${port}`,
		/** The CONNECT targets (`host:port`) received so far, in order. */
		targets: () => [...targets],
		async close() {
			for (const socket of sockets) {
				socket.destroy();
			}

			await new Promise(resolve => {
				server.close(() => resolve());
			});
		},
	};
}
