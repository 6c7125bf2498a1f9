import { bundleError } from './errors.js';

/** Entry names of format version 1 (bundle-format.md §2). */
export const ENTRY = {
  metadata: 'metadata.json',
  instructions: 'restore_instructions.md',
  workbook: 'odoo_data/ai_brain_backup.xlsx',
  modelList: 'odoo_data/model_list.json',
  overflowDir: 'odoo_data/overflow/',
  filestoreDir: 'odoo_data/filestore/',
  graphDump: 'databases/postgres_graph_dump.sql',
  chromaDir: 'databases/chroma_data/',
  exportLog: 'logs/export_log.txt',
} as const;

/** bundle-format.md §3.1: at most 1,024 bytes of UTF-8. */
export const MAX_ENTRY_NAME_BYTES = 1024;

/** `sam_ai_complete_backup_YYYYMMDD_HHMMSS.zip`, in UTC (bundle-format.md §1). */
export function bundleFileName(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const d = `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}`;
  const t = `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  return `sam_ai_complete_backup_${d}_${t}.zip`;
}

/** Why `name` is not a valid entry name (bundle-format.md §3.1), or undefined when it is. */
export function entryNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_ENTRY_NAME_BYTES)
    return `the name is longer than ${MAX_ENTRY_NAME_BYTES} bytes`;
  if (/\p{Cs}/u.test(name)) return 'the name is not valid Unicode (a lone surrogate)';
  if (name.normalize('NFC') !== name) return 'the name is not in Unicode NFC form';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rule refuses
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains a control character';
  if (name.includes('\\')) return 'the name contains a backslash';
  if (name.startsWith('/')) return 'the name is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'the name starts with a drive letter';
  if (name.endsWith('/')) return 'the name is a directory';
  for (const segment of name.split('/')) {
    if (segment === '') return 'the name has an empty path segment';
    if (segment === '.' || segment === '..') return `the name has a "${segment}" path segment`;
  }
  return undefined;
}

/** Throws UNSAFE_NAME when `name` breaks bundle-format.md §3.1. */
export function checkEntryName(name: string): void {
  const why = entryNameProblem(name);
  if (why) throw bundleError('UNSAFE_NAME', why, JSON.stringify(name).slice(1, -1));
}

/**
 * The key under which two names collide (bundle-format.md §3.2): names that differ only by case
 * or Unicode normalisation would overwrite each other when extracted on macOS or Windows.
 */
export function collisionKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
