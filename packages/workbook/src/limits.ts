import { WorkbookError } from './errors.js';

/** Rows per worksheet Excel can open (header row included). */
export const MAX_ROWS = 1_048_576;
/** Cells per row Excel can open (column XFD). */
export const MAX_COLUMNS = 16_384;
/**
 * Characters per cell Excel can hold, counted as Excel counts them: UTF-16 code units, i.e. a
 * JavaScript string's `length` (an emoji outside the BMP counts 2). The writer refuses longer text;
 * use `cutCellText` to cut it.
 */
export const MAX_CELL_CHARS = 32_767;
/** Characters in a sheet name. */
export const MAX_SHEET_NAME_CHARS = 31;

const FORBIDDEN_IN_NAME = /[[\]:*?/\\]/;
// C0 controls, DEL..U+009F, and what XML cannot carry at all. Excel refuses control characters in
// sheet names, and a sheet name is an XML attribute, where the _xHHHH_ escape does not apply.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters refused
const UNFIT_IN_NAME = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/;
const RESERVED_NAME = 'HISTORY';
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATE_G = new RegExp(LONE_SURROGATE.source, 'g');

/** The key two sheet names are compared by: Excel treats names as equal regardless of case. */
export function sheetNameKey(name: string): string {
  return name.toUpperCase();
}

/** Why `name` is not a valid Excel sheet name, or undefined if it is valid. */
export function sheetNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a sheet name cannot be empty';
  if (name.length > MAX_SHEET_NAME_CHARS) {
    return `it has ${name.length} characters; Excel allows at most ${MAX_SHEET_NAME_CHARS}`;
  }
  const bad = FORBIDDEN_IN_NAME.exec(name);
  if (bad) return `it contains '${bad[0]}'; Excel does not allow any of [ ] : * ? / \\ in a sheet name`;
  if (UNFIT_IN_NAME.test(name)) return 'it contains a control character';
  if (LONE_SURROGATE.test(name)) return 'it contains an unpaired UTF-16 surrogate';
  if (name.startsWith("'") || name.endsWith("'"))
    return 'Excel does not allow an apostrophe at its start or end';
  if (sheetNameKey(name) === RESERVED_NAME) return "'History' is reserved by Excel";
  return undefined;
}

/** Throws BAD_SHEET_NAME / DUPLICATE_SHEET_NAME unless `name` is valid and not among `taken` keys. */
export function checkSheetName(name: string, takenKeys: ReadonlySet<string>): void {
  const problem = sheetNameProblem(name);
  if (problem !== undefined) {
    throw new WorkbookError(
      'BAD_SHEET_NAME',
      `sheet name ${JSON.stringify(name)} is not valid: ${problem}; use safeSheetName() to make a valid one`,
    );
  }
  if (takenKeys.has(sheetNameKey(name))) {
    throw new WorkbookError(
      'DUPLICATE_SHEET_NAME',
      `sheet name ${JSON.stringify(name)} is already used in this workbook (Excel compares names ignoring case); ` +
        'use safeSheetName() to make a unique one',
    );
  }
}

/** Cuts `text` to at most `max` UTF-16 code units without splitting a surrogate pair. */
function cutUnits(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/**
 * Cuts `text` so it fits one cell (MAX_CELL_CHARS UTF-16 code units, never splitting a surrogate
 * pair). Returns the text itself when it already fits.
 */
export function cutCellText(text: string, max: number = MAX_CELL_CHARS): string {
  return cutUnits(text, max);
}

/**
 * A valid sheet name made from `base`, unique (ignoring case) among `taken`: forbidden and control
 * characters become '_', edge apostrophes become '_', the name is cut to 31 characters, and a
 * suffix " (2)", " (3)", … is added while the name is taken. The caller adds the result to its
 * set of taken names.
 */
export function safeSheetName(base: string, taken: Iterable<string>): string {
  const keys = new Set<string>();
  for (const t of taken) keys.add(sheetNameKey(t));
  let clean = String(base)
    .replace(LONE_SURROGATE_G, '_')
    .replace(/[[\]:*?/\\]/g, '_')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are replaced
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/g, '_');
  if (clean.length === 0) clean = 'Sheet';
  const fix = (name: string): string => {
    let n = name.replace(/^'/, '_').replace(/'$/, '_');
    if (sheetNameKey(n) === RESERVED_NAME) n = `${n}_`;
    return n;
  };
  const first = fix(cutUnits(clean, MAX_SHEET_NAME_CHARS));
  if (!keys.has(sheetNameKey(first))) return first;
  for (let i = 2; ; i++) {
    const suffix = ` (${i})`;
    const candidate = fix(cutUnits(clean, MAX_SHEET_NAME_CHARS - suffix.length)) + suffix;
    if (!keys.has(sheetNameKey(candidate))) return candidate;
  }
}

const COLUMN_NAMES: string[] = [];

/** The column letters of a 0-based column index: 0 → A, 25 → Z, 26 → AA, 16383 → XFD. */
export function columnName(index: number): string {
  const cached = COLUMN_NAMES[index];
  if (cached !== undefined) return cached;
  let n = index + 1;
  let name = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    name = String.fromCharCode(65 + rem) + name;
    n = Math.floor((n - 1) / 26);
  }
  if (index < MAX_COLUMNS) COLUMN_NAMES[index] = name;
  return name;
}
