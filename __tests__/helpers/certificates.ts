import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

/** A key and its certificate, PEM. */
export type KeyPair = {readonly key: string; readonly cert: string};

export type Certificates = {
	/** The private test CA's certificate file: what NODE_EXTRA_CA_CERTS points at. */
	readonly caFile: string;
	/** Issued by the test CA for 127.0.0.1, ::1 and localhost. */
	readonly server: KeyPair;
	/** Issued by the same CA for the name localhost only: right CA, but not valid for the address 127.0.0.1. */
	readonly localhostOnly: KeyPair;
	/** Issued by the same CA for another name only (other.example): right CA, wrong host name. */
	readonly otherHost: KeyPair;
	remove(): void;
};

const caConfig = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = vibrant-oauth2-client test CA
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

function leafExtensions(subjectAltName: string): string {
	return `basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${subjectAltName}
authorityKeyIdentifier = keyid
`;
}

/**
 * A private CA and server certificates, made now with the `openssl` command line (P-256 keys, valid
 * for 2 days) in a fresh temporary directory. Nothing is shared between test files or runs.
 */
export function createCertificates(): Certificates {
	const directory = mkdtempSync(path.join(tmpdir(), 'vibrant-tls-'));
	const file = (name: string) => path.join(directory, name);
	const openssl = (...args: string[]) => execFileSync('openssl', args, {cwd: directory, stdio: 'pipe'});
	const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

	writeFileSync(file('ca.cnf'), caConfig);
	openssl('req', '-x509', '-new', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-config', 'ca.cnf', '-extensions', 'ca');

	const issue = (name: string, commonName: string, subjectAltName: string): KeyPair => {
		writeFileSync(file(`${name}.ext`), leafExtensions(subjectAltName));
		openssl('req', '-new', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`);
		openssl(
			'x509',
			'-req',
			'-in',
			`${name}.csr`,
			'-CA',
			'ca.crt',
			'-CAkey',
			'ca.key',
			'-set_serial',
			`0x${openssl('rand', '-hex', '8').toString().trim()}`,
			'-days',
			'2',
			'-extfile',
			`${name}.ext`,
			'-out',
			`${name}.crt`,
		);
		return {key: readFileSync(file(`${name}.key`), 'utf8'), cert: readFileSync(file(`${name}.crt`), 'utf8')};
	};

	return {
		caFile: file('ca.crt'),
		server: issue('server', 'localhost', 'IP:127.0.0.1,IP:::1,DNS:localhost'),
		localhostOnly: issue('localhost-only', 'localhost', 'DNS:localhost'),
		otherHost: issue('other', 'other.example', 'DNS:other.example'),
		remove() {
			rmSync(directory, {recursive: true, force: true});
		},
	};
}
