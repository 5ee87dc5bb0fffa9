// getToken() with concurrent callers: one token request (the parent counts it), one token for all,
// then served from the cache.
import {Client} from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

const callers = 20;

await main(async () => {
	const {clientId, clientSecret, tokenUrl} = settings;
	const client = new Client({clientId, clientSecret, tokenUrl});
	const tokens = await Promise.all(Array.from({length: callers}, () => client.getToken()));
	check(new Set(tokens).size === 1 && tokens[0] === `Bearer at-${clientId}-1`, `got ${[...new Set(tokens)].join(', ')}`);
	check((await client.getToken()) === tokens[0], 'a later call got another token');
	return `${callers} concurrent callers, 1 token`;
});
