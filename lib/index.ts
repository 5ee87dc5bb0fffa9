export {Client} from './client.js';
export {CachedToken} from './token.js';
export {VibrantAuthError, VibrantConfigError, VibrantTokenError} from './errors.js';
export type {AuthMethod, ClientOptions} from './config.js';
export type {GetTokenOptions} from './client.js';
export {RedisTokenStore} from './redis-store.js';
export type {RedisClientLike, RedisTokenStoreOptions} from './redis-store.js';
export type {TokenStore} from './token-store.js';
export type {TokenResponse} from './token.js';
export {attachVibrantAuth, detachVibrantAuth} from './axios.js';
export type {AttachOptions} from './axios.js';
export type {StoreEventMessage, TokenRequestReason, TokenRequestTrace, UnauthorizedMessage} from './diagnostics.js';
export {withVibrantAuth} from './fetch.js';
export type {FetchFunction, VibrantFetch, VibrantRequestInit, WithVibrantAuthOptions} from './fetch.js';

// The ESM entry (dist/esm/index.js) hands over the axios the application imported, so that an ES
// module application loads one copy of axios; a symbol, not an export name.
import {provideAxios, provideAxiosKey} from './axios-module.js';
import {Client as ClientClass} from './client.js';

Object.defineProperty(ClientClass, provideAxiosKey, {value: provideAxios});
