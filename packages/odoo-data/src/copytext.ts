/**
 * PostgreSQL's COPY text format (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format"):
 * one line per row ending in "\n", columns separated by "\t", NULL written as `\N`, and the
 * characters backslash, newline, carriage return and tab (and, on input, \b \f \v, octal and hex
 * escapes) written as backslash sequences. Parsing and encoding are done here, streaming, with no
 * per-row promise.
 */
import { StringDecoder } from 'node:string_decoder';

/** Decodes one COPY text field (not `\N`) into its value. */
export function unescapeCopy(field: string): string {
  if (field.indexOf('\\') < 0) return field;
  let out = '';
  let i = 0;
  const n = field.length;
  while (i < n) {
    const j = field.indexOf('\\', i);
    if (j < 0) {
      out += field.slice(i);
      break;
    }
    out += field.slice(i, j);
    const c = field[j + 1];
    i = j + 2;
    switch (c) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(field.slice(i, i + 2));
        if (m) {
          out += String.fromCharCode(Number.parseInt(m[0], 16));
          i += m[0].length;
        } else out += 'x';
        break;
      }
      default:
        if (c !== undefined && c >= '0' && c <= '7') {
          const m = /^[0-7]{1,3}/.exec(field.slice(j + 1, j + 4)) as RegExpExecArray;
          out += String.fromCharCode(Number.parseInt(m[0], 8) & 0xff);
          i = j + 1 + m[0].length;
        } else if (c !== undefined) out += c;
    }
  }
  return out;
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;

/** Encodes one value for COPY FROM text input; null becomes `\N`. */
export function escapeCopy(value: string | null): string {
  if (value === null) return '\\N';
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\n\r\t]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : '\\t',
  );
}

/**
 * Splits a stream of COPY text bytes into rows of values (null for `\N`), calling `onRow` for each
 * row synchronously. Feed chunks with `push`, then call `end`.
 */
export class CopyTextParser {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  rows = 0;

  constructor(private readonly onRow: (values: (string | null)[]) => void) {}

  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = start === 0 ? text : text.slice(start);
  }

  end(): void {
    const text = this.rest + this.decoder.end();
    this.rest = '';
    if (text.length > 0) this.line(text);
  }

  private line(line: string): void {
    const parts = line.split('\t');
    const values: (string | null)[] = new Array(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      values[i] = p === '\\N' ? null : unescapeCopy(p);
    }
    this.rows++;
    this.onRow(values);
  }
}
