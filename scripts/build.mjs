// Builds dist/: one CommonJS implementation (with the ESM-only p-memoize bundled in, so that
// `require` and a default Jest setup never reach ESM), a thin ESM wrapper that re-exports it (one
// implementation: no dual-package hazard), and declarations for each module system.
//
// A cheap import: the implementation is the core (dist/cjs/index.js: what `Client` and
// `attachVibrantAuth` need) plus one file per module that loads on first use (dist/cjs/<name>.js,
// listed in `lazy`). In the core, every import of such a module is given its stand-in
// (lib/lazy/<name>.ts: the same names, which require the real file when first used); in the file
// of such a module, every import of a core module reads the core's own module (through
// `internalsKey` on Client), so that each module exists once, whichever file needs it.
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import {build} from 'esbuild';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

/** The modules of lib/ that load on first use, each from dist/cjs/<name>.js. */
const lazy = ['fetch', 'redis-store', 'shared-token', 'token-endpoint', 'token-retry', 'token-store'];
/** Where the files of `lazy` find the core's modules: a symbol on Client, so no export name is added. */
const internalsKey = 'vibrant-oauth2-client.internals';

const libDirectory = path.resolve('lib');
const standInDirectory = path.join(libDirectory, 'lazy');

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

/** The lib/ file a relative import names (sources import './x.js' for './x.ts'), if it is one. */
function libFile({path: specifier, resolveDir}) {
	const file = path.resolve(resolveDir, specifier.replace(/\.js$/, '.ts'));
	return file.startsWith(`${libDirectory}${path.sep}`) && existsSync(file) ? file : undefined;
}

/** A lib/ file's name: its path under lib/, without `.ts`. */
const moduleName = file => path.relative(libDirectory, file).replace(/\.ts$/, '').split(path.sep).join('/');
const relative = file => path.relative(process.cwd(), file);

/** The core: modules of `lazy` are replaced by their stand-ins, which require dist/cjs/<name>.js. */
const core = {
	name: 'core',
	setup(builder) {
		builder.onResolve({filter: /^\.\.?\//}, args => {
			const file = libFile(args);
			const name = file === undefined ? undefined : moduleName(file);
			if (!lazy.includes(name)) {
				return undefined;
			}

			if (path.dirname(args.importer) !== standInDirectory) {
				const standIn = path.join(standInDirectory, `${name}.ts`);
				if (!existsSync(standIn)) {
					throw new Error(
						`${relative(args.importer)} imports lib/${name}.ts, which loads on first use: it needs a stand-in, ${relative(standIn)}.`,
					);
				}

				return {path: standIn};
			}

			if (args.kind !== 'require-call') {
				throw new Error(`${relative(args.importer)} must require() lib/${name}.ts when first used, not import it.`);
			}

			return {path: `./${name}.js`, external: true};
		});
	},
};

/**
 * The file of one module of `lazy`: the other modules of `lazy` are required from their files, the
 * core's modules are read from the core (and noted in `needs`), anything else is bundled (and noted
 * in `own`: a module bundled into two files would exist twice).
 */
function lazyFile(name, coreFiles, needs, own) {
	return {
		name: 'lazy-file',
		setup(builder) {
			builder.onResolve({filter: /^\.\.?\//}, args => {
				if (args.namespace === 'core') {
					return {path: args.path, external: true};
				}

				const file = libFile(args);
				if (file === undefined) {
					return undefined;
				}

				const other = moduleName(file);
				if (other === name) {
					return {path: file};
				}

				if (lazy.includes(other)) {
					return {path: `./${other}.js`, external: true};
				}

				if (coreFiles.has(file)) {
					needs.add(other);
					return {path: file, namespace: 'core'};
				}

				own.add(file);
				return {path: file};
			});
			builder.onLoad({filter: /.*/, namespace: 'core'}, args => ({
				// The core that required this file (lib/lazy/stand-in.ts withCore), else the one index.js is now.
				contents: `module.exports = (globalThis[Symbol.for('vibrant-oauth2-client.core')] ?? require('./index.js').Client[Symbol.for(${JSON.stringify(internalsKey)})])[${JSON.stringify(moduleName(args.path))}];`,
				loader: 'js',
			}));
		},
	};
}

