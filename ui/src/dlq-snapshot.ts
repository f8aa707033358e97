/** What a dead-letter entry's task snapshot says, read defensively (snapshots are stored JSON). */
import type { DlqEntryBody } from './api-types.js';

export interface DlqSummary {
  /** `namespace/name`, when the snapshot names them. */
  template: string | undefined;
  version: string | undefined;
  /** The step whose failure ended the task. */
  stepName: string | undefined;
  stepUuid: string | undefined;
  /** The failure's message. */
  message: string | undefined;
  code: string | undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function obj(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function dlqSummary(entry: DlqEntryBody): DlqSummary {
  const snap = obj(entry.task_snapshot);
  const failure = obj(snap.error);
  const error = obj(failure.error);
  const ns = str(snap.namespace);
  const name = str(snap.task_name) ?? str(snap.name);
  return {
    template: ns && name ? `${ns}/${name}` : name,
    version: str(snap.version),
    stepName: str(failure.step_name),
    stepUuid: str(failure.step_uuid),
    message: str(error.message),
    code: str(error.code),
  };
}
