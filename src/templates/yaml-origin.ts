/**
 * Mapping issues back to the file: where each normalized field came from (which alias, which list index), the
 * YAML path of a path over the normalized template, and the line a YAML path starts on.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './path.js';
import type { RetryPolicy } from './types.js';
import { RETRY_YAML_KEY } from './yaml-keys.js';

/** Where each normalized field came from in the file, to report issues against the keys the author wrote. */
export interface StepOrigin {
  yamlIndex: number;
  handlerShorthand: boolean;
  typeKey: string;
  depsKey: string;
  /** Normalized dependency index → index in the YAML list (they differ once duplicates are dropped). */
  depIndex: number[];
  retryKeys: Partial<Record<keyof RetryPolicy, string>>;
  /** Normalized event index → [index in the YAML list, key its delivery was spelled with]. */
  events: [number, string][];
}

/** Where the template's own fields and each of its steps came from. */
export interface Origin {
  namespaceKey: string;
  steps: StepOrigin[];
}

/** Maps a path over the normalized template back to the keys the YAML file used. */
export function toYamlPath(path: readonly PathSegment[], origin: Origin): PathSegment[] {
  const [head, ...rest] = path;
  if (head === 'namespace') return [origin.namespaceKey, ...rest];
  if (head !== 'steps' || typeof rest[0] !== 'number') return [...path];
  const step = origin.steps[rest[0]];
  if (step === undefined) return ['steps'];
  const [field, ...tail] = rest.slice(1);
  const base: PathSegment[] = ['steps', step.yamlIndex];
  switch (field) {
    case undefined:
      return base;
    case 'handler':
      return step.handlerShorthand ? [...base, 'handler'] : [...base, 'handler', 'callable'];
    case 'inputs':
      return [...base, 'handler', 'initialization', ...tail];
    case 'type':
      return [...base, step.typeKey];
    case 'timeoutMs':
      return [...base, 'timeout_seconds'];
    case 'batch': {
      const [f] = tail;
      const key =
        f === 'failureStrategy' ? 'failure_strategy' : f === 'batchSize' ? 'batch_size' : 'max_batches';
      return f === undefined ? [...base, 'batch_config'] : [...base, 'batch_config', key];
    }
    case 'publishesEvents': {
      const [k, key, ...more] = tail;
      const origin = typeof k === 'number' ? step.events[k] : undefined;
      if (!origin) return [...base, 'publishes_events', ...tail];
      return [...base, 'publishes_events', origin[0], key === 'delivery' ? origin[1] : key, ...more].filter(
        (p) => p !== undefined,
      );
    }
    case 'dependsOn': {
      const [j] = tail;
      return typeof j === 'number' ? [...base, step.depsKey, step.depIndex[j] ?? j] : [...base, step.depsKey];
    }
    case 'retry': {
      const [f] = tail;
      if (typeof f !== 'string' || !Object.hasOwn(RETRY_YAML_KEY, f)) return [...base, 'retry'];
      const k = f as keyof RetryPolicy;
      return [...base, 'retry', step.retryKeys[k] ?? RETRY_YAML_KEY[k]];
    }
    default:
      return [...base, field, ...tail];
  }
}

/**
 * The 1-based line of the deepest node on `path` that exists in the document: the key's line for a mapping
 * entry, the item's line for a list entry. A path into a default the file does not contain falls back to the
 * nearest enclosing key.
 */
export function lineOf(doc: Document, lc: LineCounter, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  const lineAt = (n: unknown): number | undefined => {
    const range = (n as Node | null)?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      line = lineAt(item) ?? line;
      node = item;
    } else {
      break;
    }
  }
  return line;
}