// 1. Which modules the core holds.
const firstCore = await build({
	...common,
	entryPoints: ['lib/index.ts'],
	plugins: [core],
	write: false,
	metafile: true,
	outfile: 'dist/cjs/index.js',
});
const coreFiles = new Set(Object.keys(firstCore.metafile.inputs).map(file => path.resolve(file)));

// 2. The files of the modules that load on first use, and what they need of the core.
const needs = new Set();
const owners = new Map();
for (const name of lazy) {
	const own = new Set();
	await build({
		...common,
		entryPoints: [`lib/${name}.ts`],
		plugins: [lazyFile(name, coreFiles, needs, own)],
		outfile: `dist/cjs/${name}.js`,
	});
	for (const file of own) {
		if (owners.has(file)) {
			throw new Error(
				`${relative(file)} is bundled into dist/cjs/${owners.get(file)}.js and dist/cjs/${name}.js: add it to \`lazy\`, or import it from the core.`,
			);
		}

		owners.set(file, name);
	}
}

// 3. The core, which hands those modules over.
const exposed = [...needs].sort();
await build({
	...common,
	stdin: {
		contents: [
			"export * from './index.ts';",
			"import {Client} from './client.ts';",
			"import {provideCore} from './lazy/stand-in.ts';",
			...exposed.map((name, index) => `import * as module${index} from './${name}.ts';`),
			`const modules = Object.freeze({${exposed.map((name, index) => `${JSON.stringify(name)}: module${index}`).join(', ')}});`,
			'provideCore(modules);',
			`Object.defineProperty(Client, Symbol.for(${JSON.stringify(internalsKey)}), {value: modules});`,
		].join('\n'),
		resolveDir: libDirectory,
		sourcefile: 'core-entry.ts',
		loader: 'ts',
	},
	plugins: [core],
	outfile: 'dist/cjs/index.js',
});

// The bin runs in its own process: a copy of the code it needs is no hazard there.
await build({...common, entryPoints: ['lib/cli.ts'], outfile: 'dist/cjs/cli.js'});

// The ESM wrapper lists the names the CommonJS build exports.
const names = Object.keys(require('../dist/cjs/index.js')).sort();
// What the ESM wrapper imports. Node scans each CommonJS module that an ES module imports for its
// export names (cjs-module-lexer, in JavaScript): for the whole of index.js, that scan cost more
// than loading it. The ESM wrapper needs only the default export.
writeFileSync(
	'dist/cjs/implementation.js',
	[
		"'use strict';",
		'// What dist/esm/index.js imports: the implementation, index.js, as the default export. Node scans',
		'// the CommonJS modules that an ES module imports for export names; this one is two lines long.',
		"const implementation = require('./index.js');",
		'module.exports = implementation;',
		'',
	].join('\n'),
);
mkdirSync('dist/esm', {recursive: true});
writeFileSync('dist/esm/package.json', '{"type": "module"}\n');
// It hands the implementation the way to the axios of the ESM world, which the application has
// loaded already: otherwise the implementation's require('axios') would load axios's CommonJS build
// as a second copy. On first use, not at import: resolving axios from here costs about 1.5 ms.
writeFileSync(
	'dist/esm/index.js',
	[
		"import implementation from '../cjs/implementation.js';",
		'',
		"implementation.Client[Symbol.for('vibrant-oauth2-client.provideAxios')](async () => (await import('axios')).default);",
		'',
		`export const {${names.join(', ')}} = implementation;`,
		'',
	].join('\n'),
);

// The same declarations twice: under dist/esm they are read as ESM, so that `declare module
// 'axios'` augments the ESM typings of axios there and the CommonJS ones under dist/cjs.
for (const directory of ['dist/cjs', 'dist/esm']) {
	execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--declarationDir', directory], {stdio: 'inherit'});
	// The stand-ins are internal (their declarations are empty) and no declaration refers to them.
	rmSync(path.join(directory, 'lazy'), {recursive: true, force: true});
}
