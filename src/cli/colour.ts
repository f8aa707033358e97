/** Colour in CLI output: only on a terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb. */
import { styleText } from 'node:util';

/** The few styles the CLI uses; each is the identity when colour is off. */
export interface Palette {
  readonly enabled: boolean;
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const identity = (text: string): string => text;

/** No colour at all (files, pipes, tests). */
export const PLAIN: Palette = {
  enabled: false,
  ok: identity,
  bad: identity,
  warn: identity,
  dim: identity,
  bold: identity,
};

type Format = Parameters<typeof styleText>[0];

/** The palette for output going to a stream that `isTTY` or not, under environment `env`. */
export function paletteFor(isTTY: boolean, env: NodeJS.ProcessEnv): Palette {
  if (!isTTY || (env.NO_COLOR ?? '') !== '' || env.TERM === 'dumb') return PLAIN;
  // We decide about the stream ourselves; newer Node versions would otherwise check process.stdout again.
  const style =
    (format: Format) =>
    (text: string): string =>
      styleText(format, text, { validateStream: false });
  return {
    enabled: true,
    ok: style('green'),
    bad: style('red'),
    warn: style('yellow'),
    dim: style('dim'),
    bold: style('bold'),
  };
}

/** Colours a task or step state by what it means: done, failed, waiting or not run. */
export function styleState(palette: Palette, state: string): string {
  if (state === 'complete' || state === 'resolved_manually') return palette.ok(state);
  if (state === 'error' || state === 'cancelled') return palette.bad(state);
  if (state === 'skipped') return palette.dim(state);
  if (state === 'waiting_for_retry' || state === 'blocked_by_failures') return palette.warn(state);
  return state;
}

/** Removes colour codes, so width computations see what the terminal shows. */
export function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
