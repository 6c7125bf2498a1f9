/**
 * A small streaming XML tokenizer for the two big parts of a workbook: worksheets and the shared
 * strings table. It is fed decoded text chunk by chunk, keeps only an unfinished tag or text node
 * between chunks, and reports start tags, end tags and text to a handler, with element names
 * mapped to small integers (their local name; any prefix is ignored) so no name is allocated.
 *
 * Why not saxes for these parts: measured here (bench/README.md), saxes parses a worksheet several
 * times slower than this tokenizer, which does only what SpreadsheetML needs. It is still a
 * real XML tokenizer: quoted attribute values may hold '>', comments, CDATA sections and processing
 * instructions are understood, character and the five predefined entity references are decoded,
 * line ends are normalised as XML requires, and a DTD (never in SpreadsheetML, a way to smuggle
 * entity expansion) is refused. test/scan.test.ts checks it against saxes on generated documents.
 */
import { WorkbookError } from './errors.js';

export const NAME_OTHER = 0;
export const NAME_C = 1;
export const NAME_V = 2;
export const NAME_IS = 3;
export const NAME_T = 4;
export const NAME_R = 5;
export const NAME_RPH = 6;
export const NAME_ROW = 7;
export const NAME_SHEETDATA = 8;
export const NAME_SI = 9;

export interface ScanHandler {
  /**
   * A start tag with `count` attributes: attribute i's name is s[a[4i], a[4i+1]) and its raw
   * value (quotes excluded, references not decoded) s[a[4i+2], a[4i+3]). A self-closing tag gets
   * no separate close call.
   */
  open(name: number, s: string, a: Int32Array, count: number, selfClosing: boolean): void;
  close(name: number): void;
  /** Whether text is wanted now (inside an element whose text is kept). */
  readonly wantsText: boolean;
  /** A text node or CDATA section, already decoded. */
  text(value: string): void;
  /**
   * Called after the start tag of a `c` element whose content begins at s[pos]: the handler may
   * read the content and the end tag itself (a fast path for the usual shapes of a cell) and
   * return the position after them, or return -1 to let the scanner go on as usual.
   */
  cellContent?(s: string, pos: number): number;
  /**
   * Called at each start tag (s[lt] is '<') before it is parsed: the handler may read the element
   * itself and return the position to go on from, or return -1 to let the scanner read it.
   */
  startElement?(s: string, lt: number): number;
}

/** Maps the local name s[from, to) to a NAME_* code. */
function nameCode(s: string, from: number, to: number): number {
  // Skip a namespace prefix.
  for (let k = from; k < to; k++) {
    if (s.charCodeAt(k) === 58 /* : */) {
      from = k + 1;
      break;
    }
  }
  const len = to - from;
  const c0 = s.charCodeAt(from);
  switch (len) {
    case 1:
      return c0 === 99
        ? NAME_C
        : c0 === 118
          ? NAME_V
          : c0 === 116
            ? NAME_T
            : c0 === 114
              ? NAME_R
              : NAME_OTHER;
    case 2:
      if (c0 === 105 && s.charCodeAt(from + 1) === 115) return NAME_IS;
      if (c0 === 115 && s.charCodeAt(from + 1) === 105) return NAME_SI;
      return NAME_OTHER;
    case 3:
      if (c0 === 114) {
        const c1 = s.charCodeAt(from + 1);
        const c2 = s.charCodeAt(from + 2);
        if (c1 === 111 && c2 === 119) return NAME_ROW;
        if (c1 === 80 && c2 === 104) return NAME_RPH;
      }
      return NAME_OTHER;
    case 9:
      return s.startsWith('sheetData', from) ? NAME_SHEETDATA : NAME_OTHER;
    default:
      return NAME_OTHER;
  }
}

function isNameEnd(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 47 /* / */ || c === 62 /* > */;
}

