// Builds dist/cjs: one CommonJS implementation (with the ESM-only p-memoize bundled in, so that
// `require` and a default Jest setup never reach ESM), which `import` and `require` both load (one
// implementation, no dual-package hazard), and its declarations.
//
// A cheap import: the entry (dist/cjs/index.js) names each export of the core (dist/cjs/core.js: what `Client` and
// `attachVibrantAuth` need) plus one file per module that loads on first use (dist/cjs/<name>.js,
// listed in `lazy`). In the core, every import of such a module is given its stand-in
// (lib/lazy/<name>.ts: the same names, which require the real file when first used); in the file
// of such a module, every import of a core module reads the core's own module (through
// `internalsKey` on Client), so that each module exists once, whichever file needs it.
import {execFileSync} from 'node:child_process';
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
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
				// The core that required this file (lib/lazy/stand-in.ts withCore), else the one core.js is now.
				contents: `module.exports = (globalThis[Symbol.for('vibrant-oauth2-client.core')] ?? require('./core.js').Client[Symbol.for(${JSON.stringify(internalsKey)})])[${JSON.stringify(moduleName(args.path))}];`,
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
	outfile: 'dist/cjs/core.js',
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
	outfile: 'dist/cjs/core.js',
});

// The bin runs in its own process: a copy of the code it needs is no hazard there.
await build({...common, entryPoints: ['lib/cli.ts'], outfile: 'dist/cjs/cli.js'});

// The entry, for `import` and `require` alike. Node scans a CommonJS module that an ES module
// imports for its export names (cjs-module-lexer): this file names each export as `exports.X = …`,
// which the scan finds, and it is short (the scan of the core itself cost more than loading it).
// CommonJS for `import` too: Node loads an ES module entry about 2 ms slower (one more module to
// compile and link, and the scan of the CommonJS module it imports).
const names = Object.keys(require('../dist/cjs/core.js')).sort();
writeFileSync(
	'dist/cjs/index.js',
	[
		"'use strict';",
		'// The entry of `import` and `require`: the core, each export named so that Node finds it from ESM.',
		"const core = require('./core.js');",
		'',
		...names.map(name => `exports.${name} = core.${name};`),
		'',
	].join('\n'),
);

// One set of declarations, CommonJS like the code. `declare module 'axios'` in axios.d.ts augments
// the CommonJS typings of axios (index.d.cts), which a CommonJS program loads; an ES module program
// loads axios's ESM typings (index.d.ts), which axios-esm.d.mts augments: an ES module file, so
// 'axios' there resolves to them.
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--declarationDir', 'dist/cjs'], {stdio: 'inherit'});
// The stand-ins are internal (their declarations are empty) and no declaration refers to them.
rmSync(path.join('dist/cjs', 'lazy'), {recursive: true, force: true});
const augmentation = readFileSync('dist/cjs/axios.d.ts', 'utf8').match(/^declare module 'axios' \{\n[^]*?\n\}\n/m);
if (augmentation === null) {
	throw new Error("dist/cjs/axios.d.ts: no `declare module 'axios' {…}` block found to copy into axios-esm.d.mts");
}

writeFileSync(
	'dist/cjs/axios-esm.d.mts',
	['// The augmentation of axios.d.ts, for the ESM typings of axios (see scripts/build.mjs).', 'export {};', augmentation[0]].join('\n'),
);
const indexTypes = 'dist/cjs/index.d.ts';
writeFileSync(indexTypes, `/// <reference path="./axios-esm.d.mts" />\n${readFileSync(indexTypes, 'utf8')}`);
