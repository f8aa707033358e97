/**
 * Parsing captured log lines strictly: JSON.parse keeps the last of two equal keys without a word, so a line
 * with a repeated key would pass unnoticed; this parser finds the repeats.
 */

/** The keys that occur more than once in one object anywhere in a JSON text (nested objects included). */
export function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  // One frame per open bracket: the keys seen so far for an object, null for an array.
  const frames: (Set<string> | null)[] = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const keys = frames.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) dups.push(key);
        keys.add(key);
      }
      expectKey = false;
      i = j + 1;
      continue;
    }
    if (c === '{') {
      frames.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      frames.push(null);
    } else if (c === '}' || c === ']') {
      frames.pop();
    } else if (c === ',') {
      expectKey = frames.at(-1) instanceof Set;
    }
    i += 1;
  }
  return dups;
}

/** Parses every line as JSON, failing with the line when a key repeats or it is not JSON. */
export function parseLogLines(lines: readonly string[]): Record<string, unknown>[] {
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const dups = duplicateKeys(line);
      if (dups.length > 0) throw new Error(`duplicate keys ${dups.join(', ')} in log line: ${line}`);
      return JSON.parse(line) as Record<string, unknown>;
    });
}
