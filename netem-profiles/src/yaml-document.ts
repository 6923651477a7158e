import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { ConfigError } from './errors';

/** A path into the parsed data: map keys and array indexes. */
export type DataPath = readonly (string | number)[];

/** `['boards', 3, 'site']` -> `boards[3].site`, the form users see in errors. */
export function formatDataPath(path: DataPath): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

/**
 * A parsed YAML file that can turn a data path back into a line number, so
 * that every later check (schema or semantic) reports `file:line: field: ...`.
 */
export class YamlDocument {
  private constructor(
    readonly file: string,
    readonly data: unknown,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static read(file: string): YamlDocument {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, undefined, '', `cannot read: ${(e as Error).message}`);
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    const syntaxError = doc.errors[0];
    if (syntaxError) {
      throw new ConfigError(file, lines.linePos(syntaxError.pos[0]).line, '', syntaxError.message);
    }
    return new YamlDocument(file, doc.toJS(), doc, lines);
  }

  /**
   * Line of the field at `path`, or of its nearest existing ancestor: a missing
   * required field is best reported where its parent mapping starts.
   */
  lineOf(path: DataPath): number | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      const offset = this.offsetOf(path.slice(0, depth));
      if (offset !== undefined) return this.lines.linePos(offset).line;
    }
    return undefined;
  }

  /** A mapping value is located at its key, so `boards:` points at the key line, not the first item. */
  private offsetOf(path: DataPath): number | undefined {
    if (path.length === 0) return this.doc.contents?.range?.[0];
    const parent = path.length === 1 ? this.doc.contents : this.doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      return isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
    }
    if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      return isScalar(item) || isMap(item) || isSeq(item) ? item.range?.[0] : undefined;
    }
    return undefined;
  }

  error(path: DataPath, problem: string): ConfigError {
    return new ConfigError(this.file, this.lineOf(path), formatDataPath(path), problem);
  }
}
