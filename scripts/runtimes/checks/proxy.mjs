// A token from an https: endpoint with a private CA (NODE_EXTRA_CA_CERTS) through a CONNECT proxy
// (HTTPS_PROXY), both set by the parent before the runtime starts. The parent counts one CONNECT
// to the token host and one token request.
import {Client} from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

await main(async () => {
	const {clientId, clientSecret, tokenUrl} = settings;
	const token = await new Client({clientId, clientSecret, tokenUrl, retries: 0, timeoutMs: 5000}).getToken();
	check(token === `Bearer at-${clientId}-1`, `getToken() gave ${token}`);
	return 'token through the tunnel';
});
