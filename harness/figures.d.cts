/** `value` rounded to `digits` decimals (1). */
export function round(value: number, digits?: number): number;

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: Iterable<number> | ArrayLike<number>): number;

/** The `q`-quantile of `values` (nearest rank, 0 ≤ q ≤ 1). */
export function quantile(values: Iterable<number> | ArrayLike<number>, q: number): number;

/** How often each item occurs: `{item: count}`. */
export function countBy(items: Iterable<string>): Record<string, number>;

/** What a failed request counts as: `HTTP 401`, or the error's name and code (or message). */
export function failureKind(error: unknown): string;

/** A Markdown table: `headers` and `rows` of cells, each column as wide as its widest cell. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string;
