import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The examples import the package by name, as an application does; in this repository's tests the name means
  // the sources (as in tsconfig.json's `paths`). Tests of the built package import dist/ explicitly.
  resolve: {
    alias: [{ find: /^tasker$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }],
  },
  test: {
    // test/: the engine, API, CLI and browser tests; ui/test/: the dashboard's own logic (pure, no DOM).
    include: ['test/**/*.test.ts', 'ui/test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    env: { TASKER_ENV: 'test' },
  },
});
