// ESLint with typescript-eslint's strict, type-checked rules: in a library about concurrency, the
// type-aware checks (floating or misused promises, unsafe any) are the ones that find real bugs.
// Formatting is Prettier's job (npm run format:check), so no stylistic rules here.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{ignores: ['dist/', 'coverage/', 'node_modules/', '.readme-check/', 'docs/']},
	eslint.configs.recommended,
	...tseslint.configs.strictTypeChecked,
	{
		languageOptions: {
			parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname},
		},
		rules: {
			'@typescript-eslint/restrict-template-expressions': ['error', {allowNumber: true}],
		},
	},
	{
		// Tests index into arrays they just filled; noUncheckedIndexedAccess makes `!` the honest spelling.
		files: ['__tests__/**/*.ts'],
		rules: {'@typescript-eslint/no-non-null-assertion': 'off'},
	},
	{
		// Plain JavaScript (scripts, demo, bench, test helpers): no type information to check against.
		files: ['**/*.mjs', '**/*.cjs'],
		...tseslint.configs.disableTypeChecked,
		rules: {...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off'},
		languageOptions: {
			...tseslint.configs.disableTypeChecked.languageOptions,
			globals: {
				process: 'readonly',
				console: 'readonly',
				Buffer: 'readonly',
				setTimeout: 'readonly',
				clearTimeout: 'readonly',
				setImmediate: 'readonly',
				URL: 'readonly',
				URLSearchParams: 'readonly',
				require: 'readonly',
				__dirname: 'readonly',
				module: 'writable',
				AbortController: 'readonly',
				AbortSignal: 'readonly',
				structuredClone: 'readonly',
				performance: 'readonly',
				queueMicrotask: 'readonly',
				setInterval: 'readonly',
				clearInterval: 'readonly',
				global: 'readonly',
				globalThis: 'readonly',
				TextEncoder: 'readonly',
				TextDecoder: 'readonly',
			},
		},
	},
);
