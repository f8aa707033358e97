import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A readable, unique id for one orchestrator, worker or client (Tasker connection), recorded in the audit trail. */
export function newProcessId(role: 'orchestrator' | 'worker' | 'client'): string {
  return `${role}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}
