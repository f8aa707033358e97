/**
 * Progress of a task being waited on: which steps are done, failed and running now, kept up to date from the
 * event stream, and drawn as a one-line bar for terminals.
 */
import type { TaskBody, TransitionBody } from '../client/index.js';
import { truncate } from './format.js';

/** Step states that count as done for the bar (the task no longer waits for them). */
const DONE_STATES = new Set(['complete', 'resolved_manually']);
const FAILED_STATES = new Set(['error']);
const RUNNING_STATES = new Set(['in_progress']);

/**
 * Step and task states as the stream reports them. The task's event stream replays every transition from
 * the start, so the states begin at `pending` and the replay brings them up to date; starting from a task
 * read earlier would let the replay move them backwards.
 */
export class TaskProgress {
  readonly #steps = new Map<string, string>();
  #taskState = 'pending';

  constructor(task: Pick<TaskBody, 'steps'>) {
    for (const s of task.steps) this.#steps.set(s.name, 'pending');
  }

  /** Records a transition; returns true when it changed what the bar shows. */
  apply(t: TransitionBody): boolean {
    if (t.entity === 'task') {
      const changed = this.#taskState !== t.to_state;
      this.#taskState = t.to_state;
      return changed;
    }
    if (t.step_name === null) return false;
    const changed = this.#steps.get(t.step_name) !== t.to_state;
    this.#steps.set(t.step_name, t.to_state);
    return changed;
  }

  get total(): number {
    return this.#steps.size;
  }

  get done(): number {
    return this.#count(DONE_STATES);
  }

  get failed(): number {
    return this.#count(FAILED_STATES);
  }

  get taskState(): string {
    return this.#taskState;
  }

  /** Names of the steps running right now, in template order. */
  running(): string[] {
    return [...this.#steps].filter(([, state]) => RUNNING_STATES.has(state)).map(([name]) => name);
  }

  #count(states: ReadonlySet<string>): number {
    let n = 0;
    for (const state of this.#steps.values()) if (states.has(state)) n += 1;
    return n;
  }

  /**
   * The bar line, at most `columns - 1` wide (writing into the last column makes some terminals wrap):
   * `[██████░░░░░░] 3/8 steps · 1 failed · running: a, b`.
   */
  render(columns: number, options: { unicode?: boolean; barWidth?: number } = {}): string {
    const unicode = options.unicode !== false;
    const barWidth = options.barWidth ?? 24;
    const total = Math.max(1, this.total);
    const filled = Math.round((this.done / total) * barWidth);
    const bar = unicode
      ? `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`
      : `${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}`;
    const parts = [`[${bar}] ${this.done}/${this.total} steps`];
    if (this.failed > 0) parts.push(`${this.failed} failed`);
    const running = this.running();
    parts.push(running.length > 0 ? `running: ${running.join(', ')}` : this.#taskState);
    return truncate(parts.join(unicode ? ' · ' : ' | '), Math.max(10, columns - 1));
  }
}

/** ANSI: carriage return and erase the whole line, so the bar is redrawn in place. */
export const CLEAR_LINE = '\r\x1b[2K';
