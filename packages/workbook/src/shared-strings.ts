/**
 * The shared strings table of a workbook saved by a spreadsheet program (this package's writer
 * uses none). It must be read whole before any sheet that refers to it, so it is kept compactly:
 * the strings' code units in large buffers (1 byte per character when every character is below
 * U+0100, else 2) and 12 bytes of index per string, off the JS heap (measured: 14.7 MB where an
 * array of JavaScript strings takes 20.8 MB, bench/README.md), and never a slice of the parser's
 * chunks (a substring would keep its whole chunk alive). Exact for every string.
 */
const CHUNK = 4 << 20;
const TWO_BYTE = 0x80000000;
/** Any code unit above U+00FF (surrogates included). */
const NOT_LATIN1 = /[\u0100-\uffff]/;

export class SharedStringTable {
  private readonly chunks: Buffer[] = [];
  private cur: Buffer = Buffer.alloc(0);
  private curPos = 0;
  /** Per string: chunk number, start byte, byte length | TWO_BYTE. */
  private index = new Uint32Array(3 * 1024);
  private n = 0;
  private stored = 0;

  /** Number of strings. */
  get count(): number {
    return this.n;
  }

  /** Bytes the table holds (text and index). */
  get bytes(): number {
    return this.stored + this.n * 12;
  }

  /** Bytes the table has allocated (its buffers and index, slack included). */
  get allocatedBytes(): number {
    let total = this.index.byteLength;
    for (const c of this.chunks) total += c.length;
    return total;
  }

  add(s: string): void {
    const twoByte = NOT_LATIN1.test(s);
    const size = twoByte ? s.length * 2 : s.length;
    if (this.chunks.length === 0 || this.curPos + size > this.cur.length) {
      this.cur = Buffer.allocUnsafe(Math.max(CHUNK, size));
      this.chunks.push(this.cur);
      this.curPos = 0;
    }
    const written = twoByte
      ? this.cur.write(s, this.curPos, 'utf16le')
      : this.cur.write(s, this.curPos, 'latin1');
    if (this.n * 3 + 3 > this.index.length) {
      const bigger = new Uint32Array(this.index.length * 2);
      bigger.set(this.index);
      this.index = bigger;
    }
    const k = this.n * 3;
    this.index[k] = this.chunks.length - 1;
    this.index[k + 1] = this.curPos;
    this.index[k + 2] = twoByte ? written | TWO_BYTE : written;
    this.curPos += written;
    this.stored += written;
    this.n++;
  }

  /** The string at `i`, or undefined past the end. */
  get(i: number): string | undefined {
    if (i < 0 || i >= this.n) return undefined;
    const k = i * 3;
    const chunk = this.chunks[this.index[k] as number] as Buffer;
    const start = this.index[k + 1] as number;
    const len = this.index[k + 2] as number;
    return len & TWO_BYTE
      ? chunk.toString('utf16le', start, start + (len & ~TWO_BYTE))
      : chunk.toString('latin1', start, start + len);
  }
}
