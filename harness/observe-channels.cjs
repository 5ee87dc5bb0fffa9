// Subscribes to every channel of the package (the token tracing channel, unauthorized, store) and
// hands each message to `onMessage(channel, message)` as it is published: a trace's context gains
// `result` or `error` on the way, so a test that scans messages must render them then. Returns the
// function that unsubscribes.
'use strict';
const diagnosticsChannel = require('node:diagnostics_channel');

function observeChannels(onMessage) {
	const record = channel => message => {
		onMessage(channel, message);
	};

	const tracing = diagnosticsChannel.tracingChannel('vibrant-oauth2-client:token');
	const traceHandlers = {
		start: record('token:start'),
		end: record('token:end'),
		asyncStart: record('token:asyncStart'),
		asyncEnd: record('token:asyncEnd'),
		error: record('token:error'),
	};
	const channels = {'vibrant-oauth2-client:unauthorized': record('unauthorized'), 'vibrant-oauth2-client:store': record('store')};
	tracing.subscribe(traceHandlers);
	for (const [name, handler] of Object.entries(channels)) {
		diagnosticsChannel.subscribe(name, handler);
	}

	return () => {
		tracing.unsubscribe(traceHandlers);
		for (const [name, handler] of Object.entries(channels)) {
			diagnosticsChannel.unsubscribe(name, handler);
		}
	};
}

module.exports = {observeChannels};
