import {authorizationKey, createOriginCheck, isAuthorizationName} from '../lib/request-auth.js';

// The origin check that axios.ts and fetch.ts share. Its verdict must be exactly the parser's:
// origin in the list and no user:password@. It answers the common case without parsing, so the
// table holds strings built to fool a prefix test.
const allowed = ['https://api.vibrant-wellness.com', 'http://127.0.0.1:8080', 'http://[::1]:3000'];

function byParsing(url: string): boolean {
	try {
		const parsed = new URL(url);
		return allowed.includes(parsed.origin) && parsed.username === '' && parsed.password === '';
	} catch {
		return false;
	}
}

const table: Array<[string, boolean]> = [
	['https://api.vibrant-wellness.com', true],
	['https://api.vibrant-wellness.com/', true],
	['https://api.vibrant-wellness.com/v1/x?y=1#z', true],
	['https://api.vibrant-wellness.com?x', true],
	['https://api.vibrant-wellness.com#x', true],
	['https://api.vibrant-wellness.com\\v1', true],
	['https://api.vibrant-wellness.com:443/v1', true],
	['HTTPS://API.VIBRANT-WELLNESS.COM/v1', true],
	['  https://api.vibrant-wellness.com/v1', true],
	['https://api.vibrant-wellness.com\t/v1', true],
	['https://api.vibrant-wellness.com./v1', false],
	['https://api.vibrant-wellness.com.evil.example/v1', false],
	['https://api.vibrant-wellness.com@evil.example/v1', false],
	['https://api.vibrant-wellness.com:pw@evil.example/v1', false],
	['https://user:pw@api.vibrant-wellness.com/v1', false],
	['https://user@api.vibrant-wellness.com/v1', false],
	['https://api.vibrant-wellness.com/@evil.example', true],
	['https://api.vibrant-wellness.com:8443/v1', false],
	['https://api.vibrant-wellness.comx/v1', false],
	['http://api.vibrant-wellness.com/v1', false],
	['wss://api.vibrant-wellness.com/v1', false],
	['//api.vibrant-wellness.com/v1', false],
	['/v1/relative', false],
	['', false],
	['not a url', false],
	['http://127.0.0.1:8080/x', true],
	['http://127.0.0.1:80800/x', false],
	['http://127.0.0.1:8080@127.0.0.2:8080/x', false],
	['http://127.0.0.1:08080/x', true],
	['http://localhost:8080/x', false],
	['http://[::1]:3000/x', true],
	['http://[0:0:0:0:0:0:0:1]:3000/x', true],
	['http://[::1]:30000/x', false],
];

describe('the shared origin check', () => {
	test.each(table)('%j → %s, as the URL parser says', (url, expected) => {
		const isAllowed = createOriginCheck(allowed);
		expect(byParsing(url)).toBe(expected);
		expect(isAllowed(url)).toBe(expected);
		// The second answer comes from the verdict cache or the prefix path: the same.
		expect(isAllowed(url)).toBe(expected);
	});

	test('keeps giving the same verdicts past its cache bound', () => {
		const isAllowed = createOriginCheck(allowed);
		for (let index = 0; index < 200; index++) {
			expect(isAllowed(`https://evil.example/${index}`)).toBe(false);
			expect(isAllowed(`HTTPS://api.vibrant-wellness.com/${index}`)).toBe(true);
		}
	});
});

describe('whose Authorization is it', () => {
	test.each(['Authorization', 'authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn'])('%s is Authorization', name => {
		expect(isAuthorizationName(name)).toBe(true);
		expect(authorizationKey({accept: '*/*', [name]: 'Bearer mine'})).toBe(name);
	});

	test.each(['Authorizations', 'Proxy-Authorization', 'X-Authorization', 'authorizatio'])('%s is not', name => {
		expect(isAuthorizationName(name)).toBe(false);
		expect(authorizationKey({[name]: 'x'})).toBeUndefined();
	});
});
