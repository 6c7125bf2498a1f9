import { stat } from 'node:fs/promises';
import { BundleError, type BundleProblem, BundleRefusedError, problem } from './errors.js';
import type { Metadata } from './metadata.js';
import { type BundleReader, openBundle, type ReaderOptions } from './reader.js';

export interface VerifyProgress {
  entry: string;
  bytesDone: number;
  bytesTotal: number;
  entriesDone: number;
  entriesTotal: number;
}

export interface VerifyReport {
  path: string;
  ok: boolean;
  /** Every problem found; a damaged entry does not stop the check of the others. */
  problems: BundleProblem[];
  entriesChecked: number;
  entriesTotal: number;
  bytesChecked: number;
  durationMs: number;
  /** Present when the structure could be read. */
  metadata?: Metadata;
}

/**
 * Checks a bundle completely (bundle-format.md §6): its structure, then every entry's size,
 * CRC-32 and SHA-256 while streaming it. Never throws for a bad bundle: the report says what is wrong.
 */
export async function verifyBundle(
  path: string,
  opts: ReaderOptions & { onProgress?: (p: VerifyProgress) => void } = {},
): Promise<VerifyReport> {
  const started = performance.now();
  let reader: BundleReader;
  try {
    reader = await openBundle(path, opts);
  } catch (err) {
    if (err instanceof BundleRefusedError) {
      return {
        path,
        ok: false,
        problems: [...err.problems],
        entriesChecked: 0,
        entriesTotal: 0,
        bytesChecked: 0,
        durationMs: performance.now() - started,
      };
    }
    throw err;
  }
  const problems: BundleProblem[] = [];
  const entries = reader.entries();
  const bytesTotal = entries.reduce((n, e) => n + e.size, 0);
  let bytesDone = 0;
  let entriesDone = 0;
  try {
    for (const record of entries) {
      try {
        const stream = await reader.openEntry(record.name);
        for await (const chunk of stream) {
          bytesDone += (chunk as Buffer).length;
          opts.onProgress?.({
            entry: record.name,
            bytesDone,
            bytesTotal,
            entriesDone,
            entriesTotal: entries.length,
          });
        }
      } catch (err) {
        problems.push(
          err instanceof BundleError
            ? err.toProblem()
            : problem('BAD_ZIP', `cannot be read (${(err as Error).message})`, record.name),
        );
      }
      entriesDone++;
      opts.onProgress?.({
        entry: record.name,
        bytesDone,
        bytesTotal,
        entriesDone,
        entriesTotal: entries.length,
      });
    }
  } finally {
    await reader.close();
  }
  return {
    path,
    ok: problems.length === 0,
    problems,
    entriesChecked: entriesDone,
    entriesTotal: entries.length,
    bytesChecked: bytesDone,
    durationMs: performance.now() - started,
    metadata: reader.metadata,
  };
}

export interface InspectReport {
  path: string;
  fileSize: number;
  format: string;
  formatVersion: number;
  createdAt: string;
  tool: Metadata['tool'];
  source: Metadata['source'];
  components: Metadata['components'];
  options: Metadata['options'];
  entryCount: number;
  /** Sum of the entries' sizes (uncompressed). */
  contentBytes: number;
  /** Entries and bytes per top-level folder (odoo_data, databases, logs, …). */
  areas: Record<string, { entries: number; bytes: number }>;
}

/**
 * What a bundle holds, read from its central directory and metadata.json only: nothing is
 * extracted and no content is hashed (use verifyBundle for that). Structural problems are refused.
 */
export async function inspectBundle(path: string, opts?: ReaderOptions): Promise<InspectReport> {
  const reader = await openBundle(path, opts);
  try {
    const { metadata } = reader;
    const areas: Record<string, { entries: number; bytes: number }> = {};
    let contentBytes = 0;
    for (const e of metadata.entries) {
      const slash = e.name.indexOf('/');
      const area = slash === -1 ? '.' : e.name.slice(0, slash);
      const a = areas[area] ?? { entries: 0, bytes: 0 };
      areas[area] = a;
      a.entries++;
      a.bytes += e.size;
      contentBytes += e.size;
    }
    return {
      path,
      fileSize: (await stat(path)).size,
      format: metadata.format,
      formatVersion: metadata.formatVersion,
      createdAt: metadata.createdAt,
      tool: metadata.tool,
      source: metadata.source,
      components: metadata.components,
      options: metadata.options,
      entryCount: metadata.entries.length,
      contentBytes,
      areas,
    };
  } finally {
    await reader.close();
  }
}
