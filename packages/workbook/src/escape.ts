/**
 * Exact text in SpreadsheetML.
 *
 * XML 1.0 cannot carry most C0 control characters, U+FFFE or U+FFFF, and every XML parser turns a
 * literal CR (alone or before LF) into LF. SpreadsheetML's string type ST_Xstring (ECMA-376 Part 1,
 * 22.9.2.19) escapes such a character as `_xHHHH_` (its UTF-16 code unit in hex), and a literal
 * underscore that would otherwise be read as the start of such an escape as `_x005F_`. Excel writes
 * CR this way (`_x000D_`) and decodes these escapes when it reads; LibreOffice does too.
 *
 * The writer's rule (encodeText) and the reader's rule (decodeXstring) are exact inverses:
 * - `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;`; TAB and LF stay literal;
 * - every other C0 control (U+0000–U+001F), CR included, and U+FFFE, U+FFFF become `_xHHHH_`;
 * - an `_` followed by `x`, one to four hex digits and then `_` or a character that is itself
 *   escaped becomes `_x005F_` (so no reader, scanning left to right, mistakes text for an escape —
 *   LibreOffice also decodes escapes with fewer than four digits, such as `_x9_`);
 * - an unpaired surrogate is refused (no XML document can carry it).
 * The writer's output reads back the same whether a reader decodes every `_xHHHH_` left to right
 * (the letter of ECMA-376, Apache POI), only those of characters XML cannot carry and '_'
 * (decodeXstring below), or also shorter ones like `_x9_` (LibreOffice): no literal '_' it leaves
 * is followed by `x`, hex digits and '_'.
 */
import { WorkbookError } from './errors.js';

// The fast test: does `text` contain anything encodeText must change? A character class alone
// (and `includes('_x')` for the underscore rule) scans about twice as fast as one regex with both.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const NEEDS_ENCODING = /[&<>\u0000-\u0008\u000b-\u001f\ud800-\udfff\ufffe\uffff]/;

const HEX = '0123456789ABCDEF';

function hex4(code: number): string {
  return `_x${HEX[(code >> 12) & 15]}${HEX[(code >> 8) & 15]}${HEX[(code >> 4) & 15]}${HEX[code & 15]}_`;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Characters the writer escapes as _xHHHH_. */
function isXstringEscaped(c: number): boolean {
  return (c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0xfffe || c === 0xffff;
}

/**
 * Is the '_' at `i` the start of something a reader would take for an escape in the output? That
 * is `_x`, then hex digits, then '_' or a character that is itself escaped (its escape starts with
 * '_'). One to four hex digits, not only four: LibreOffice also decodes `_x9_` or `_x00_`.
 */
function underscoreNeedsEscape(text: string, i: number): boolean {
  if (text.charCodeAt(i + 1) !== 120 /* x */) return false;
  let k = i + 2;
  const end = Math.min(text.length, i + 6);
  while (k < end && isHex(text.charCodeAt(k))) k++;
  if (k === i + 2 || k >= text.length) return false;
  const next = text.charCodeAt(k);
  return next === 95 /* _ */ || isXstringEscaped(next);
}

/** Thrown by encodeText for a string with an unpaired surrogate; the caller names the cell. */
export class UnpairedSurrogate extends Error {
  constructor(readonly index: number) {
    super(`unpaired UTF-16 surrogate at position ${index}`);
  }
}

/** The error for a cell whose text holds an unpaired surrogate; `where` names the cell. */
export function loneSurrogateError(where: string, index: number): WorkbookError {
  return new WorkbookError(
    'LONE_SURROGATE',
    `${where}: the text has an unpaired UTF-16 surrogate at position ${index}, which no XML file can hold; ` +
      'the value is not valid Unicode text — fix it at its source',
  );
}

/**
 * The XML element content for `text` (see the module comment); the text itself when nothing needs
 * escaping. Throws UnpairedSurrogate for text that is not valid Unicode.
 */
export function encodeText(text: string): string {
  if (!NEEDS_ENCODING.test(text) && !text.includes('_x')) return text;
  let out = '';
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let rep: string;
    if (c === 38) rep = '&amp;';
    else if (c === 60) rep = '&lt;';
    else if (c === 62) rep = '&gt;';
    else if (c === 95) {
      if (!underscoreNeedsEscape(text, i)) continue;
      rep = '_x005F_';
    } else if (c < 0x20) {
      if (c === 0x09 || c === 0x0a) continue;
      rep = hex4(c);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          continue;
        }
      }
      throw new UnpairedSurrogate(i);
    } else if (c === 0xfffe || c === 0xffff) rep = hex4(c);
    else continue;
    if (i > start) out += text.slice(start, i);
    out += rep;
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/** Code units an ST_Xstring escape stands for when read: those XML cannot carry, and '_'. */
function isDecodedEscape(code: number): boolean {
  return (
    code < 0x20 || code === 0x5f || (code >= 0xd800 && code <= 0xdfff) || code === 0xfffe || code === 0xffff
  );
}

/**
 * Decodes ST_Xstring escapes, scanning left to right: `_xHHHH_` becomes its code unit when that is
 * one XML cannot carry (U+0000–U+001F, U+FFFE, U+FFFF, or a surrogate pair as two escapes) or '_'
 * (U+005F); any other `_xHHHH_` (e.g. `_x0041_`, or half a surrogate pair) is literal text. This is what LibreOffice does, and it reads right the
 * files of writers that escape only what needs it (Excel, LibreOffice) and of writers that do not
 * escape at all (exceljs writes a literal `_x0041_` as is). It inverts encodeText exactly.
 */
export function decodeXstring(text: string): string {
  let at = text.indexOf('_x');
  if (at < 0) return text;
  let out = '';
  let from = 0;
  const n = text.length;
  while (at >= 0 && at + 7 <= n) {
    const code = escapeAt(text, at);
    if (code >= 0 && isDecodedEscape(code)) {
      let decoded = String.fromCharCode(code);
      let next = at + 7;
      if (code >= 0xd800 && code <= 0xdfff) {
        // A surrogate escape counts only as half of a pair: high then low. An unpaired one stays
        // text, so what is read is always valid Unicode.
        const low = code <= 0xdbff && next + 7 <= n ? escapeAt(text, next) : -1;
        if (low < 0xdc00 || low > 0xdfff) {
          at = text.indexOf('_x', at + 1);
          continue;
        }
        decoded += String.fromCharCode(low);
        next += 7;
      }
      out += text.slice(from, at) + decoded;
      from = next;
      at = text.indexOf('_x', from);
      continue;
    }
    // Not an escape read as one: the '_' is literal; look again from the next character.
    at = text.indexOf('_x', at + 1);
  }
  return from === 0 ? text : out + text.slice(from);
}

/** The code unit of the `_xHHHH_` at `at`, or -1 if there is none. */
function escapeAt(text: string, at: number): number {
  if (text.charCodeAt(at) !== 95 || text.charCodeAt(at + 1) !== 120 || text.charCodeAt(at + 6) !== 95)
    return -1;
  let code = 0;
  for (let k = at + 2; k < at + 6; k++) {
    const c = text.charCodeAt(k);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    code = code * 16 + d;
  }
  return code;
}

/** Escapes text for an XML attribute value written between double quotes. */
export function escapeAttribute(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}
