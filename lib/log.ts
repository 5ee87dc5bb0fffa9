import {debuglog} from 'node:util';

/**
 * `NODE_DEBUG=vibrant` diagnostics on stderr. Never given a secret or a token: only events,
 * URLs without credentials, statuses and error codes.
 *
 * @internal
 */
export const log = debuglog('vibrant');
