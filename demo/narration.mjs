// What both demos print and check: a line of narration at a time, every count compared with what it
// must be, and at the end either the success line or every mismatch (exit code 1).

/** A fresh narration: `print(line)`, `expectCount(label, actual, expected)`, `failures`, `finish(successLine)`. */
export function narration() {
	const failures = [];
	return {
		failures,
		print(line) {
			console.log(line);
		},
		/** Records a mismatch; returns the actual value for the narration. */
		expectCount(label, actual, expected) {
			if (actual !== expected) {
				failures.push(`${label}: expected ${expected}, got ${actual}`);
			}

			return actual;
		},
		/** Prints `successLine`, or every mismatch on stderr and sets the exit code to 1. */
		finish(successLine) {
			if (failures.length === 0) {
				console.log(successLine);
				return;
			}

			for (const failure of failures) {
				console.error(`FAILED ${failure}`);
			}

			process.exitCode = 1;
		},
	};
}
