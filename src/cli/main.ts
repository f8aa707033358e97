/** Entry point of the `tasker` command (see `bin/tasker.js`). */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
// Long-running commands return no code and keep the process alive until a signal.
if (code !== undefined) process.exitCode = code;
