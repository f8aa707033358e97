/** Small waiting helpers for end-to-end tests (generous limits; nothing asserts on time). */

/** Resolves once `check` holds; fails with `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolve function, for handlers a test holds and lets go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Counts handler executions per task and step. */
export class Executions {
  readonly #counts = new Map<string, number>();

  record(taskUuid: string, stepName: string): number {
    const key = `${taskUuid}/${stepName}`;
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, n);
    return n;
  }

  of(taskUuid: string, stepName: string): number {
    return this.#counts.get(`${taskUuid}/${stepName}`) ?? 0;
  }

  get total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }
}
