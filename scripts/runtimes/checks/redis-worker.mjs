// One process of a fleet sharing a RedisTokenStore (argv[2]: ioredis or node-redis): 5 concurrent
// callers, then its Redis connection is closed. The parent starts two of them at once and counts
// one token request in all.
import diagnosticsChannel from 'node:diagnostics_channel';
import {Client, RedisTokenStore} from 'vibrant-oauth2-client';
import {check, main, settings} from './common.mjs';

const library = process.argv[2];

await main(async () => {
	const {clientId, clientSecret, tokenUrl, redisUrl, cell} = settings;
	const events = [];
	diagnosticsChannel.subscribe('vibrant-oauth2-client:store', message => events.push(message.event));
	let redis;
	let close;
	if (library === 'ioredis') {
		const {Redis} = await import('ioredis');
		redis = new Redis(redisUrl, {maxRetriesPerRequest: 1});
		close = () => redis.quit();
	} else if (library === 'node-redis') {
		const {createClient} = await import('redis');
		redis = createClient({url: redisUrl});
		redis.on('error', () => {});
		await redis.connect();
		close = () => (typeof redis.close === 'function' ? redis.close() : redis.quit());
	} else {
		throw new Error(`unknown Redis library ${library}`);
	}

	try {
		const client = new Client({clientId, clientSecret, tokenUrl, store: new RedisTokenStore(redis, {prefix: `runtimes-${cell}`})});
		const tokens = await Promise.all(Array.from({length: 5}, () => client.getToken()));
		check(new Set(tokens).size === 1, `callers got ${new Set(tokens).size} tokens`);
		return {detail: events.join(',') || 'no store event', data: {token: tokens[0], events}};
	} finally {
		await close();
	}
});
