import {excerpt} from '../lib/errors.js';
import {CachedToken, InvalidTokenResponse, refreshAheadAt, toCachedToken, usableUntil} from '../lib/token.js';

const receivedAt = 1_700_000_000_000;
const hour = 3_600_000;

describe('CachedToken.isExpired', () => {
	// [lifetime ms, buffer s, now - obtainedAt ms, expired]
	test.each([
		['an hour token, well inside', hour, 60, hour - 61_000, false],
		['an hour token, 1 ms before the buffer', hour, 60, hour - 60_001, false],
		['an hour token, exactly at the buffer', hour, 60, hour - 60_000, true],
		['an hour token, past expiry', hour, 60, hour + 1, true],
		['exactly twice the buffer uses the buffer', 120_000, 60, 59_999, false],
		['exactly twice the buffer, at the buffer', 120_000, 60, 60_000, true],
		['a 30 s token is used for 15 s', 30_000, 60, 14_999, false],
		['a 30 s token, at 15 s', 30_000, 60, 15_000, true],
		['a zero buffer uses the whole lifetime', 10_000, 0, 9_999, false],
		['a zero buffer, at expiry', 10_000, 0, 10_000, true],
		['a zero lifetime is expired at once', 0, 60, 0, true],
	])('%s', (_name, lifetime, buffer, elapsed, expired) => {
		const token = new CachedToken({accessToken: 'Bearer x', expiresAt: receivedAt + lifetime, obtainedAt: receivedAt});
		expect(token.isExpired(buffer, receivedAt + elapsed)).toBe(expired);
	});

	test('defaults to a 60 s buffer and the current time', () => {
		const now = Date.now();
		expect(new CachedToken({accessToken: 'Bearer x', expiresAt: now + 3 * 60_000, obtainedAt: now}).isExpired()).toBe(false);
		expect(new CachedToken({accessToken: 'Bearer x', expiresAt: now + 59_000, obtainedAt: now - 3 * 60_000}).isExpired()).toBe(true);
	});
});

describe('refreshAheadAt', () => {
	test('starts at the ratio of the usable life', () => {
		const token = new CachedToken({accessToken: 'Bearer x', expiresAt: receivedAt + 1060_000, obtainedAt: receivedAt});
		expect(usableUntil(token, 60)).toBe(receivedAt + 1000_000);
		expect(refreshAheadAt(token, 60, 0.8)).toBe(receivedAt + 800_000);
		expect(refreshAheadAt(token, 60, false)).toBeUndefined();
	});

	test('applies the half-life rule to short tokens', () => {
		const token = new CachedToken({accessToken: 'Bearer x', expiresAt: receivedAt + 30_000, obtainedAt: receivedAt});
		expect(refreshAheadAt(token, 60, 0.5)).toBe(receivedAt + 7500);
	});

	test('never for a token with no usable life', () => {
		const token = new CachedToken({accessToken: 'Bearer x', expiresAt: receivedAt, obtainedAt: receivedAt});
		expect(refreshAheadAt(token, 60, 0.8)).toBeUndefined();
	});
});

