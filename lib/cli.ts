#!/usr/bin/env node
import {parseArgs} from 'node:util';
import {resolveConfig} from './config.js';
import {VibrantAuthError} from './errors.js';
import {createRedactor} from './credentials.js';
import {createTokenFetcher} from './token-endpoint.js';

const usage = `Usage: vibrant-token [options]

Prints an access token as an Authorization header value ("Bearer …") from the token
endpoint configured by VIBRANT_CLIENT_ID, VIBRANT_CLIENT_SECRET, VIBRANT_TOKEN_URL and
VIBRANT_SCOPE, for example:

  curl -H "Authorization: $(npx vibrant-token)" https://api.vibrant-wellness.com/v1/…

Options:
  --token-url <url>  the token endpoint (overrides VIBRANT_TOKEN_URL)
  --scope <scope>    space-separated scopes to request (overrides VIBRANT_SCOPE)
  --auth-method <m>  client_secret_post (default) or client_secret_basic
  --json             print the token endpoint's whole JSON answer instead
  -h, --help         show this help

Exit codes: 0 token printed, 1 no token (configuration or token endpoint), 2 bad usage.`;

async function main(argv: string[]): Promise<number> {
	let values: {
		'token-url'?: string | undefined;
		scope?: string | undefined;
		'auth-method'?: string | undefined;
		json?: boolean | undefined;
		help?: boolean | undefined;
	};
	try {
		({values} = parseArgs({
			args: argv,
			options: {
				'token-url': {type: 'string'},
				scope: {type: 'string'},
				'auth-method': {type: 'string'},
				json: {type: 'boolean'},
				help: {type: 'boolean', short: 'h'},
			},
			strict: true,
			allowPositionals: false,
		}));
	} catch (error) {
		process.stderr.write(`vibrant-token: ${error instanceof Error ? error.message : String(error)}\nTry 'vibrant-token --help'.\n`);
		return 2;
	}

	const authMethod = values['auth-method'];
	if (authMethod !== undefined && authMethod !== 'client_secret_post' && authMethod !== 'client_secret_basic') {
		process.stderr.write(`vibrant-token: --auth-method must be client_secret_post or client_secret_basic\nTry 'vibrant-token --help'.\n`);
		return 2;
	}

	if (values.help) {
		process.stdout.write(`${usage}\n`);
		return 0;
	}

	try {
		const config = resolveConfig({
			tokenUrl: values['token-url'],
			scope: values.scope,
			authMethod,
		});
		const {token, response} = await createTokenFetcher(config)();
		// A server that echoes the request would put the secret in its answer: never print it.
		const output = values.json ? createRedactor(config)(JSON.stringify(response, undefined, 2)) : token.accessToken;
		process.stdout.write(`${output}\n`);
		return 0;
	} catch (error) {
		// Our errors never hold the secret; anything else is reduced to its message alone.
		const message =
			error instanceof VibrantAuthError ? error.message : `unexpected error: ${error instanceof Error ? error.message : 'unknown'}`;
		process.stderr.write(`vibrant-token: ${message}\n`);
		return 1;
	}
}

void main(process.argv.slice(2)).then(code => {
	process.exitCode = code;
});
