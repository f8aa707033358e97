#!/usr/bin/env node
// The `tasker` CLI run from the TypeScript sources through tsx, for working on this repository (`npm run tasker`
// and the tests use it, so they never depend on a stale dist/). The published bin (bin/tasker.js) runs dist/.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