describe('toCachedToken', () => {
	test.each([
		['bearer', 'Bearer abc'],
		['BEARER', 'Bearer abc'],
		['BeArEr', 'Bearer abc'],
		['', 'Bearer abc'],
		[null, 'Bearer abc'],
		[undefined, 'Bearer abc'],
		['DPoP', 'DPoP abc'],
		['mac', 'mac abc'],
	])('token_type %p is written as %p', (tokenType, header) => {
		expect(toCachedToken({access_token: 'abc', token_type: tokenType, expires_in: 60}, receivedAt).accessToken).toBe(header);
	});

	test.each([
		['expires_in', {expires_in: 3600}, receivedAt + hour],
		['expires_in as a numeric string', {expires_in: '3600'}, receivedAt + hour],
		['expires_in as a decimal string', {expires_in: ' 1.5 '}, receivedAt + 1500],
		['expires_in zero', {expires_in: 0}, receivedAt],
		['neither: 5 minutes', {}, receivedAt + 300_000],
		['null expires_in: 5 minutes', {expires_in: null}, receivedAt + 300_000],
		['expires_at wins', {expires_at: 1_700_000_100, expires_in: 3600}, 1_700_000_100_000],
		['expires_at as a string', {expires_at: '1700000100'}, 1_700_000_100_000],
		['null expires_at falls back', {expires_at: null, expires_in: 10}, receivedAt + 10_000],
		['invalid expires_at falls back', {expires_at: 'soon', expires_in: 10}, receivedAt + 10_000],
		['a valid expires_at hides a bad expires_in', {expires_at: 1_700_000_100, expires_in: -5}, 1_700_000_100_000],
		['expires_at 0 falls back', {expires_at: 0, expires_in: 10}, receivedAt + 10_000],
		['an expires_at in the past falls back', {expires_at: 1_600_000_000, expires_in: 10}, receivedAt + 10_000],
		['an expires_at at receipt falls back to 5 minutes', {expires_at: receivedAt / 1000}, receivedAt + 300_000],
		['expires_at in epoch milliseconds wins', {expires_at: 1_700_000_100_000, expires_in: 3600}, 1_700_000_100_000],
		['expires_at in epoch milliseconds as a string', {expires_at: '1700000100000'}, 1_700_000_100_000],
		['an expires_at in milliseconds in the past falls back', {expires_at: receivedAt - 1, expires_in: 10}, receivedAt + 10_000],
		['an expires_at in milliseconds at receipt falls back to 5 minutes', {expires_at: receivedAt}, receivedAt + 300_000],
		['an expires_at in milliseconds 1 ms after receipt', {expires_at: receivedAt + 1, expires_in: 10}, receivedAt + 1],
		['an expires_at just under 10^11 is seconds', {expires_at: 99_999_999_999, expires_in: 10}, 99_999_999_999_000],
		['an expires_at of 10^11 is milliseconds (1973: falls back)', {expires_at: 100_000_000_000, expires_in: 10}, receivedAt + 10_000],
		['an expires_at of 10^11 as a string is milliseconds too', {expires_at: '100000000000', expires_in: 10}, receivedAt + 10_000],
	])('%s', (_name, fields, expiresAt) => {
		const token = toCachedToken({access_token: 'abc', ...fields}, receivedAt);
		expect(token.expiresAt).toBe(expiresAt);
		expect(token.obtainedAt).toBe(receivedAt);
	});

	test('trims spaces around access_token, as HTTP will', () => {
		expect(toCachedToken({access_token: ' abc  '}, receivedAt).accessToken).toBe('Bearer abc');
	});

	test('ignores extra fields and null scope / refresh_token', () => {
		const token = toCachedToken(
			{access_token: 'abc', token_type: 'Bearer', expires_in: 60, scope: null, refresh_token: null, id_token: 'x', extra: {a: 1}},
			receivedAt,
		);
		expect(token).toEqual(new CachedToken({accessToken: 'Bearer abc', expiresAt: receivedAt + 60_000, obtainedAt: receivedAt}));
	});

	test.each([
		['null', null, 'the body is not a JSON object'],
		['an array', [{access_token: 'abc'}], 'the body is not a JSON object'],
		['a string', 'abc', 'the body is not a JSON object'],
		['no access_token', {token_type: 'bearer'}, 'the body has no access_token'],
		['an empty access_token', {access_token: ''}, 'the body has no access_token'],
		['a blank access_token', {access_token: '   '}, 'the body has no access_token'],
		['a numeric access_token', {access_token: 123}, 'the body has no access_token'],
		['a CRLF in access_token', {access_token: 'abc\r\nX-Evil: 1'}, 'access_token holds characters that cannot be sent in an HTTP header'],
		['a non-ASCII access_token', {access_token: 'abcé'}, 'access_token holds characters that cannot be sent in an HTTP header'],
		['a token_type with a space', {access_token: 'abc', token_type: 'Bearer x'}, 'token_type is not a single word'],
		['a numeric token_type', {access_token: 'abc', token_type: 5}, 'token_type is not a single word'],
		['a negative expires_in', {access_token: 'abc', expires_in: -1}, 'expires_in is not a non-negative number'],
		['a non-numeric expires_in', {access_token: 'abc', expires_in: 'soon'}, 'expires_in is not a non-negative number'],
		['an infinite expires_in', {access_token: 'abc', expires_in: Number.POSITIVE_INFINITY}, 'expires_in is not a non-negative number'],
		['a boolean expires_in', {access_token: 'abc', expires_in: true}, 'expires_in is not a non-negative number'],
	])('rejects %s', (_name, body, message) => {
		expect(() => toCachedToken(body, receivedAt)).toThrow(new InvalidTokenResponse(message));
	});
});

describe('excerpt', () => {
	test('is one printable line of at most 120 characters', () => {
		expect(excerpt('a\u0007b\u001b[31mc\r\nd')).toBe('a b [31mc d');
		expect(excerpt('x'.repeat(200))).toBe(`${'x'.repeat(120)}…`);
	});
});
