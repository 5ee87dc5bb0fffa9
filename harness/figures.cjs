// Figures for the bench and the demo: samples summarised, failures counted, rows printed.
'use strict';

/** `value` rounded to `digits` decimals. */
function round(value, digits = 1) {
	return Math.round(value * 10 ** digits) / 10 ** digits;
}

/** The median of `values` (the mean of the middle two for an even count). */
function median(values) {
	const sorted = Float64Array.from(values).sort();
	const middle = sorted.length >> 1;
	return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The `q`-quantile of `values` (nearest rank, 0 ≤ q ≤ 1). */
function quantile(values, q) {
	const sorted = Float64Array.from(values).sort();
	return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** How often each item occurs: `{item: count}`. */
function countBy(items) {
	const counts = {};
	for (const item of items) {
		counts[item] = (counts[item] ?? 0) + 1;
	}

	return counts;
}

/** What a failed request counts as: `HTTP 401`, or the error's name and code (or message). */
function failureKind(error) {
	if (error?.response?.status !== undefined) {
		return `HTTP ${error.response.status}`;
	}

	return `${error?.name ?? 'Error'}: ${error?.code ?? error?.message ?? String(error)}`;
}

/** A Markdown table: `headers` and `rows` of cells, each column as wide as its widest cell. */
function table(headers, rows) {
	const widths = headers.map((header, column) => Math.max(header.length, ...rows.map(row => String(row[column]).length)));
	const line = cells => `| ${cells.map((cell, column) => String(cell).padEnd(widths[column])).join(' | ')} |`;
	return [line(headers), `|${widths.map(width => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

module.exports = {countBy, failureKind, median, quantile, round, table};
