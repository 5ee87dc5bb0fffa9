import {VibrantConfigError} from './errors.js';
import {type TokenStore, checkTokenStore} from './token-store.js';

/** How the client authenticates to the token endpoint (RFC 6749 §2.3.1). */
export type AuthMethod = 'client_secret_post' | 'client_secret_basic';

/**
 * Options of `new Client(options)`.
 *
 * Every option is optional. An option that is `undefined` falls back to its environment variable,
 * then to its default. An explicit empty string is an error, not a fallback (except `scope`).
 */
export type ClientOptions = {
	/**
	 * The OAuth2 client ID.
	 *
	 * @default process.env.VIBRANT_CLIENT_ID (required)
	 */
	readonly clientId?: string | undefined;

	/**
	 * The OAuth2 client secret. It is sent to the token endpoint only, over TLS (or plain HTTP to a
	 * loopback address), and never appears in an error, a log line or `util.inspect()` output.
	 *
	 * @default process.env.VIBRANT_CLIENT_SECRET (required)
	 */
	readonly clientSecret?: string | undefined;

	/**
	 * The token endpoint. Must be `https:`, or `http:` to `localhost`, `127.0.0.0/8` or `[::1]`.
	 *
	 * @default process.env.VIBRANT_TOKEN_URL, else `https://api.vibrant-wellness.com/v1/oauth2/token`
	 */
	readonly tokenUrl?: string | undefined;

	/**
	 * Scopes to request, as a space-separated string or an array. `""` or `[]` sends no `scope`.
	 *
	 * @default process.env.VIBRANT_SCOPE, else no `scope` parameter
	 */
	readonly scope?: string | readonly string[] | undefined;

	/**
	 * `client_secret_post` sends the credentials in the form body; `client_secret_basic` sends them
	 * in an HTTP Basic `Authorization` header (RFC 6749 §2.3.1).
	 *
	 * @default 'client_secret_post'
	 */
	readonly authMethod?: AuthMethod | undefined;

	/**
	 * A cached token is used until this many seconds before it expires. A token whose whole lifetime
	 * is shorter than twice this buffer is used for half its lifetime instead.
	 *
	 * @default 60
	 */
	readonly expiryBufferSeconds?: number | undefined;

	/**
	 * Timeout of one attempt of the token request, in milliseconds.
	 *
	 * @default 30000
	 */
	readonly timeoutMs?: number | undefined;

	/**
	 * The longest one token request may take, in milliseconds, all its attempts and the waits
	 * between them included. Each attempt gets what is left (`timeoutMs` at most); no retry starts
	 * past it, and a `Retry-After` longer than what is left is not waited for: the request then
	 * fails with a {@link VibrantTokenError} that names this limit.
	 *
	 * @default 60000
	 */
	readonly totalTimeoutMs?: number | undefined;

	/**
	 * How many times a token request is retried after a network error, a timeout, a 5xx or a 429.
	 *
	 * @default 3
	 */
	readonly retries?: number | undefined;

	/**
	 * Past this fraction of a token's usable life, `getToken()` still answers from the cache at once
	 * and starts one background fetch of the next token. `false` turns refresh-ahead off.
	 *
	 * @default 0.8
	 */
	readonly refreshAheadRatio?: number | false | undefined;

	/**
	 * A store shared by the processes of a fleet (such as a {@link RedisTokenStore}), so that they
	 * share one token: the fleet makes one token request per token lifetime, however many processes
	 * it has. Each process still keeps its own copy: a request served from it never touches the
	 * store. Without a store the client keeps its token in the process only.
	 */
	readonly store?: TokenStore | undefined;
};

/**
 * Every setting validated and defaulted.
 *
 * @internal
 */
export type ResolvedConfig = {
	readonly clientId: string;
	readonly clientSecret: string;
	readonly tokenUrl: URL;
	readonly scope: string | undefined;
	readonly authMethod: AuthMethod;
	readonly expiryBufferSeconds: number;
	readonly timeoutMs: number;
	readonly totalTimeoutMs: number;
	readonly retries: number;
	readonly refreshAheadRatio: number | false;
	readonly store: TokenStore | undefined;
};

const defaultTokenUrl = 'https://api.vibrant-wellness.com/v1/oauth2/token';
const defaultExpiryBufferSeconds = 60;
const defaultTimeoutMs = 30_000;
const defaultTotalTimeoutMs = 60_000;
const defaultRetries = 3;
const defaultRefreshAheadRatio = 0.8;
// Node's timers (and so axios's timeout) fire at once for a delay above this.
const maxTimeoutMs = 2_147_483_647;

