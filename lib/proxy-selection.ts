import {domainToASCII} from 'node:url';

// Which proxy the environment gives an https: token URL: the rules axios 1.21 applied before this
// package tunnelled the token request itself (proxy-from-env 2.1's `getProxyForUrl`, then axios's
// own NO_PROXY check, `shouldBypassProxy`), so that moving the tunnel here changed no one's routing.
// __tests__/proxy-tunnel.test.ts compares both, case by case, with the axios that is installed.

/**
 * The proxy for an https: URL, from `HTTPS_PROXY` / `https_proxy` (else `ALL_PROXY` / `all_proxy`),
 * unless `NO_PROXY` / `no_proxy` exempts the URL's host; `undefined` when no proxy applies. A proxy
 * URL without a scheme gets `https://`, as with proxy-from-env.
 *
 * @throws {TypeError} when the proxy URL does not parse; the message never quotes it (it may hold a password).
 * @internal
 */
export function proxyForUrl(url: URL, environment: NodeJS.ProcessEnv = process.env): URL | undefined {
	const read = (name: string) => environment[name] || environment[name.toUpperCase()] || '';
	const port = Number.parseInt(url.port, 10) || 443;
	const noProxy = (environment['no_proxy'] || environment['NO_PROXY'] || '').toLowerCase();
	if (!proxyFromEnvProxies(url.host.replace(/:\d*$/, ''), port, noProxy)) {
		return undefined;
	}

	let proxy = read('https_proxy') || read('all_proxy');
	if (proxy === '') {
		return undefined;
	}

	if (!proxy.includes('://')) {
		proxy = `https://${proxy}`;
	}

	if (axiosBypasses(url.hostname, port, noProxy)) {
		return undefined;
	}

	try {
		return new URL(proxy);
	} catch {
		throw new TypeError('HTTPS_PROXY / https_proxy (or ALL_PROXY) is not a valid URL.');
	}
}

/** proxy-from-env 2.1's `shouldProxy`: `host` keeps the brackets of an IPv6 address. */
function proxyFromEnvProxies(host: string, port: number, noProxy: string): boolean {
	if (noProxy === '') {
		return true;
	}

	if (noProxy === '*') {
		return false;
	}

	return noProxy.split(/[,\s]/).every(entry => {
		if (entry === '') {
			return true;
		}

		const withPort = /^(.+):(\d+)$/.exec(entry);
		let entryHost = withPort?.[1] ?? entry;
		const entryPort = Number.parseInt(withPort?.[2] ?? '0', 10);
		if (entryPort !== 0 && entryPort !== port) {
			return true;
		}

		if (!/^[.*]/.test(entryHost)) {
			return host !== entryHost;
		}

		if (entryHost.startsWith('*')) {
			entryHost = entryHost.slice(1);
		}

		return !host.endsWith(entryHost);
	});
}

/** axios 1.21's `shouldBypassProxy`: host names, `host:port`, `*`, `.suffix`, CIDR ranges, one loopback. */
function axiosBypasses(hostname: string, port: number, noProxy: string): boolean {
	if (noProxy === '') {
		return false;
	}

	if (noProxy === '*') {
		return true;
	}

	const host = normalizeHost(hostname.toLowerCase());
	const hostBytes = ipBytes(host);
	return noProxy.split(/[\s,]+/).some(entry => {
		if (entry === '') {
			return false;
		}

		if (entry === '*') {
			return true;
		}

		if (entry.includes('/')) {
			const range = parseCidr(entry);
			return range !== undefined && hostBytes !== undefined && hostBytes.length === range.bytes.length && inSubnet(hostBytes, range);
		}

		const [rawHost, entryPort] = splitEntry(entry);
		let entryHost = normalizeHost(rawHost);
		if (entryHost === '' || (entryPort !== 0 && entryPort !== port)) {
			return false;
		}

		if (entryHost.startsWith('*')) {
			entryHost = entryHost.slice(1);
		}

		if (entryHost.startsWith('.')) {
			return host.endsWith(entryHost);
		}

		return host === entryHost || (isLoopback(host) && isLoopback(entryHost));
	});
}

