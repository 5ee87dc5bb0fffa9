// The tracing channel vibrant-oauth2-client:token: one trace per token request, start → end →
// asyncStart → asyncEnd, with the documented context and neither the secret nor the token.
import diagnosticsChannel from 'node:diagnostics_channel';
import {Client} from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

await main(async () => {
	const {clientId, clientSecret, tokenUrl} = settings;
	const seen = [];
	const record = name => message => seen.push({name, message: JSON.parse(JSON.stringify(message))});
	diagnosticsChannel.tracingChannel('vibrant-oauth2-client:token').subscribe({
		start: record('start'),
		end: record('end'),
		asyncStart: record('asyncStart'),
		asyncEnd: record('asyncEnd'),
		error: record('error'),
	});
	const token = await new Client({clientId, clientSecret, tokenUrl, scope: 'read'}).getToken();
	const names = seen.map(event => event.name).join(' → ');
	check(names === 'start → end → asyncStart → asyncEnd', `events: ${names || 'none'}`);
	const last = seen.at(-1).message;
	check(
		last.tokenUrl === tokenUrl && last.clientId === clientId && last.scope === 'read' && last.reason === 'miss',
		`context ${JSON.stringify(last)}`,
	);
	check(last.result?.tokenType === 'Bearer' && last.result.expiresAt > Date.now(), `result ${JSON.stringify(last.result)}`);
	const all = JSON.stringify(seen);
	check(!all.includes(token.slice('Bearer '.length)) && !all.includes(clientSecret), 'a message holds the token or the secret');
	return `${names}, no secret`;
});
