/* global fetch */
// Uses ky or openapi-fetch with withVibrantAuth as their fetch, from the built package, the way a
// user's ES module does (both libraries are ESM; Jest runs CommonJS, so fetch-consumers.test.ts runs
// this file in plain Node). Usage: node fetch-consumers.mjs <ky|openapi-fetch> <API origin>; the
// client comes from VIBRANT_* in the environment. Prints what the consumer returned, as JSON.
import {withVibrantAuth} from 'vibrant-oauth2-client';

const [consumer, apiOrigin] = process.argv.slice(2);
const authFetch = withVibrantAuth(fetch, {origins: [apiOrigin]});
const results = [];

if (consumer === 'ky') {
	const {default: ky} = await import('ky');
	const api = ky.create({prefixUrl: `${apiOrigin}/v1`, fetch: authFetch, retry: 0});
	results.push(await api.post('orders', {json: {panel: 'gut'}}).json(), await api.get('orders/1').json());
} else if (consumer === 'openapi-fetch') {
	const {default: createClient} = await import('openapi-fetch');
	const api = createClient({baseUrl: `${apiOrigin}/v1`, fetch: authFetch});
	for (const {data, error, response} of [await api.POST('/orders', {body: {panel: 'gut'}}), await api.GET('/orders/1')]) {
		results.push(response.ok ? data : {status: response.status, error});
	}
} else {
	throw new Error(`unknown consumer ${consumer}`);
}

process.stdout.write(`${JSON.stringify(results)}\n`);
