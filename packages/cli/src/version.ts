import { readFileSync } from 'node:fs';

/** The version of sam-backup, as written in this package's package.json (recorded in every bundle). */
export const TOOL_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
