// withVibrantAuth over the runtime's own fetch: a request whose signal aborts while it waits for a
// token rejects at once with the signal's reason, and one already aborted too; nothing reaches
// the API (the parent counts 0 API calls; the token endpoint holds its answer for 1.5 s).
import {Client, withVibrantAuth} from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

await main(async () => {
	const {clientId, clientSecret, tokenUrl, apiOrigin, cell} = settings;
	const authFetch = withVibrantAuth(globalThis.fetch, {client: new Client({clientId, clientSecret, tokenUrl}), origins: [apiOrigin]});
	const url = `${apiOrigin}/ok/${cell}/data`;

	const already = new Error('aborted before the call');
	const early = await authFetch(url, {signal: AbortSignal.abort(already)}).then(
		() => 'resolved',
		error => error,
	);
	check(early === already, `an already-aborted signal gave ${early instanceof Error ? early.message : String(early)}`);

	const controller = new AbortController();
	const reason = new Error('the caller gave up');
	const started = performance.now();
	setTimeout(() => controller.abort(reason), 100);
	const outcome = await authFetch(url, {signal: controller.signal}).then(
		() => 'resolved',
		error => error,
	);
	const waited = performance.now() - started;
	check(
		outcome === reason,
		`rejected with ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : String(outcome)}, not the reason`,
	);
	check(waited < 1200, `rejected after ${Math.round(waited)} ms, not at the abort (100 ms)`);
	return `rejected with the reason after ${Math.round(waited)} ms`;
});
