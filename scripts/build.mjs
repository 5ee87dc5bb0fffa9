// Builds dist/: one CommonJS implementation (with the ESM-only p-memoize bundled in, so that
// `require` and a default Jest setup never reach ESM), a thin ESM wrapper that re-exports it (one
// implementation: no dual-package hazard), and declarations for each module system.
import {execFileSync} from 'node:child_process';
import {mkdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {build} from 'esbuild';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', {recursive: true, force: true});

const common = {
	bundle: true,
	platform: 'node',
	target: 'node20',
	format: 'cjs',
	// Peer and runtime dependencies stay outside; p-memoize and mimic-function are bundled.
	external: ['axios', 'axios-retry'],
	logLevel: 'warning',
};
await build({...common, entryPoints: ['lib/index.ts'], outfile: 'dist/cjs/index.js'});
// The bin runs in its own process: a copy of the code it needs is no hazard there.
await build({...common, entryPoints: ['lib/cli.ts'], outfile: 'dist/cjs/cli.js'});

// The ESM wrapper lists the names the CommonJS build exports.
const names = Object.keys(require('../dist/cjs/index.js')).sort();
mkdirSync('dist/esm', {recursive: true});
writeFileSync('dist/esm/package.json', '{"type": "module"}\n');
// It hands the implementation the axios of the ESM world, which the application has loaded already:
// otherwise the implementation's require('axios') would load axios's CommonJS build as a second copy.
writeFileSync(
	'dist/esm/index.js',
	[
		"import axios from 'axios';",
		"import implementation from '../cjs/index.js';",
		'',
		"implementation.Client[Symbol.for('vibrant-oauth2-client.provideAxios')](axios);",
		'',
		`export const {${names.join(', ')}} = implementation;`,
		'',
	].join('\n'),
);

// The same declarations twice: under dist/esm they are read as ESM, so that `declare module
// 'axios'` augments the ESM typings of axios there and the CommonJS ones under dist/cjs.
for (const directory of ['dist/cjs', 'dist/esm']) {
	execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--declarationDir', directory], {stdio: 'inherit'});
}
