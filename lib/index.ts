export {Client} from './client.js';
export {CachedToken} from './token.js';
export {VibrantAuthError, VibrantConfigError, VibrantTokenError} from './errors.js';
export type {AuthMethod, ClientOptions} from './config.js';
export type {TokenResponse} from './token.js';
export {attachVibrantAuth, detachVibrantAuth} from './axios.js';
export type {AttachOptions} from './axios.js';
export {withVibrantAuth} from './fetch.js';
export type {FetchFunction, VibrantFetch, VibrantRequestInit, WithVibrantAuthOptions} from './fetch.js';
