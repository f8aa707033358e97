/**
 * What template validation checks against and reports with: the name patterns and size limits (namespaces
 * become queue names, so they are bounded by PostgreSQL's identifier length), the options, and the internal
 * issue form whose paths are segment lists over the normalized template.
 */
import type { PathSegment } from './path.js';

/** Namespaces become queue names, and the queue table name must stay under PostgreSQL's 63-byte limit. */
export const NAMESPACE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const NAMESPACE_MAX_LENGTH = 29;
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const TEMPLATE_NAME_MAX_LENGTH = 64;
export const STEP_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const STEP_NAME_MAX_LENGTH = 128;
export const VERSION_MAX_LENGTH = 50;
export const HANDLER_MAX_LENGTH = 500;
/** Domain event names: dotted lowercase words, e.g. `payment.processed`. */
export const EVENT_NAME_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
export const EVENT_NAME_MAX_LENGTH = 200;
/** Strict semantic versioning 2.0.0: `MAJOR.MINOR.PATCH`, optional `-prerelease` and `+build`, no leading zeros. */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Options of `validateTemplate`. */
export interface ValidateOptions {
  /** When given, every step's handler must be in this set. */
  handlerNames?: ReadonlySet<string>;
  /** Recorded on every issue (a file name, or any label). */
  source?: string;
  /** When given, decision steps may nest at most this deep (`orchestration.decision_points.max_depth`). */
  maxDecisionDepth?: number;
}

/** An issue whose path is still a segment list over the normalized template (internal form). */
export interface RawIssue {
  path: PathSegment[];
  message: string;
  /** Set on issues about the dependency graph (duplicate names, bad dependencies, cycles). */
  graph?: true;
}

/** Records an issue at a path over the normalized template. */
export type AddIssue = (path: PathSegment[], message: string) => void;
