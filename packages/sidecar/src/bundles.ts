/**
 * The bundles in the backup folder: listed with what their manifest says, served, deleted, and
 * pruned by the retention policy (keep a bundle while it is among the newest N or younger than N
 * days; the newest is never deleted). Names are checked: a route never reaches outside the folder.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openBundle } from '@sam-backup/bundle';

export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

const NAME = /^[\w.-]+\.zip$/;

export async function bundlePath(dir: string, name: string): Promise<string> {
  if (!NAME.test(name) || name.startsWith('.'))
    throw new NotFoundError(`bundle ${JSON.stringify(name)}: not a bundle name (name.zip)`);
  const path = join(dir, name);
  if (!existsSync(path))
    throw new NotFoundError(`bundle ${name} is not in the backup folder: see GET /bundles`);
  return path;
}

export interface BundleInfo {
  name: string;
  size: number;
  sha256: string | null;
  created: string;
  components: string[];
  counts: Record<string, Record<string, number>>;
  source: unknown;
  readable: boolean;
}

export async function listBundles(dir: string): Promise<BundleInfo[]> {
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir))
    .filter((n) => NAME.test(n) && !n.startsWith('.'))
    .sort()
    .reverse();
  const out: BundleInfo[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const size = (await stat(path)).size;
    const sha = await readFile(`${path}.sha256`, 'utf8').then(
      (t) => /^[0-9a-f]{64}/.exec(t)?.[0] ?? null,
      () => null,
    );
    try {
      const b = await openBundle(path);
      try {
        const m = b.metadata;
        out.push({
          name,
          size,
          sha256: sha,
          created: m.createdAt,
          components: Object.keys(m.components),
          counts: Object.fromEntries(Object.entries(m.components).map(([k, c]) => [k, c.counts])),
          source: m.source,
          readable: true,
        });
      } finally {
        await b.close();
      }
    } catch {
      out.push({
        name,
        size,
        sha256: sha,
        created: (await stat(path)).mtime.toISOString(),
        components: [],
        counts: {},
        source: null,
        readable: false,
      });
    }
  }
  return out;
}

export async function deleteBundle(dir: string, name: string): Promise<void> {
  const path = await bundlePath(dir, name);
  await rm(path);
  await rm(`${path}.sha256`, { force: true });
}

/** Removes bundles beyond the newest `keep` that are also older than `days`; returns their names. */
export async function enforceRetention(
  dir: string,
  keep: number,
  days: number,
  now = Date.now(),
): Promise<string[]> {
  const names = existsSync(dir)
    ? (await readdir(dir))
        .filter((n) => NAME.test(n) && !n.startsWith('.'))
        .sort()
        .reverse()
    : [];
  const removed: string[] = [];
  for (const [i, name] of names.entries()) {
    if (i < Math.max(1, keep)) continue;
    const age = now - (await stat(join(dir, name))).mtimeMs;
    if (age < days * 86_400_000) continue;
    await deleteBundle(dir, name);
    removed.push(name);
  }
  return removed;
}
