// A child process for the fault matrix: it runs the BUILT package with NODE_DEBUG=vibrant, so its
// stderr is the package's real debug output. The parent sends {id, options}; it answers with the
// outcome and every rendering of an error a logger could print.
'use strict';
const {inspect} = require('node:util');
const {Client} = require('../../dist/cjs/index.js');
const {observeChannels} = require('./observe-channels.cjs');

// Every message of every channel of the package, rendered as it is published, for the parent to scan.
const messages = [];
observeChannels((channel, message) => {
	messages.push({
		channel,
		reason: message.reason,
		texts: [...renderings(message), ...renderings(message.error), ...renderings(message.result)],
	});
});

const unhandled = [];
process.on('unhandledRejection', reason => {
	unhandled.push(String(reason));
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

process.on('message', async ({id, kind, options}) => {
	if (kind === 'unhandled') {
		process.send({id, unhandled, messages});
		return;
	}

	const started = Date.now();
	try {
		const token = await new Client(options).getToken();
		process.send({id, ok: true, token, elapsedMs: Date.now() - started});
	} catch (error) {
		process.send({
			id,
			ok: false,
			elapsedMs: Date.now() - started,
			name: error?.name,
			status: error?.status,
			oauthError: error?.oauthError,
			message: error?.message,
			causeCode: error?.cause?.code,
			renderings: renderings(error),
		});
	}
});
