/**
 * The TypeScript side of the names contract (src/contract/names.ts): src/ spells no shared name as a loose
 * literal (it uses the contract's constants and builders), every worker failure code is recorded by the worker,
 * and the worker gets no names from orchestration code. The SQL side is checked by names-contract.test.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  FAILURE_CODES,
  QUEUES,
  SQL_ERROR_STATES,
  STEP_ACTIONS,
  WORKER_FAILURE_CODES,
} from '../../src/contract/names.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

let sources: { file: string; text: string }[];
beforeAll(async () => {
  const files = (await readdir(SRC, { recursive: true })).filter((f) => f.endsWith('.ts')).sort();
  sources = await Promise.all(
    files.map(async (f) => ({ file: `src/${f}`, text: await readFile(`${SRC}${f}`, 'utf8') })),
  );
});

/** `file:line: the line` of every match of `pattern` in the files `where` selects. */
function occurrences(pattern: RegExp, where: (file: string) => boolean): string[] {
  return sources
    .filter((s) => where(s.file))
    .flatMap((s) =>
      s.text
        .split('\n')
        .map((line, i) => ({ line, at: `${s.file}:${i + 1}` }))
        .filter(({ line }) => pattern.test(line))
        .map(({ line, at }) => `${at}: ${line.trim()}`),
    );
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const outsideContract = (file: string): boolean => !file.startsWith('src/contract/');

describe('src/ uses the contract for the names it shares with SQL', () => {
  it('no file outside src/contract spells a failure code, channel, queue or SQLSTATE as a literal', () => {
    const names = [
      ...Object.values(FAILURE_CODES),
      ...Object.values(CHANNELS),
      ...Object.values(QUEUES),
      ...Object.values(SQL_ERROR_STATES),
    ];
    const literal = new RegExp(`['"](?:${names.map(escape).join('|')})['"]`);
    expect(occurrences(literal, outsideContract)).toEqual([]);
  });

  it('no file outside src/contract builds a worker queue, domain events queue or queue channel name', () => {
    expect(occurrences(/worker_\$\{|domain_events_\$\{|tasker_q_\$\{/, outsideContract)).toEqual([]);
  });

  it('step actions are spelled out only by the HTTP API, its client and the CLI (their wire names)', () => {
    const literal = new RegExp(`['"](?:${Object.values(STEP_ACTIONS).map(escape).join('|')})['"]`);
    const wire = /^src\/(api|client|cli)\//;
    expect(occurrences(literal, (f) => outsideContract(f) && !wire.test(f))).toEqual([]);
  });

  it('every worker failure code is recorded by src/worker, through the contract', () => {
    const worker = sources.filter((s) => s.file.startsWith('src/worker/')).map((s) => s.text);
    const missing = Object.keys(WORKER_FAILURE_CODES).filter(
      (key) => !worker.some((t) => t.includes(`FAILURE_CODES.${key}`) || t.includes(`'${key}'`)),
    );
    expect(missing).toEqual([]);
  });

  it('the worker imports no names from orchestration code', () => {
    const imports = occurrences(/from '\.\.\/orchestration\//, (f) => f.startsWith('src/worker/'));
    // Registering the worker's templates is the one orchestration operation a worker performs.
    expect(imports.filter((line) => !/import \{ registerTemplate \} from/.test(line))).toEqual([]);
  });
});
