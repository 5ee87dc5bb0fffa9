/**
 * Base class of every error this package throws.
 *
 * Catch this to handle any failure of `vibrant-oauth2-client` in one place; check for the
 * subclasses to tell configuration mistakes from token failures.
 *
 * @example
 * ```ts
 * import { Client, VibrantAuthError } from "vibrant-oauth2-client";
 *
 * try {
 *   await new Client().getToken();
 * } catch (error) {
 *   if (error instanceof VibrantAuthError) console.error(error.message);
 * }
 * ```
 */
export class VibrantAuthError extends Error {
	/** The class name, so that logs and `util.inspect` show which error this is. */
	override name: string = 'VibrantAuthError';
}

/**
 * Thrown synchronously by `new Client()` and `attachVibrantAuth()` when a setting is missing or
 * invalid.
 *
 * The message names the option and its environment variable (for example
 * `clientSecret / VIBRANT_CLIENT_SECRET`), never the value of a credential.
 */
export class VibrantConfigError extends VibrantAuthError {
	/** Always `'VibrantConfigError'`. */
	override name = 'VibrantConfigError' as const;
}

/**
 * Rejects `getToken()` (and a request made through `attachVibrantAuth`) when no token could be had:
 * the token endpoint could not be reached, timed out, refused the credentials, or answered with
 * something that is not a usable token.
 *
 * @see RFC 6749 §5.2 for `oauthError` and `oauthErrorDescription`.
 */
export class VibrantTokenError extends VibrantAuthError {
	/** Always `'VibrantTokenError'`. */
	override name = 'VibrantTokenError' as const;

	/** HTTP status of the token endpoint's answer, when there was one. */
	readonly status?: number;

	/** The RFC 6749 §5.2 `error` code the token endpoint sent, such as `invalid_client`. */
	readonly oauthError?: string;

	/** The RFC 6749 §5.2 `error_description` the token endpoint sent. */
	readonly oauthErrorDescription?: string;

	/**
	 * @param message - what happened and what to do about it.
	 * @param details - the token endpoint's status and RFC 6749 §5.2 error fields, and a sanitised `cause`.
	 */
	constructor(message: string, details: {status?: number; oauthError?: string; oauthErrorDescription?: string; cause?: Error} = {}) {
		super(message, details.cause === undefined ? undefined : {cause: details.cause});
		if (details.status !== undefined) {
			this.status = details.status;
		}

		if (details.oauthError !== undefined) {
			this.oauthError = details.oauthError;
		}

		if (details.oauthErrorDescription !== undefined) {
			this.oauthErrorDescription = details.oauthErrorDescription;
		}
	}
}

const maxExcerptLength = 120;

/**
 * A short, single-line, printable excerpt of a response body for an error message.
 *
 * @internal
 */
export function excerpt(text: string): string {
	const flat = text
		// Control characters could forge lines in a log or a terminal.
		// eslint-disable-next-line no-control-regex
		.replaceAll(/[\u0000-\u001F\u007F-\u009F]+/g, ' ')
		.replaceAll(/\s+/g, ' ')
		.trim();
	return flat.length > maxExcerptLength ? `${flat.slice(0, maxExcerptLength)}…` : flat;
}
