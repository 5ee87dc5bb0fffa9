// attachVibrantAuth: concurrent requests share one token; the API rejects that first token (401),
// each request is retried once with one fresh token. The parent counts 2 token requests and
// 2 × requests API calls.
import axios from 'axios';
import {Client, attachVibrantAuth} from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

const requests = 5;

await main(async () => {
	const {clientId, clientSecret, tokenUrl, apiOrigin, cell} = settings;
	const client = new Client({clientId, clientSecret, tokenUrl});
	const api = attachVibrantAuth(axios.create({baseURL: `${apiOrigin}/revoked-first/${cell}`}), {client, origins: [apiOrigin]});
	const responses = await Promise.all(Array.from({length: requests}, () => api.get('/data')));
	const statuses = responses.map(response => response.status);
	check(
		statuses.every(status => status === 200),
		`statuses ${statuses.join(', ')}`,
	);
	const sent = new Set(responses.map(response => response.config.headers.Authorization));
	check(sent.size === 1 && sent.has(`Bearer at-${clientId}-2`), `retried with ${[...sent].join(', ')}`);
	return `${requests} requests, 401 → one fresh token → 200`;
});