const timerRules = {
	minimum: 0,
	exclusiveMinimum: true,
	maximum: maxTimeoutMs,
	rule: `a finite number > 0 and ≤ ${maxTimeoutMs}`,
};

const knownOptions = new Set<string>([
	'clientId',
	'clientSecret',
	'tokenUrl',
	'scope',
	'authMethod',
	'expiryBufferSeconds',
	'timeoutMs',
	'totalTimeoutMs',
	'retries',
	'refreshAheadRatio',
	'store',
]);

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const scopeTokenPattern = /^[\u0021\u0023-\u005B\u005D-\u007E]+$/;

/**
 * Reads the options, falls back to the environment, applies defaults and validates everything.
 *
 * @throws {@link VibrantConfigError} naming the first bad or missing setting, never a credential.
 * @internal
 */
export function resolveConfig(options: ClientOptions = {}, environment: NodeJS.ProcessEnv = process.env): ResolvedConfig {
	// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers may pass anything.
	if (typeof options !== 'object' || options === null || Array.isArray(options)) {
		throw new VibrantConfigError('Client options must be an object.');
	}

	for (const key of Object.keys(options)) {
		if (!knownOptions.has(key)) {
			throw new VibrantConfigError(`Unknown option "${key}". Known options: ${[...knownOptions].join(', ')}.`);
		}
	}

	return {
		clientId: resolveCredential(options.clientId, environment['VIBRANT_CLIENT_ID'], 'clientId', 'VIBRANT_CLIENT_ID'),
		clientSecret: resolveCredential(options.clientSecret, environment['VIBRANT_CLIENT_SECRET'], 'clientSecret', 'VIBRANT_CLIENT_SECRET'),
		tokenUrl: resolveTokenUrl(options.tokenUrl, environment['VIBRANT_TOKEN_URL']),
		scope: resolveScope(options.scope, environment['VIBRANT_SCOPE']),
		authMethod: resolveAuthMethod(options.authMethod),
		expiryBufferSeconds: resolveNumber(options.expiryBufferSeconds, 'expiryBufferSeconds', defaultExpiryBufferSeconds, {
			minimum: 0,
			rule: 'a finite number ≥ 0',
		}),
		timeoutMs: resolveNumber(options.timeoutMs, 'timeoutMs', defaultTimeoutMs, timerRules),
		totalTimeoutMs: resolveNumber(options.totalTimeoutMs, 'totalTimeoutMs', defaultTotalTimeoutMs, timerRules),
		retries: resolveNumber(options.retries, 'retries', defaultRetries, {
			minimum: 0,
			integer: true,
			rule: 'an integer ≥ 0',
		}),
		refreshAheadRatio: resolveRefreshAheadRatio(options.refreshAheadRatio),
		store: options.store === undefined ? undefined : checkTokenStore(options.store),
	};
}

function resolveCredential(value: unknown, environmentValue: string | undefined, option: string, variable: string): string {
	if (value === undefined) {
		if (environmentValue === undefined || environmentValue.trim() === '') {
			throw new VibrantConfigError(`Missing ${option}: pass the ${option} option or set ${variable}.`);
		}

		return environmentValue;
	}

	if (typeof value !== 'string') {
		throw new VibrantConfigError(`Option ${option} must be a string.`);
	}

	if (value.trim() === '') {
		throw new VibrantConfigError(`Option ${option} is empty: pass a non-empty ${option} or leave it undefined to use ${variable}.`);
	}

	return value;
}

function resolveTokenUrl(value: unknown, environmentValue: string | undefined): URL {
	const fromOption = value !== undefined;
	// Name both: the one that was used, and the other place the same setting can come from.
	const setting = fromOption ? 'Option tokenUrl (over VIBRANT_TOKEN_URL)' : 'VIBRANT_TOKEN_URL (the tokenUrl option is unset)';
	let text: string;
	if (fromOption) {
		if (typeof value !== 'string' || value.trim() === '') {
			throw new VibrantConfigError('Option tokenUrl must be a non-empty string.');
		}

		text = value;
	} else {
		text = environmentValue === undefined || environmentValue.trim() === '' ? defaultTokenUrl : environmentValue;
	}

	let url: URL;
	try {
		url = new URL(text.trim());
	} catch {
		// The text is not quoted: a malformed URL may still hold a password.
		throw new VibrantConfigError(`${setting} is not a valid absolute URL.`);
	}

	if (url.username !== '' || url.password !== '') {
		throw new VibrantConfigError(`${setting} must not contain user:password@; pass the credentials as clientId / clientSecret instead.`);
	}

	requireHttpsOrLoopback(url, setting, {carries: 'the client secret', kind: 'URL'});
	url.hash = '';
	return url;
}

