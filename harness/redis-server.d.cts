import type {Redis} from 'ioredis';

/** Whether `redis-server` can be run here. */
export function hasRedisServer(): boolean;

/** A redis-server of our own (see redis-server.cjs). */
export type RedisServer = {
	readonly port: number;
	/** `redis://127.0.0.1:<port>` */
	readonly url: string;
	/** The server's `redis_version`. */
	readonly version: string;
	/** An admin connection (ioredis), for the caller's own commands. */
	readonly admin: Redis;
	/** SIGSTOP: the server keeps its sockets but answers nothing. */
	pause(): void;
	/** SIGCONT. */
	resume(): void;
	/** Closes the admin connection, kills the server and removes its directory (once). */
	stop(): Promise<void>;
};

export type RedisServerOptions = {
	/** Added to the command line, such as `['--databases', '64']`. */
	readonly args?: readonly string[];
	/** A cluster node (cluster-enabled, with a free bus port). */
	readonly cluster?: boolean;
};

/** Starts redis-server on a free loopback port and waits until it answers PING. */
export function startRedisServer(options?: RedisServerOptions): Promise<RedisServer>;

export type RedisCluster = {
	readonly nodes: readonly RedisServer[];
	stop(): Promise<void>;
};

/** A real cluster of three masters (no replicas), created with `redis-cli --cluster create`. */
export function startRedisCluster(): Promise<RedisCluster>;

/** A key of the database, its value and its remaining time to live (ms; -1 means none). */
export type KeyDump = {key: string; value: string; pttl: number};

/** Every key of the connection's database, with its value and remaining time to live. */
export function dumpKeys(connection: Redis): Promise<KeyDump[]>;

/** The commands the server ran since the last `CONFIG RESETSTAT`, by name, with their call counts. */
export function commandStats(connection: Redis): Promise<Record<string, number>>;