function splitEntry(entry: string): [string, number] {
	if (entry.startsWith('[')) {
		const close = entry.indexOf(']');
		if (close !== -1) {
			const rest = entry.slice(close + 1);
			return [entry.slice(1, close), /^:\d+$/.test(rest) ? Number.parseInt(rest.slice(1), 10) : 0];
		}
	}

	const colon = entry.indexOf(':');
	if (colon !== -1 && colon === entry.lastIndexOf(':') && /^\d+$/.test(entry.slice(colon + 1))) {
		return [entry.slice(0, colon), Number.parseInt(entry.slice(colon + 1), 10)];
	}

	return [entry, 0];
}

function trimTrailingDots(value: string): string {
	return value.replace(/\.+$/, '');
}

/** Brackets and trailing dots off, IPv6 and IDN in canonical form, IPv4 shorthands dotted, IPv4-mapped IPv6 unmapped. */
function normalizeHost(value: string): string {
	if (value === '') {
		return value;
	}

	const unbracketed = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
	let host = trimTrailingDots(unbracketed);
	if (host.includes(':')) {
		try {
			host = new URL(`http://[${host}]/`).hostname.slice(1, -1);
		} catch {
			return host;
		}
	} else if (/[\u0080-\uFFFF]/.test(host)) {
		const prefix = /^[*.]+/.exec(host)?.[0] ?? '';
		const ascii = domainToASCII(host.slice(prefix.length));
		if (ascii === '') {
			return '';
		}

		host = prefix + trimTrailingDots(ascii);
	}

	const dotted = normalizeIPv4(host);
	return dotted === host ? unmapIPv4(host) : dotted;
}

function parseIPv4Part(text: string): number | undefined {
	if (/^0x[\da-f]+$/i.test(text)) {
		return Number.parseInt(text.slice(2), 16);
	}

	if (/^0[0-7]+$/.test(text)) {
		return Number.parseInt(text, 8);
	}

	return /^(?:0|[1-9]\d*)$/.test(text) ? Number.parseInt(text, 10) : undefined;
}

/** 127.1, 0x7f.0.0.1 and 0177.0.0.1 as 127.0.0.1 (as the URL parser reads them); anything else unchanged. */
function normalizeIPv4(host: string): string {
	if (host.includes(':') || !/^[\d.xa-f]+$/i.test(host)) {
		return host;
	}

	const parts = host.split('.');
	if (parts.includes('') || parts.length < 2 || parts.length > 4) {
		return host;
	}

	const values = parts.map(part => parseIPv4Part(part));
	const leading = values.slice(0, -1);
	const last = values.at(-1);
	const lastBytes = 5 - parts.length;
	if (last === undefined || leading.some(value => value === undefined || value > 255) || last >= 2 ** (8 * lastBytes)) {
		return host;
	}

	const tail = Array.from({length: lastBytes}, (_, index) => Math.floor(last / 2 ** (8 * (lastBytes - 1 - index))) % 256);
	return [...(leading as number[]), ...tail].join('.');
}

const ipv4MappedDotted = /^(?:::|(?:0{1,4}:){1,4}:|(?:0{1,4}:){5})ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const ipv4MappedHex = /^(?:::|(?:0{1,4}:){1,4}:|(?:0{1,4}:){5})ffff:([\da-f]{1,4}):([\da-f]{1,4})$/i;

