// Subscribes to every channel of the package (the token tracing channel, unauthorized, store) and
// hands each message to `onMessage(channel, message)` as it is published: a trace's context gains
// `result` or `error` on the way, so a test that scans messages must render them then.
'use strict';
const diagnosticsChannel = require('node:diagnostics_channel');

function observeChannels(onMessage) {
	const record = channel => message => {
		onMessage(channel, message);
	};

	diagnosticsChannel.tracingChannel('vibrant-oauth2-client:token').subscribe({
		start: record('token:start'),
		end: record('token:end'),
		asyncStart: record('token:asyncStart'),
		asyncEnd: record('token:asyncEnd'),
		error: record('token:error'),
	});
	diagnosticsChannel.subscribe('vibrant-oauth2-client:unauthorized', record('unauthorized'));
	diagnosticsChannel.subscribe('vibrant-oauth2-client:store', record('store'));
}

module.exports = {observeChannels};
