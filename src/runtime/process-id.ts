import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A readable, unique id for one orchestrator or worker process, recorded in the audit trail. */
export function newProcessId(role: 'orchestrator' | 'worker'): string {
  return `${role}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}
