/**
 * A task step's uuid, derived from the task's uuid and the step's name exactly as `tasker.step_uuid_for` derives
 * it in SQL (sql/functions/step_uuid_for.sql, ADR 0011): a worker that runs a chain of steps locally knows the
 * uuid of a step it starts before that step's row is claimed. Steps created later (batch instances) have uuids
 * of their own.
 */
import { hash } from 'node:crypto';

/** The uuid `create_task` gave the step `stepName` of the task `taskUuid`. */
export function stepUuidFor(taskUuid: string, stepName: string): string {
  // one-shot digest (no Hash object): this runs for every step a worker chains
  const h = hash('md5', `${taskUuid}/${stepName}`, 'hex');
  const hex = taskUuid.replaceAll('-', '').slice(0, 16) + '89ab'[parseInt(h[0]!, 16) % 4]! + h.slice(1, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
