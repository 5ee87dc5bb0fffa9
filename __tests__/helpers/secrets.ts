import {inspect} from 'node:util';

/** A client secret with characters that change under form-, percent- and Base64 encoding. */
export const secret = 'sEcReT+/=&%:?~ é!*Zq9';
export const clientId = 'lab client:1';

/** Every form in which the secret could leak: raw, form-encoded, percent-encoded, in a Basic header. */
export const secretForms: readonly string[] = [
	secret,
	new URLSearchParams({s: secret}).toString().slice(2),
	encodeURIComponent(secret),
	Buffer.from(`${new URLSearchParams({s: clientId}).toString().slice(2)}:${new URLSearchParams({s: secret}).toString().slice(2)}`).toString(
		'base64',
	),
	Buffer.from(`${clientId}:${secret}`).toString('base64'),
	JSON.stringify(secret).slice(1, -1),
	JSON.stringify(secret).slice(1, -1).replaceAll('/', '\\/').replaceAll('é', '\\u00e9'),
	secret.replaceAll('&', '&amp;'),
];

/** Everything a logger or a crash report could print of an error, its cause chain included. */
export function renderings(error: unknown): string[] {
	const texts = [
		inspect(error, {showHidden: true, depth: Number.POSITIVE_INFINITY}),
		(JSON.stringify(error) as string | undefined) ?? '',
		String(error),
	];
	let current: unknown = error;
	for (let depth = 0; current instanceof Error && depth < 10; depth++) {
		texts.push(current.message, current.stack ?? '', JSON.stringify(Object.entries(current)));
		current = current.cause;
	}

	return texts;
}

export function expectNoSecret(error: unknown): void {
	for (const text of renderings(error)) {
		for (const form of secretForms) {
			expect(text).not.toContain(form);
		}
	}
}
