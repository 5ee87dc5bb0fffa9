import type {Config} from 'jest';

const config: Config = {
	testEnvironment: 'node',
	roots: ['<rootDir>/__tests__'],
	testMatch: ['**/*.test.ts'],
	setupFiles: ['<rootDir>/__tests__/helpers/clean-environment.ts'],
	globalSetup: '<rootDir>/__tests__/helpers/global-setup.ts',
	transform: {
		// p-memoize and mimic-function are ESM-only: ts-jest compiles them to CommonJS for Jest.
		'^.+\\.[tj]s$': [
			'ts-jest',
			{
				tsconfig: {
					module: 'commonjs',
					moduleResolution: 'node10',
					allowJs: true,
					isolatedModules: true,
				},
			},
		],
	},
	transformIgnorePatterns: ['/node_modules/(?!(p-memoize|mimic-function)/)'],
	moduleNameMapper: {
		// Sources import './x.js' (as Node's ESM resolution needs); Jest resolves the .ts file.
		'^(\\.{1,2}/.*)\\.js$': '$1',
	},
	testTimeout: 20_000,
};

export default config;
