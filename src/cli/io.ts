/** Where CLI output goes, so commands never touch `process.stdout` directly and formatting stays testable. */

/** Output streams and terminal facts of one CLI run. */
export interface CliIo {
  /** Writes to standard output (no newline added). */
  out(text: string): void;
  /** Writes to standard error (no newline added). */
  err(text: string): void;
  /** Standard output is a terminal: progress bars and redraws are allowed. */
  readonly isTTY: boolean;
  /** Terminal width in columns (80 when unknown). */
  readonly columns: number;
  readonly env: NodeJS.ProcessEnv;
}

/** The process's own streams. */
export function processIo(): CliIo {
  return {
    out: (text) => {
      process.stdout.write(text);
    },
    err: (text) => {
      process.stderr.write(text);
    },
    isTTY: process.stdout.isTTY === true && process.env.TERM !== 'dumb',
    // A pseudo-terminal without a size reports 0 columns.
    columns: process.stdout.columns || 80,
    env: process.env,
  };
}

/** Prints a line (adds the newline). */
export function println(io: CliIo, text = ''): void {
  io.out(`${text}\n`);
}

/** Prints a line to standard error. */
export function eprintln(io: CliIo, text = ''): void {
  io.err(`${text}\n`);
}

/** Prints a value as indented JSON: the `--json` output of every command. */
export function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}
