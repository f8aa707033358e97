#!/usr/bin/env node
// Runs the CLI through tsx so that user handler and template modules written in TypeScript load as-is.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
