// A child process that runs the BUILT package with the environment its parent gave it (such as
// NODE_DEBUG=vibrant, so its stderr is the package's real debug output, or NODE_EXTRA_CA_CERTS,
// which Node reads only at start). Driven through child-client.ts. Commands:
//
//   getToken({options})  `new Client(options).getToken()`: {ok, token, elapsedMs} or {ok: false,
//                        elapsedMs, name, status, oauthError, message, causeCode, renderings}, where
//                        renderings are every way a logger could print the error
//   messages()           every message of the package's channels so far, rendered when published:
//                        [{channel, reason, texts}]
//
// Every answer carries the unhandled rejections and uncaught exceptions seen so far (`problems`).
'use strict';
const {inspect} = require('node:util');
const {Client} = require('../../dist/cjs/index.js');
const {observeChannels} = require('../../harness/observe-channels.cjs');
const {serve} = require('../../harness/rpc.cjs');

const messages = [];
observeChannels((channel, message) => {
	messages.push({
		channel,
		reason: message.reason,
		texts: [...renderings(message), ...renderings(message.error), ...renderings(message.result)],
	});
});

function renderings(error) {
	if (error === undefined) {
		return [];
	}

	const texts = [inspect(error, {showHidden: true, depth: Number.POSITIVE_INFINITY}), JSON.stringify(error) ?? '', String(error)];
	for (let current = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
		texts.push(current.message, current.stack ?? '', JSON.stringify(Object.entries(current)));
	}

	return texts;
}

serve(
	{
		async getToken({options}) {
			const started = Date.now();
			try {
				const token = await new Client(options).getToken();
				return {ok: true, token, elapsedMs: Date.now() - started};
			} catch (error) {
				return {
					ok: false,
					elapsedMs: Date.now() - started,
					name: error?.name,
					status: error?.status,
					oauthError: error?.oauthError,
					message: error?.message,
					causeCode: error?.cause?.code,
					renderings: renderings(error),
				};
			}
		},
		messages: () => messages,
	},
	{recordProblems: true},
);