/**
 * Whether a URL's `hostname` (as `URL` normalises it) is a loopback host: `localhost`,
 * `127.0.0.0/8` or `[::1]`.
 *
 * @internal
 */
export function isLoopback(hostname: string): boolean {
	return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Throws unless `url` is `https:`, or plain `http:` to a loopback host: what it `carries` (the
 * client secret, a token) travels only over TLS.
 *
 * @param setting - the setting the error names, e.g. `Option tokenUrl` or `origins[0]`.
 * @param text - what travels to the URL, and what the error calls the URL.
 * @throws {@link VibrantConfigError} naming the setting and the scheme or host (never more of the URL).
 * @internal
 */
export function requireHttpsOrLoopback(url: URL, setting: string, text: {readonly carries: string; readonly kind: 'URL' | 'origin'}): void {
	if (url.protocol === 'http:') {
		if (!isLoopback(url.hostname)) {
			throw new VibrantConfigError(
				`${setting} uses plain http: to ${url.host}; ${text.carries} travels only over https: (plain http: is allowed to localhost, 127.0.0.0/8 and [::1]).`,
			);
		}
	} else if (url.protocol !== 'https:') {
		throw new VibrantConfigError(`${setting} must be an https: ${text.kind} (it uses ${url.protocol}).`);
	}
}

function resolveScope(value: unknown, environmentValue: string | undefined): string | undefined {
	let tokens: string[];
	if (value === undefined) {
		tokens = (environmentValue ?? '').split(/\s+/);
	} else if (typeof value === 'string') {
		tokens = value.split(/\s+/);
	} else if (Array.isArray(value) && value.every(item => typeof item === 'string')) {
		tokens = value.flatMap(item => item.split(/\s+/));
	} else {
		throw new VibrantConfigError('Option scope must be a string or an array of strings.');
	}

	tokens = tokens.filter(token => token !== '');
	for (const token of tokens) {
		if (!scopeTokenPattern.test(token)) {
			throw new VibrantConfigError(
				`${value === undefined ? 'VIBRANT_SCOPE (the scope option is unset)' : 'Option scope (over VIBRANT_SCOPE)'} holds a character that RFC 6749 §3.3 does not allow in a scope.`,
			);
		}
	}

	return tokens.length === 0 ? undefined : tokens.join(' ');
}

function resolveAuthMethod(value: unknown): AuthMethod {
	if (value === undefined) {
		return 'client_secret_post';
	}

	if (value === 'client_secret_post' || value === 'client_secret_basic') {
		return value;
	}

	throw new VibrantConfigError('Option authMethod must be "client_secret_post" or "client_secret_basic".');
}

function resolveNumber(
	value: unknown,
	option: string,
	fallback: number,
	rules: {minimum: number; exclusiveMinimum?: boolean; maximum?: number; integer?: boolean; rule: string},
): number {
	if (value === undefined) {
		return fallback;
	}

	const valid =
		typeof value === 'number' &&
		Number.isFinite(value) &&
		(rules.exclusiveMinimum ? value > rules.minimum : value >= rules.minimum) &&
		(rules.maximum === undefined || value <= rules.maximum) &&
		(!rules.integer || Number.isInteger(value));
	if (!valid) {
		throw new VibrantConfigError(`Option ${option} must be ${rules.rule} (got ${describe(value)}).`);
	}

	return value;
}

function resolveRefreshAheadRatio(value: unknown): number | false {
	if (value === undefined) {
		return defaultRefreshAheadRatio;
	}

	if (value === false || (typeof value === 'number' && value > 0 && value < 1)) {
		return value;
	}

	throw new VibrantConfigError(`Option refreshAheadRatio must be a number strictly between 0 and 1, or false (got ${describe(value)}).`);
}

// Only numbers' settings are described, never a credential.
function describe(value: unknown): string {
	return typeof value === 'number' ? String(value) : typeof value;
}
