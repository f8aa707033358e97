/**
 * What the signed-in principal may do, from `GET /v1/whoami`. The dashboard renders an operator button only
 * when the principal holds the permission its request needs; the API checks again and refuses anyway.
 */
import type { WhoAmI } from './api-types.js';

/** The operator actions the dashboard offers, and the API permission each one needs. */
export const ACTION_PERMISSIONS = {
  cancelTask: 'tasks:cancel',
  bulkCancel: 'tasks:cancel',
  bulkRetryFailed: 'steps:resolve',
  retryStep: 'steps:resolve',
  resolveStep: 'steps:resolve',
  completeStep: 'steps:resolve',
  rerunFrom: 'steps:resolve',
  updateDlq: 'dlq:update',
} as const;

/** An operator action of the dashboard. */
export type OperatorAction = keyof typeof ACTION_PERMISSIONS;

/** The pages of the left navigation and the permission needed to read each. */
export const PAGE_PERMISSIONS = {
  overview: 'tasks:read',
  tasks: 'tasks:read',
  templates: 'templates:read',
  dlq: 'dlq:read',
} as const;

export type PageName = keyof typeof PAGE_PERMISSIONS;

/** True when `principal` holds `permission` (directly or through `*`). */
export function hasPermission(principal: WhoAmI | undefined, permission: string): boolean {
  if (!principal) return false;
  return principal.permissions.includes('*') || principal.permissions.includes(permission);
}

/** True when `principal` may perform the operator `action`. */
export function can(principal: WhoAmI | undefined, action: OperatorAction): boolean {
  return hasPermission(principal, ACTION_PERMISSIONS[action]);
}

/** True when `principal` may perform at least one operator action (otherwise the UI is read-only). */
export function isOperator(principal: WhoAmI | undefined): boolean {
  return (Object.keys(ACTION_PERMISSIONS) as OperatorAction[]).some((a) => can(principal, a));
}

/** The pages `principal` may open, in navigation order. */
export function visiblePages(principal: WhoAmI | undefined): PageName[] {
  return (Object.keys(PAGE_PERMISSIONS) as PageName[]).filter((p) =>
    hasPermission(principal, PAGE_PERMISSIONS[p]),
  );
}