export function malformed(part: string, why: string): WorkbookError {
  return new WorkbookError(
    'BAD_WORKBOOK',
    `${part}: not well-formed XML (${why}); the workbook is damaged or was not written as SpreadsheetML`,
  );
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes entity and character references; refuses any other '&'. `part` names the XML part. */
export function decodeEntities(raw: string, part: string): string {
  let amp = raw.indexOf('&');
  if (amp < 0) return raw;
  let out = '';
  let from = 0;
  while (amp >= 0) {
    const semi = raw.indexOf(';', amp + 1);
    if (semi < 0 || semi - amp > 12) {
      throw malformed(
        part,
        `an '&' that starts no reference near ${JSON.stringify(raw.slice(amp, amp + 12))}`,
      );
    }
    const ref = raw.slice(amp + 1, semi);
    let ch: string | undefined;
    if (ref.charCodeAt(0) === 35 /* # */) {
      const code = /^#x[0-9A-Fa-f]+$/.test(ref)
        ? Number.parseInt(ref.slice(2), 16)
        : /^#[0-9]+$/.test(ref)
          ? Number.parseInt(ref.slice(1), 10)
          : -1;
      if (code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        throw malformed(part, `character reference &${ref}; is not to a character`);
      }
      ch = code > 0xffff ? String.fromCodePoint(code) : String.fromCharCode(code);
    } else {
      ch = NAMED[ref];
      if (ch === undefined) throw malformed(part, `unknown entity &${ref}; (only XML's five are defined)`);
    }
    out += raw.slice(from, amp) + ch;
    from = semi + 1;
    amp = raw.indexOf('&', from);
  }
  return out + raw.slice(from);
}

/** XML's line-end normalisation (CRLF and lone CR become LF) and reference decoding of a text node. */
export function decodeText(raw: string, part: string): string {
  if (!NEEDS_DECODING.test(raw)) return raw;
  let s = raw;
  if (s.includes('\r')) s = s.replace(/\r\n?/g, '\n');
  if (s.includes('&')) s = decodeEntities(s, part);
  return s;
}

const NEEDS_DECODING = /[&\r]/;

/** The longest unfinished construct kept between chunks (a tag, or a text node being kept). */
const MAX_CARRY = 64 * 1024 * 1024;

export class XmlScanner {
  private carry = '';
  private attrs = new Int32Array(64);

  constructor(
    private readonly part: string,
    private readonly h: ScanHandler,
  ) {}

  /** Feeds the next decoded chunk. */
  feed(chunk: string): void {
    // join() makes a flat string; `carry + chunk` would make a rope, which every charCodeAt below
    // then reads more slowly (measured: about 1.5 times).
    const s = this.carry.length > 0 ? [this.carry, chunk].join('') : chunk;
    this.carry = '';
    const n = s.length;
    const h = this.h;
    let pos = 0;
    while (pos < n) {
      const lt = s.indexOf('<', pos);
      if (lt < 0) {
        if (h.wantsText) this.keep(s, pos);
        return;
      }
      if (lt > pos && h.wantsText) h.text(decodeText(s.slice(pos, lt), this.part));
      if (lt + 1 >= n) {
        this.keep(s, lt);
        return;
      }
      const c1 = s.charCodeAt(lt + 1);
      if (c1 === 47 /* / */) {
        let end = lt + 2;
        while (end < n && !isNameEnd(s.charCodeAt(end))) end++;
        const gt = end < n && s.charCodeAt(end) === 62 ? end : s.indexOf('>', end);
        if (gt < 0) {
          this.keep(s, lt);
          return;
        }
        h.close(nameCode(s, lt + 2, end));
        pos = gt + 1;
        continue;
      }
      if (c1 === 33 /* ! */) {
        const next = this.markup(s, lt);
        if (next < 0) {
          this.keep(s, lt);
          return;
        }
        pos = next;
        continue;
      }
      if (c1 === 63 /* ? */) {
        const end = s.indexOf('?>', lt + 2);
        if (end < 0) {
          this.keep(s, lt);
          return;
        }
        this.declaration(s, lt, end);
        pos = end + 2;
        continue;
      }
      if (h.startElement !== undefined) {
        const after = h.startElement(s, lt);
        if (after >= 0) {
          pos = after;
          continue;
        }
      }
      // A start tag: its name, then its attributes (each value found by its closing quote, so a
      // '>' inside a value is no end), then '>' or '/>'.
      const end = this.startTag(s, lt);
      if (end < 0) {
        this.keep(s, lt);
        return;
      }
      pos = end;
    }
  }

  /** Parses the start tag at `lt` and reports it; returns the position after it, or -1 if unfinished. */
  private startTag(s: string, lt: number): number {
    const n = s.length;
    let k = lt + 1;
    while (k < n && !isNameEnd(s.charCodeAt(k))) k++;
    const nameEnd = k;
    if (nameEnd === lt + 1) throw malformed(this.part, 'a tag without a name');
    let a = this.attrs;
    let count = 0;
    let c = 0;
    for (;;) {
      while (k < n) {
        c = s.charCodeAt(k);
        if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
        k++;
      }
      if (k >= n) return -1;
      if (c === 62 /* > */) {
        const name = nameCode(s, lt + 1, nameEnd);
        this.h.open(name, s, a, count, false);
        if (name === NAME_C && this.h.cellContent !== undefined) {
          const after = this.h.cellContent(s, k + 1);
          if (after >= 0) return after;
        }
        return k + 1;
      }
      if (c === 47 /* / */) {
        if (k + 1 >= n) return -1;
        if (s.charCodeAt(k + 1) !== 62) throw malformed(this.part, "'/' inside a tag");
        this.h.open(nameCode(s, lt + 1, nameEnd), s, a, count, true);
        return k + 2;
      }
      const ns = k;
      while (k < n) {
        c = s.charCodeAt(k);
        if (c === 61 || c === 32 || c === 9 || c === 10 || c === 13 || c === 62 || c === 47 || c === 60)
          break;
        k++;
      }
      const ne = k;
      while (k < n) {
        c = s.charCodeAt(k);
        if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
        k++;
      }
      if (k >= n) return -1;
      if (c !== 61 || ne === ns)
        throw malformed(this.part, `attribute ${JSON.stringify(s.slice(ns, ne + 1))} without a value`);
      k++;
      while (k < n) {
        c = s.charCodeAt(k);
        if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
        k++;
      }
      if (k >= n) return -1;
      if (c !== 34 && c !== 39)
        throw malformed(this.part, `attribute ${JSON.stringify(s.slice(ns, ne))} has no quoted value`);
      const close = s.indexOf(c === 34 ? '"' : "'", k + 1);
      if (close < 0) return -1;
      if (count * 4 + 4 > a.length) {
        const bigger = new Int32Array(a.length * 2);
        bigger.set(a);
        this.attrs = a = bigger;
      }
      const at = count * 4;
      a[at] = ns;
      a[at + 1] = ne;
      a[at + 2] = k + 1;
      a[at + 3] = close;
      count++;
      k = close + 1;
    }
  }

  /** Ends the input; anything unfinished is an error. */
  end(): void {
    if (this.carry.length > 0 && this.carry.trim().length > 0) {
      throw malformed(this.part, `the document ends inside ${JSON.stringify(this.carry.slice(0, 40))}`);
    }
  }

  private keep(s: string, from: number): void {
    if (s.length - from > MAX_CARRY) {
      throw malformed(this.part, `a single tag or text node is longer than ${MAX_CARRY} characters`);
    }
    this.carry = s.slice(from);
  }

  /** `<!…`: a comment, a CDATA section or a DTD. Returns the position after it, or -1 if unfinished. */
  private markup(s: string, lt: number): number {
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt + 4);
      return end < 0 ? -1 : end + 3;
    }
    if (s.startsWith('<![CDATA[', lt)) {
      const end = s.indexOf(']]>', lt + 9);
      if (end < 0) return -1;
      if (this.h.wantsText) {
        const raw = s.slice(lt + 9, end);
        this.h.text(raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw);
      }
      return end + 3;
    }
    if (s.length - lt < 9) return -1;
    if (s.startsWith('<!DOCTYPE', lt)) {
      throw malformed(
        this.part,
        'it has a DTD (<!DOCTYPE>), which SpreadsheetML never uses and this reader refuses',
      );
    }
    throw malformed(this.part, `unexpected ${JSON.stringify(s.slice(lt, lt + 12))}`);
  }

  /** The XML declaration must not name an encoding other than UTF-8. */
  private declaration(s: string, lt: number, end: number): void {
    if (!s.startsWith('<?xml', lt) || !isNameEnd(s.charCodeAt(lt + 5))) return;
    const m = /encoding\s*=\s*["']([^"']*)["']/.exec(s.slice(lt, end));
    if (m && !/^utf-?8$/i.test(m[1] as string)) {
      throw new WorkbookError(
        'BAD_WORKBOOK',
        `${this.part}: it is encoded as ${m[1]}; this reader reads UTF-8 only (what Excel and LibreOffice write)`,
      );
    }
  }
}

/** An attribute value as text: references decoded, whitespace characters as spaces (XML's rules). */
export function attributeValue(s: string, vs: number, ve: number, part: string): string {
  let v = s.slice(vs, ve);
  if (/[\t\n\r]/.test(v)) v = v.replace(/\r\n?|[\t\n]/g, ' ');
  if (v.includes('&')) v = decodeEntities(v, part);
  return v;
}
