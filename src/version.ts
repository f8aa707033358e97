/** The package's version, from its package.json (one directory above both src/ and dist/). */
import { readFileSync } from 'node:fs';

/** The installed package's version, as `tasker --version` prints it. */
export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
