#!/usr/bin/env node
// Builds the package: the library and CLI (src/ → dist/), the runnable examples (examples/ → dist/examples/,
// with their templates and data), and the web dashboard (ui/ → dist/ui/, bundled by Vite; the API server serves
// it at /ui), so that an installed package runs compiled JavaScript only and fetches nothing at run time. dist/ is emptied
// first: files of removed sources must not linger in a published package. `prepare` runs this, so installs
// from a git URL build too.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(`${root}dist`, { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.examples.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
}
for (const dir of ['templates', 'data']) {
  cpSync(`${root}examples/${dir}`, `${root}dist/examples/${dir}`, { recursive: true });
}
// The dashboard: Vite is a devDependency, present wherever `prepare` runs (a checkout or a git install).
const { build } = await import('vite');
await build({ configFile: `${root}ui/vite.config.ts`, logLevel: 'warn' });
