// ESM import: every name, the very same objects as `require` gives, and a token.
import {createRequire} from 'node:module';
import * as esm from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

const {exportedNames} = settings;

await main(async () => {
	// `import` loads CommonJS (one implementation): Node adds the module object as `default`, and
	// Node 24+ and Deno also as 'module.exports'.
	const names = Object.keys(esm)
		.filter(name => name !== 'default' && name !== 'module.exports')
		.sort();
	check(JSON.stringify(names) === JSON.stringify(exportedNames), `import gives ${names.join(', ')}`);
	const cjs = createRequire(import.meta.url)('vibrant-oauth2-client');
	for (const name of exportedNames) {
		check(esm[name] === cjs[name], `import and require give two different ${name}`);
	}

	let specifiers = '';
	if (typeof globalThis.Deno === 'object') {
		// Deno also resolves an npm: specifier from the consumer's node_modules: the same module.
		const viaNpm = await import('npm:vibrant-oauth2-client');
		check(viaNpm.Client === esm.Client, 'npm:vibrant-oauth2-client gives another Client');
		specifiers = ', npm: specifier too';
	}

	const {clientId, clientSecret, tokenUrl} = settings;
	const token = await new esm.Client({clientId, clientSecret, tokenUrl}).getToken();
	check(token === `Bearer at-${clientId}-1`, `getToken() gave ${token}`);
	return `${names.length} names, same as require${specifiers}`;
});
