/**
 * A cheap stand-in for `AbortController` on the per-step path. Every step has a cancellation and every attempt
 * a signal, but almost none is ever aborted; Node's `AbortController` and `EventTarget` listeners cost more than
 * a quick handler itself. Here listeners are plain callbacks, and the `AbortSignal` is only made when someone
 * asks for it (a handler reading `ctx.signal`, a thread handler), already aborted if the aborter was.
 */
export class Aborter {
  #aborted = false;
  #reason: unknown;
  #listeners: Set<(reason: unknown) => void> | undefined;
  #controller: AbortController | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was aborted (undefined until then). */
  get reason(): unknown {
    return this.#reason;
  }

  /** The `AbortSignal` that follows this aborter, made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts once (later calls are ignored): the signal, if made, then each listener, synchronously. */
  abort(reason: unknown = abortError()): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /**
   * Calls `listener` with the reason when this aborts (at once if it already has). Returns the function that
   * removes it.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.#aborted) {
      listener(this.#reason);
      return noop;
    }
    (this.#listeners ??= new Set()).add(listener);
    return () => this.#listeners?.delete(listener);
  }
}

function noop(): void {}

/** The reason `AbortController.abort()` gives when called without one. */
function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
