/** A client's credentials. */
type Credentials = {readonly clientId: string; readonly clientSecret: string};

// The client's credentials on the wire, and every form of them that must never be quoted back.

/**
 * The `Authorization` header of `client_secret_basic`. RFC 6749 §2.3.1: both parts are
 * form-urlencoded before they are joined and Base64-encoded.
 *
 * @internal
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
	return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

function formEncode(value: string): string {
	return new URLSearchParams({v: value}).toString().slice(2);
}

// `access_token":"…`, `access_token=…` and the like, in JSON, form or query text, quoted or not.
const tokenFieldPattern = /((?:access|refresh|id)_token\\?["']?\s*[:=]\s*\\?["']?)[^"'\\&,;}\s]+/gi;

/**
 * Replaces every form of the secret that a server may echo back (raw, form- and percent-encoded,
 * inside the Basic header, JSON- and HTML-escaped) before server text is quoted anywhere.
 *
 * @internal
 */
export function createRedactor(config: Credentials): (text: string) => string {
	const secret = config.clientSecret;
	// JSON encoders differ: some escape "/" (PHP), some every non-ASCII character (Python).
	const json = JSON.stringify(secret).slice(1, -1);
	const asciiJson = json.replaceAll(/[^\u0020-\u007E]/g, character => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
	const forms = new Set([
		basicAuthorization(config.clientId, secret).slice('Basic '.length),
		secret,
		formEncode(secret),
		encodeURIComponent(secret),
		json,
		json.replaceAll('/', '\\/'),
		asciiJson,
		asciiJson.replaceAll('/', '\\/'),
		secret.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;'),
	]);
	const sorted = [...forms].sort((a, b) => b.length - a.length);
	return text => {
		let result = text;
		for (const form of sorted) {
			result = result.replaceAll(form, '[redacted]');
		}

		return result;
	};
}

/**
 * The redactor for server text that is quoted in an error: the secret in every form, and token
 * values too (a truncated or form-encoded answer may hold one; in a message, a token is as secret
 * as the secret).
 *
 * @internal
 */
export function createServerTextRedactor(config: Credentials): (text: string) => string {
	const redactSecret = createRedactor(config);
	return text => redactSecret(text).replaceAll(tokenFieldPattern, '$1[redacted]');
}
