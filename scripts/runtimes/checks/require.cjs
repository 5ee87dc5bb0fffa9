// CommonJS require: every name, errors that are instances of the required classes, and a token.
// (Self-contained: a CommonJS file cannot import common.mjs synchronously everywhere.)
const {Client, VibrantAuthError, VibrantConfigError} = require('vibrant-oauth2-client');

const {exportedNames} = JSON.parse(process.env['RUNTIME_CHECK'] ?? '{}');

async function run() {
	const names = Object.keys(require('vibrant-oauth2-client')).sort();
	if (JSON.stringify(names) !== JSON.stringify(exportedNames)) {
		throw new Error(`require gives ${names.join(', ')}`);
	}

	let thrown;
	try {
		new Client({clientId: 'x', clientSecret: 'y', tokenUrl: 'http://example.com/token'});
	} catch (error) {
		thrown = error;
	}

	if (!(thrown instanceof VibrantConfigError && thrown instanceof VibrantAuthError)) {
		throw new Error(
			`a plain-http token URL to another host gave ${thrown === undefined ? 'no error' : thrown.name}, not a VibrantConfigError`,
		);
	}

	const {clientId, clientSecret, tokenUrl} = JSON.parse(process.env.RUNTIME_CHECK);
	const token = await new Client({clientId, clientSecret, tokenUrl}).getToken();
	if (token !== `Bearer at-${clientId}-1`) {
		throw new Error(`getToken() gave ${token}`);
	}

	return `${names.length} names, VibrantConfigError`;
}

run().then(
	detail => {
		process.stdout.write(`\n@@result ${JSON.stringify({ok: true, detail})}\n`);
	},
	error => {
		process.stdout.write(`\n@@result ${JSON.stringify({ok: false, reason: `${error.name}: ${error.message}`})}\n`);
		process.exitCode = 1;
	},
);
