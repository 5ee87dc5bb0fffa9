/**
 * The token endpoint's JSON answer, as sent on the wire (RFC 6749 §5.1).
 *
 * The server may add fields at any time; they are ignored.
 */
export type TokenResponse = {
	/** The access token itself; a non-empty string. */
	readonly access_token: string;
	/** Any case of `bearer` is written `Bearer`; missing or empty means `Bearer`. */
	readonly token_type?: string | null;
	/** Lifetime in seconds; may arrive as a numeric string. */
	readonly expires_in?: number | string | null;
	/**
	 * Absolute expiry in epoch seconds, or in epoch milliseconds when it is 10^11 or more (some
	 * servers send that); when valid (after the time of receipt) it wins over `expires_in`.
	 */
	readonly expires_at?: number | string | null;
	/** The scopes granted, space-separated. */
	readonly scope?: string | null;
	/** Not used by the client-credentials grant; passed through when a server sends one. */
	readonly refresh_token?: string | null;
	readonly [field: string]: unknown;
};

/** How long a token is kept when the server sends neither `expires_in` nor `expires_at`. */
const defaultLifetimeSeconds = 300;

/**
 * An `expires_at` at or above this is epoch milliseconds, not seconds. As seconds it would be the
 * year 5138; as milliseconds it is March 1973. Read as seconds, a millisecond value from a server
 * would keep a one-hour token for millennia.
 */
const epochMillisecondsFrom = 1e11;

/**
 * A token held by the cache.
 *
 * @example
 * ```ts
 * const token = new CachedToken({accessToken: "Bearer abc", expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now()});
 * token.isExpired(); // false
 * ```
 */
export class CachedToken {
	/** The `Authorization` header value, such as `Bearer abc`. */
	readonly accessToken: string;

	/** When the server says the token expires, in epoch milliseconds. */
	readonly expiresAt: number;

	/** When the token was received, in epoch milliseconds. */
	readonly obtainedAt: number;

	constructor(fields: {accessToken: string; expiresAt: number; obtainedAt: number}) {
		this.accessToken = fields.accessToken;
		this.expiresAt = fields.expiresAt;
		this.obtainedAt = fields.obtainedAt;
	}

	/**
	 * Whether the token should no longer be used at `now`: it is used until `bufferSeconds` before
	 * `expiresAt`, or, when its whole lifetime is shorter than twice the buffer, for half its lifetime.
	 *
	 * @param bufferSeconds - safety margin before expiry, in seconds.
	 * @param now - the current time in epoch milliseconds.
	 */
	isExpired(bufferSeconds = 60, now = Date.now()): boolean {
		return now >= usableUntil(this, bufferSeconds);
	}
}

/**
 * The end of a token's usable life, in epoch milliseconds (SPEC: "Usable life").
 *
 * @internal
 */
export function usableUntil(token: CachedToken, bufferSeconds: number): number {
	const lifetime = token.expiresAt - token.obtainedAt;
	const buffer = bufferSeconds * 1000;
	return lifetime < 2 * buffer ? token.obtainedAt + lifetime / 2 : token.expiresAt - buffer;
}

/**
 * When a background refresh of the token should start, or `undefined` for never.
 *
 * @internal
 */
export function refreshAheadAt(token: CachedToken, bufferSeconds: number, ratio: number | false): number | undefined {
	if (ratio === false) {
		return undefined;
	}

	const usableLife = usableUntil(token, bufferSeconds) - token.obtainedAt;
	return usableLife > 0 ? token.obtainedAt + ratio * usableLife : undefined;
}

/** Thrown by {@link toCachedToken} for a body that is not a usable token; the caller adds context. */
export class InvalidTokenResponse extends Error {
	override name = 'InvalidTokenResponse' as const;
}

// Characters that can be sent in an HTTP header value (RFC 6749 VSCHAR, minus nothing).
const headerSafePattern = /^[\u0020-\u007E]+$/;
// token_type is a single token: no spaces.
const tokenTypePattern = /^[\u0021-\u007E]+$/;
const numericPattern = /^\s*\d+(?:\.\d+)?\s*$/;

/**
 * Checks an untrusted parsed body and turns it into a {@link CachedToken}.
 *
 * @param body - the parsed JSON of a 2xx answer.
 * @param receivedAt - when the answer arrived, in epoch milliseconds.
 * @throws {@link InvalidTokenResponse} when the body is not a usable token response.
 * @internal
 */
export function toCachedToken(body: unknown, receivedAt: number): CachedToken {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) {
		throw new InvalidTokenResponse('the body is not a JSON object');
	}

	const fields = body as Record<string, unknown>;
	// HTTP drops spaces around a header value: keep the token as the API will see it, or the
	// compare-and-clear after a 401 would never match it.
	const accessToken = typeof fields['access_token'] === 'string' ? fields['access_token'].trim() : undefined;
	if (accessToken === undefined || accessToken === '') {
		throw new InvalidTokenResponse('the body has no access_token');
	}

	if (!headerSafePattern.test(accessToken)) {
		throw new InvalidTokenResponse('access_token holds characters that cannot be sent in an HTTP header');
	}

	return new CachedToken({
		accessToken: `${toTokenType(fields['token_type'])} ${accessToken}`,
		expiresAt: toExpiresAt(fields, receivedAt),
		obtainedAt: receivedAt,
	});
}

function toTokenType(value: unknown): string {
	if (value === undefined || value === null || value === '') {
		return 'Bearer';
	}

	if (typeof value !== 'string' || !tokenTypePattern.test(value)) {
		throw new InvalidTokenResponse('token_type is not a single word');
	}

	return value.toLowerCase() === 'bearer' ? 'Bearer' : value;
}

function toExpiresAt(fields: Record<string, unknown>, receivedAt: number): number {
	// An expires_at at or before receipt (a server bug, or clocks apart by more than the token's
	// lifetime) would turn caching off: it is not valid, and expires_in decides.
	const expiresAt = toEpochMilliseconds(toNumber(fields['expires_at']));
	if (expiresAt !== undefined && expiresAt > receivedAt) {
		return expiresAt;
	}

	const expiresIn = fields['expires_in'];
	if (expiresIn === undefined || expiresIn === null) {
		return receivedAt + defaultLifetimeSeconds * 1000;
	}

	const seconds = toNumber(expiresIn);
	if (seconds === undefined) {
		throw new InvalidTokenResponse('expires_in is not a non-negative number');
	}

	return receivedAt + seconds * 1000;
}

function toEpochMilliseconds(expiresAt: number | undefined): number | undefined {
	if (expiresAt === undefined) {
		return undefined;
	}

	return expiresAt >= epochMillisecondsFrom ? expiresAt : expiresAt * 1000;
}

// A finite, non-negative number, or a string of one; anything else is undefined.
function toNumber(value: unknown): number | undefined {
	if (typeof value === 'number') {
		return Number.isFinite(value) && value >= 0 ? value : undefined;
	}

	if (typeof value === 'string' && numericPattern.test(value)) {
		return Number(value);
	}

	return undefined;
}
