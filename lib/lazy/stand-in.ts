// Helpers for the stand-ins in this folder. In the build (scripts/build.mjs), a core module that
// imports one of the modules loaded on first use (lib/fetch.ts, lib/redis-store.ts, …) gets the
// stand-in of the same name here instead: same export names and types, and a `require()` of the
// real module's own file (dist/cjs/<name>.js) the first time one of them is used.

let core: object | undefined;
/** Where a lazy file finds the core that required it (scripts/build.mjs reads it there). */
const coreKey = Symbol.for('vibrant-oauth2-client.core');

/**
 * Hands this copy of the core's modules to the lazy files it requires (the core entry calls it).
 *
 * @internal
 */
export function provideCore(modules: object): void {
	core = modules;
}

/**
 * Requires a lazy file with this copy of the core handed over: the file uses the modules (and
 * so the error classes) of the core that required it, even when the module registry was reset
 * in between (Jest's `resetModules`, a cleared `require.cache`) and `./index.js` would now be a new
 * copy. `require` is synchronous, so no other require sees the handover.
 *
 * @internal
 */
export function withCore<T>(load: () => T): T {
	const global = globalThis as Record<symbol, unknown>;
	const previous = global[coreKey];
	global[coreKey] = core;
	try {
		return load();
	} finally {
		global[coreKey] = previous;
	}
}

/**
 * A function that requires its real implementation on its first call and forwards every call to
 * it (the loader caches the module; `get` is a property read).
 *
 * @internal
 */
export function lazyFunction<F extends (...arguments_: never[]) => unknown>(get: () => F): F {
	return ((...arguments_: Parameters<F>) => get()(...arguments_)) as F;
}

/**
 * A class whose real implementation is required on the first `new`. Each instance is made by the
 * real constructor (its fields, private fields and methods), with the stand-in's prototype, which
 * inherits from the real prototype from then on: `instanceof` holds for the stand-in (the exported
 * class) and for the real class, and subclasses of the stand-in work.
 *
 * @internal
 */
export function lazyClass<C extends abstract new (...arguments_: never[]) => object>(name: string, get: () => C): C {
	let linked = false;
	// A class, not a function: calling it without `new` throws, as calling the real one does.
	// eslint-disable-next-line @typescript-eslint/no-extraneous-class -- its instances are the real class's.
	const standIn = class {
		constructor(...arguments_: unknown[]) {
			const real = get();
			if (!linked) {
				linked = true;
				Object.setPrototypeOf(standIn.prototype, real.prototype as object);
				Object.setPrototypeOf(standIn, real);
			}

			// The object the real constructor builds, with the prototype `new` asked for.
			return Reflect.construct(real, arguments_, new.target) as object;
		}
	};
	Object.defineProperty(standIn, 'name', {value: name});
	return standIn as unknown as C;
}
