// What every check shares. A check runs in a child process of the runtime under test, from a
// consumer folder where the packed package is installed (so `vibrant-oauth2-client` is a bare
// specifier, as in an application). It reads its settings from RUNTIME_CHECK (JSON) and ends by
// printing one `@@result {...}` line; the parent also counts what its servers received.

/** {clientId, clientSecret, tokenUrl, apiOrigin?, cell, exportedNames, redisUrl?} */
export const settings = JSON.parse(process.env['RUNTIME_CHECK'] ?? '{}');

export function check(condition, message) {
	if (!condition) {
		throw new Error(message);
	}
}

/** A short description of an error: its class, code, message, and its cause's code and message. */
export function describe(error) {
	if (!(error instanceof Error)) {
		return `threw ${typeof error}: ${String(error)}`;
	}

	const cause = error.cause instanceof Error ? ` [cause ${error.cause.code ?? error.cause.name}: ${error.cause.message}]` : '';
	return `${error.name}${error.code === undefined ? '' : ` ${error.code}`}: ${error.message}${cause}`;
}

/** Runs the check and prints its result; `run` resolves to a detail string, or `{detail, data}`. */
export async function main(run) {
	let result;
	try {
		const outcome = await run();
		result = typeof outcome === 'string' ? {ok: true, detail: outcome} : {ok: true, ...outcome};
	} catch (error) {
		result = {ok: false, reason: describe(error)};
	}

	process.stdout.write(`\n@@result ${JSON.stringify(result)}\n`);
	process.exitCode = result.ok ? 0 : 1;
}
