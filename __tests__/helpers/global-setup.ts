import {hasRedisServer} from '../../harness/redis-server.cjs';

/**
 * The Redis tests need a real `redis-server`. Without one they are skipped with one loud line, so
 * `npm test` still passes on a newcomer's machine; under CI a missing server is a failure.
 */
export default function globalSetup(): void {
	if (hasRedisServer()) {
		return;
	}

	const notice =
		'redis-server is not installed: the Redis (fleet) tests are SKIPPED. Install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`.';
	if (process.env['CI'] === 'true') {
		throw new Error(`${notice} Under CI=true this is a failure: .ci/run installs it.`);
	}

	process.stderr.write(`\n*** ${notice} ***\n\n`);
}
