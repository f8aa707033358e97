#!/usr/bin/env node
// The `tasker` command: runs the compiled CLI in dist/ (no TypeScript loader at run time). A `.ts` handlers or
// templates module given to it is loaded through the optional `tsx` package, only then.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'tasker: the package is not built (dist/cli/main.js is missing): run `npm run build` in ' +
      `${new URL('..', import.meta.url).pathname}\n`,
  );
  process.exit(1);
}
await import(main.href);