function unmapIPv4(host: string): string {
	const dotted = ipv4MappedDotted.exec(host);
	if (dotted !== null) {
		return dotted[1] ?? host;
	}

	const hex = ipv4MappedHex.exec(host);
	if (hex === null) {
		return host;
	}

	const [, highText = '', lowText = ''] = hex;
	const high = Number.parseInt(highText, 16);
	const low = Number.parseInt(lowText, 16);
	return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function ipBytes(host: string): number[] | undefined {
	if (!host.includes(':')) {
		const parts = host.split('.');
		return parts.length === 4 && parts.every(part => /^(?:0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)
			? parts.map(Number)
			: undefined;
	}

	const halves = host.split('::');
	if (halves.length > 2) {
		return undefined;
	}

	const [front = '', back] = halves;
	const groups = front === '' ? [] : front.split(':');
	if (back !== undefined) {
		const rear = back === '' ? [] : back.split(':');
		const missing = 8 - groups.length - rear.length;
		if (missing < 1) {
			return undefined;
		}

		groups.push(...Array.from({length: missing}, () => '0'), ...rear);
	}

	if (groups.length !== 8 || groups.some(group => !/^[\da-f]{1,4}$/i.test(group))) {
		return undefined;
	}

	return groups.flatMap(group => {
		const value = Number.parseInt(group, 16);
		return [value >> 8, value & 0xff];
	});
}

type Subnet = {readonly bytes: number[]; readonly prefix: number};

function parseCidr(entry: string): Subnet | undefined {
	const match = /^(.+)\/(0|[1-9]\d{0,2})$/.exec(entry);
	if (match === null) {
		return undefined;
	}

	let base = match[1] ?? '';
	let prefix = Number(match[2]);
	const bracketed = base.startsWith('[') || base.endsWith(']');
	if (bracketed) {
		if (!base.startsWith('[') || !base.endsWith(']')) {
			return undefined;
		}

		base = base.slice(1, -1);
		if (!base.includes(':') || /[[\]]/.test(base)) {
			return undefined;
		}
	} else if (/[[\]]/.test(base)) {
		return undefined;
	}

	if (base === '' || base.endsWith('.')) {
		return undefined;
	}

	const wasIPv6 = base.includes(':');
	if (wasIPv6) {
		try {
			base = new URL(`http://[${base}]/`).hostname.slice(1, -1);
		} catch {
			return undefined;
		}
	} else {
		base = normalizeIPv4(base);
		if (ipBytes(base) === undefined) {
			return undefined;
		}
	}

	const normalized = unmapIPv4(base);
	if (wasIPv6 && !normalized.includes(':')) {
		if (prefix < 96) {
			return undefined;
		}

		prefix -= 96;
	}

	const bytes = ipBytes(normalized);
	return bytes === undefined || prefix > bytes.length * 8 ? undefined : {bytes, prefix};
}

function inSubnet(address: number[], subnet: Subnet): boolean {
	const whole = subnet.prefix >> 3;
	for (let index = 0; index < whole; index++) {
		if (address[index] !== subnet.bytes[index]) {
			return false;
		}
	}

	const bits = subnet.prefix & 7;
	const mask = (0xff << (8 - bits)) & 0xff;
	return bits === 0 || ((address[whole] ?? 0) & mask) === ((subnet.bytes[whole] ?? 0) & mask);
}

/** localhost, 0.0.0.0, 127.0.0.0/8, ::1 (in any form, or IPv4-mapped), and :: are one host for NO_PROXY. */
function isLoopback(host: string): boolean {
	if (host === 'localhost' || host === '0.0.0.0' || isIPv4Loopback(host)) {
		return true;
	}

	if (!host.includes(':')) {
		return false;
	}

	const bytes = ipBytes(host);
	if (bytes !== undefined && bytes.every(byte => byte === 0)) {
		// The unspecified address (::) reaches the local host.
		return true;
	}

	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
	if (mapped !== null) {
		return isIPv4Loopback(mapped[1] ?? '');
	}

	const mappedHex = /^::ffff:([\da-f]{1,4}):[\da-f]{1,4}$/i.exec(host);
	if (mappedHex !== null) {
		const high = Number.parseInt(mappedHex[1] ?? '', 16);
		return high >= 0x7f_00 && high <= 0x7f_ff;
	}

	const groups = host.split(':');
	return host === '::1' || (groups.length === 8 && groups.slice(0, 7).every(group => /^0+$/.test(group)) && /^0*1$/.test(groups[7] ?? ''));
}

function isIPv4Loopback(host: string): boolean {
	const parts = host.split('.');
	return parts.length === 4 && parts[0] === '127' && parts.every(part => /^\d+$/.test(part) && Number(part) <= 255);
}
