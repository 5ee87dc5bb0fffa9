// One process of the fleet of demo/fleet.mjs, using the built package the way an application would:
// `attachVibrantAuth(axios.create(…), {client: new Client({store: new RedisTokenStore(redis)})})`.
// Driven over the harness protocol (harness/rpc.cjs). Commands:
//
//   init({redisUrl, clientOptions, apiOrigin})  connects to Redis, builds the client and the API
//   requests({count})  `count` concurrent GETs: their statuses, or the error's name
//   token()  the client's token (the cached one, or a new one)
//   backoffEndsAt()  when the store's latest back-off ends (epoch ms; 0 if it never failed), from the
//        `failed` events of the package's store channel
import diagnosticsChannel from 'node:diagnostics_channel';
import axios from 'axios';
import {Redis} from 'ioredis';
import {Client, RedisTokenStore, attachVibrantAuth} from 'vibrant-oauth2-client';
import {serve} from '../harness/rpc.cjs';

let client;
let api;
let backoffEndsAt = 0;
diagnosticsChannel.subscribe('vibrant-oauth2-client:store', message => {
	if (message.event === 'failed') {
		backoffEndsAt = Math.max(backoffEndsAt, Date.now() + message.backoffMs);
	}
});

const commands = {
	init({redisUrl, clientOptions, apiOrigin}) {
		const redis = new Redis(redisUrl);
		// An application listens for errors; the store's own timeout bounds every wait.
		redis.on('error', () => {});
		client = new Client({...clientOptions, store: new RedisTokenStore(redis)});
		api = attachVibrantAuth(axios.create({baseURL: apiOrigin}), {client});
		return null;
	},
	/** `count` concurrent GETs: their statuses, or the error's name. */
	async requests({count}) {
		const settled = await Promise.allSettled(Array.from({length: count}, (_, index) => api.get(`/labs/${process.pid}/${index}`)));
		return settled.map(result => (result.status === 'fulfilled' ? result.value.status : (result.reason?.name ?? 'Error')));
	},
	async token() {
		return client.getToken();
	},
	backoffEndsAt: () => backoffEndsAt,
};

serve(commands);
