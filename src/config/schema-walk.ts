import { z } from 'zod';
import { taskerConfigSchema } from './schema.js';

/**
 * Structural walks over the config schema, shared by the loader (type-directed coercion, typo
 * suggestions) and the documentation generator.
 *
 * @internal
 */

/** A scalar leaf of the schema with the facts the docs need. @internal */
export interface SchemaLeaf {
  key: string;
  kind: 'integer' | 'number' | 'boolean' | 'string' | 'enum' | 'array';
  minimum?: number;
  maximum?: number;
  values?: readonly string[];
  description: string;
}

/** A table (object) of the schema. @internal */
export interface SchemaTable {
  key: string;
  description: string;
}

/** The zod schema at a dotted path, or undefined when the path is not in the schema. @internal */
export function schemaAt(path: string): z.ZodType | undefined {
  let current: z.ZodType = taskerConfigSchema;
  if (path === '') return current;
  for (const part of path.split('.')) {
    if (!(current instanceof z.ZodObject)) return undefined;
    const shape = current.shape as Record<string, z.ZodType>;
    if (!Object.hasOwn(shape, part)) return undefined;
    const next = shape[part];
    if (next === undefined) return undefined;
    current = next;
  }
  return current;
}

/** Keys allowed in the table at `path` (for "did you mean" hints). @internal */
export function tableKeysAt(path: string): string[] {
  const schema = schemaAt(path);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** Every table and leaf of the schema, depth-first in declaration order. @internal */
export function walkSchema(): { tables: SchemaTable[]; leaves: SchemaLeaf[] } {
  const tables: SchemaTable[] = [];
  const leaves: SchemaLeaf[] = [];
  const visit = (schema: z.ZodType, key: string): void => {
    const description = schema.description ?? '';
    if (schema instanceof z.ZodObject) {
      if (key !== '') tables.push({ key, description });
      for (const [child, sub] of Object.entries<z.ZodType>(schema.shape)) {
        visit(sub, key === '' ? child : `${key}.${child}`);
      }
      return;
    }
    leaves.push(describeLeaf(schema, key, description));
  };
  visit(taskerConfigSchema, '');
  return { tables, leaves };
}

function describeLeaf(schema: z.ZodType, key: string, description: string): SchemaLeaf {
  if (schema instanceof z.ZodNumber) {
    const leaf: SchemaLeaf = { key, kind: schema.isInt ? 'integer' : 'number', description };
    // `.int()` alone makes zod report the safe-integer limits as bounds; only explicit bounds are documented.
    if (
      schema.minValue !== null &&
      Number.isFinite(schema.minValue) &&
      schema.minValue > Number.MIN_SAFE_INTEGER
    ) {
      leaf.minimum = schema.minValue;
    }
    if (
      schema.maxValue !== null &&
      Number.isFinite(schema.maxValue) &&
      schema.maxValue < Number.MAX_SAFE_INTEGER
    ) {
      leaf.maximum = schema.maxValue;
    }
    return leaf;
  }
  if (schema instanceof z.ZodBoolean) return { key, kind: 'boolean', description };
  if (schema instanceof z.ZodEnum) {
    return { key, kind: 'enum', values: schema.options.map(String), description };
  }
  if (schema instanceof z.ZodString) return { key, kind: 'string', description };
  // Arrays (e.g. the API keys, an array of tables) are documented as one key; their element's fields are
  // described in the key's own description.
  if (schema instanceof z.ZodArray) return { key, kind: 'array', description };
  // A new schema construct must be taught here; failing loudly keeps the generated docs honest.
  throw new Error(`config schema leaf '${key}' has a type the docs walker does not know`);
}
