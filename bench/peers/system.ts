import type { Shape } from './shapes.js';

/** One system under test, started on its own fresh database. */
export interface PeerSystem {
  readonly label: string;
  /** Submits one run of `shape`; resolves when the run has finished (its last commit was announced). */
  run(shape: Shape, index: number): Promise<void>;
  /** Submits `count` runs at once (as concurrently as the system's client allows); resolves when all finished. */
  runMany(shape: Shape, count: number, offset: number): Promise<void>;
  stop(): Promise<void>;
}
