/**
 * The vector store against a real Chroma server (the `chromadb` package's CLI): both modes round
 * trip, a snapshot taken while a writer adds records in a loop verifies and opens, a restore that
 * fails verification leaves the live store as it was, newer bundles are refused. Contents are
 * compared with the test's own reading of every record over the HTTP API, not the product's hashes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter, type Component, openBundle, verifyBundle } from '@sam-backup/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChromaHttp,
  type ChromaRecords,
  exportVectors,
  prepareVectorRestore,
  startChromaServer,
  type VectorSettings,
} from '../src/index.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sam-vectors-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const SPACES = [
  ['memories', 'cosine'],
  ['documents', 'l2'],
  ['chats', 'ip'],
] as const;

function records(prefix: string, from: number, to: number, dim = 16): ChromaRecords {
  const r: ChromaRecords = { ids: [], embeddings: [], documents: [], metadatas: [], uris: null };
  for (let i = from; i < to; i++) {
    r.ids.push(`${prefix}-${i}`);
    r.embeddings?.push(
      Array.from({ length: dim }, (_, k) => Math.fround(Math.sin(i * 31 + k * 7) * (1 + (k % 3)))),
    );
    r.documents?.push(i % 9 === 4 ? null : i % 9 === 5 ? '' : `document ${i} — ünïcödé 🧠\nline 2`);
    r.metadatas?.push(i % 7 === 3 ? null : { i, even: i % 2 === 0, f: i / 7, s: `s${i}` });
  }
  return r;
}

async function fill(url: string, n = 1_200): Promise<void> {
  const http = new ChromaHttp(url);
  for (const [name, space] of SPACES) {
    const c = await http.createCollection(name, { 'hnsw:space': space, owner: 'sam' }, null);
    for (let i = 0; i < n; i += 400) await http.add(c.id, records(name, i, Math.min(n, i + 400)));
  }
}

/**
 * The test's own view of a server: every record of every collection, hashed — vectors exactly,
 * except with `cosineWithin` where a cosine collection's vectors are kept aside for a comparison
 * within that tolerance (Chroma gives them back one float32 step off).
 */
async function view(
  url: string,
  cosine?: Map<string, number[]>,
): Promise<Record<string, { n: number; h: string; space: unknown }>> {
  const http = new ChromaHttp(url);
  const out: Record<string, { n: number; h: string; space: unknown }> = {};
  for (const c of await http.listCollections()) {
    const rows: string[] = [];
    for (let offset = 0; ; offset += 300) {
      const p = await http.get(c.id, { limit: 300, offset });
      const loose =
        cosine && (c.configuration_json?.hnsw as { space?: string } | undefined)?.space === 'cosine';
      p.ids.forEach((id, i) => {
        if (loose) cosine.set(`${c.name}/${id}`, p.embeddings?.[i] ?? []);
        rows.push(
          JSON.stringify([
            id,
            loose ? null : (p.embeddings?.[i] ?? []),
            p.documents?.[i] ?? null,
            p.metadatas?.[i] ? Object.entries(p.metadatas[i] as object).sort() : null,
          ]),
        );
      });
      if (p.ids.length < 300) break;
    }
    rows.sort();
    out[c.name] = {
      n: rows.length,
      h: createHash('sha256').update(rows.join('\n')).digest('hex'),
      space: c.configuration_json?.hnsw,
    };
  }
  return out;
}

async function exportTo(
  settings: VectorSettings,
  name: string,
): Promise<{ path: string; component: Component }> {
  const writer = await BundleWriter.create({ dir: join(work, 'bundles'), name: `${name}.zip` });
  const r = await exportVectors({ settings, bundle: writer, workDir: join(work, 'tmp') });
  const b = await writer.finalize({
    tool: { name: 'test', version: '0' },
    components: { vectors: r.component },
  });
  return { path: b.path, component: r.component };
}

describe('directory mode', () => {
  it('round trips a persist directory: damaged live data comes back exactly, the replaced folder is kept, hooks run', async () => {
    const live = join(work, 'dir1', 'chroma_data');
    let server = await startChromaServer(live);
    await fill(server.url);
    const original = await view(server.url);
    await server.stop();

    const marks = join(work, 'dir1');
    const settings: VectorSettings = {
      mode: 'directory',
      path: live,
      pauseHook: `echo pause >> ${marks}/hooks.log`,
      resumeHook: `echo resume >> ${marks}/hooks.log`,
      stopHook: `echo stop >> ${marks}/hooks.log`,
      startHook: `echo start >> ${marks}/hooks.log`,
    };
    const { path, component } = await exportTo(settings, 'dir1');
    expect(component.counts).toEqual({ collections: 3, records: 3_600 });
    expect((component.details as { cut: string }).cut).toMatch(/paused/);
    expect((await verifyBundle(path)).ok).toBe(true);
    expect(await readdir(join(work, 'tmp'))).toEqual([]); // the snapshot's work folder is gone

    // Damage: delete a collection, add records, change a document.
    server = await startChromaServer(live);
    const http = new ChromaHttp(server.url);
    await http.deleteCollection('documents');
    const mem = (await http.listCollections()).find((c) => c.name === 'memories');
    await http.add(mem?.id as string, records('extra', 0, 50));
    expect(await view(server.url)).not.toEqual(original);
    await server.stop();

    const bundle = await openBundle(path);
    try {
      const dry = await prepareVectorRestore({ settings, bundle, dryRun: true });
      expect(dry.report.collections).toContainEqual({
        name: 'documents',
        recordsInBundle: 1_200,
        recordsNow: null,
      });
      expect(dry.report.collections).toContainEqual({
        name: 'memories',
        recordsInBundle: 1_200,
        recordsNow: 1_250,
      });
      const p = await prepareVectorRestore({ settings, bundle });
      expect(p.report.verified).toBe(true);
      const swapped = await p.swap();
      await p.finish();
      expect(typeof swapped.previous).toBe('string');
      expect(existsSync(swapped.previous as string)).toBe(true);
    } finally {
      await bundle.close();
    }
    expect((await readFile(join(marks, 'hooks.log'), 'utf8')).trim().split('\n')).toEqual([
      'pause',
      'resume',
      'stop',
      'start',
    ]);
    server = await startChromaServer(live);
    try {
      expect(await view(server.url)).toEqual(original);
    } finally {
      await server.stop();
    }
  });

  it('takes a snapshot while a writer adds records in a loop; the snapshot verifies and opens with every record', async () => {
    const live = join(work, 'dir2', 'chroma_data');
    const server = await startChromaServer(live);
    const http = new ChromaHttp(server.url);
    const c = await http.createCollection('busy', { 'hnsw:space': 'l2' }, null);
    await http.add(c.id, records('busy', 0, 1_500));
    let stop = false;
    let written = 1_500;
    const writer = (async () => {
      while (!stop) {
        await http.add(c.id, records('busy', written, written + 100));
        written += 100;
      }
    })();
    let exported: { path: string; component: Component };
    try {
      await new Promise((r) => setTimeout(r, 300));
      exported = await exportTo({ mode: 'directory', path: live }, 'dir2');
    } finally {
      stop = true;
      await writer;
      await server.stop();
    }
    // The count of the snapshot is what Chroma shows once it has applied the write log.
    const records1 = exported.component.counts.records as number;
    expect(records1).toBeGreaterThanOrEqual(1_500);
    expect(records1).toBeLessThanOrEqual(written);
    expect((await verifyBundle(exported.path)).ok).toBe(true);

    // Restore it somewhere new: it verifies (quick_check, fingerprint) and a Chroma opens it.
    const target = join(work, 'dir2', 'restored');
    const bundle = await openBundle(exported.path);
    try {
      const p = await prepareVectorRestore({ settings: { mode: 'directory', path: target }, bundle });
      await p.swap();
      await p.finish();
    } finally {
      await bundle.close();
    }
    const opened = await startChromaServer(target);
    try {
      const v = await view(opened.url);
      expect(v.busy?.n).toBe(records1);
      const h = new ChromaHttp(opened.url);
      const col = (await h.listCollections())[0];
      const got = await h.get(col?.id as string, { ids: ['busy-0', `busy-${records1 - 1}`] });
      expect(got.ids.sort()).toEqual(['busy-0', `busy-${records1 - 1}`].sort());
    } finally {
      await opened.stop();
    }
  });

  it('a restore whose verification fails leaves the live directory untouched; a newer schema is refused', async () => {
    const live = join(work, 'dir3', 'chroma_data');
    const server = await startChromaServer(live);
    await fill(server.url, 400);
    await server.stop();
    const settings: VectorSettings = { mode: 'directory', path: live };
    const writer = await BundleWriter.create({ dir: join(work, 'bundles'), name: 'dir3.zip' });
    const r = await exportVectors({ settings, bundle: writer, workDir: join(work, 'tmp') });
    // A bundle whose recorded fingerprint says something the files do not hold.
    const details = structuredClone(r.details) as {
      fingerprint: { collections: Array<{ records: number }>; schema: Record<string, number> };
    };
    (details.fingerprint.collections[0] as { records: number }).records += 1;
    const tampered = {
      ...r.component,
      details,
      contentHash: `sha256:${createHash('sha256').update(JSON.stringify(details.fingerprint)).digest('hex')}`,
    };
    const b = await writer.finalize({
      tool: { name: 'test', version: '0' },
      components: { vectors: tampered },
    });

    const snapshot = async () => {
      const out: Record<string, string> = {};
      for (const e of await readdir(join(work, 'dir3'), { recursive: true, withFileTypes: true })) {
        if (e.isFile())
          out[join(e.parentPath, e.name)] = createHash('sha256')
            .update(await readFile(join(e.parentPath, e.name)))
            .digest('hex');
      }
      return out;
    };
    const before = await snapshot();
    const bundle = await openBundle(b.path);
    try {
      await expect(prepareVectorRestore({ settings, bundle })).rejects.toMatchObject({
        code: 'VERIFY_FAILED',
      });
    } finally {
      await bundle.close();
    }
    expect(await snapshot()).toEqual(before);

    // A bundle from a newer Chroma schema is refused before anything is written.
    const w2 = await BundleWriter.create({ dir: join(work, 'bundles'), name: 'dir3b.zip' });
    const r2 = await exportVectors({ settings, bundle: w2, workDir: join(work, 'tmp') });
    const d2 = structuredClone(r2.details) as { fingerprint: { schema: Record<string, number> } };
    d2.fingerprint.schema.sysdb = (d2.fingerprint.schema.sysdb ?? 0) + 50;
    const b2 = await w2.finalize({
      tool: { name: 'test', version: '0' },
      components: {
        vectors: {
          ...r2.component,
          details: d2,
          contentHash: `sha256:${createHash('sha256').update(JSON.stringify(d2.fingerprint)).digest('hex')}`,
        },
      },
    });
    const bundle2 = await openBundle(b2.path);
    try {
      await expect(prepareVectorRestore({ settings, bundle: bundle2 })).rejects.toMatchObject({
        code: 'VERSION_REFUSED',
      });
    } finally {
      await bundle2.close();
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('server mode', () => {
  it('round trips every collection of a server; vectors exact for l2/ip and within the stated tolerance for cosine; the replaced collections are kept', async () => {
    const server = await startChromaServer(join(work, 'srv1'));
    try {
      await fill(server.url, 900);
      const originalCosine = new Map<string, number[]>();
      const original = await view(server.url, originalCosine);
      const settings: VectorSettings = { mode: 'server', url: server.url };
      const { path, component } = await exportTo(settings, 'srv1');
      expect(component.counts).toEqual({ collections: 3, records: 2_700 });
      expect((component.details as { chromaVersion: string }).chromaVersion).toMatch(/^\d+\.\d+/);

      const http = new ChromaHttp(server.url);
      await http.deleteCollection('chats');
      const docs = (await http.listCollections()).find((c) => c.name === 'documents');
      await http.add(docs?.id as string, records('late', 0, 10));
      await http.createCollection('stray', null, null);

      const bundle = await openBundle(path);
      try {
        const p = await prepareVectorRestore({ settings, bundle });
        expect(p.report.verified).toBe(true);
        const rep = await p.swap();
        await p.finish();
        expect([...(rep.previous as string[])].sort().map((n) => n.replace(/__before_.*/, ''))).toEqual([
          'documents',
          'memories',
          'stray',
        ]);
      } finally {
        await bundle.close();
      }
      const afterCosine = new Map<string, number[]>();
      const after = await view(server.url, afterCosine);
      const live = Object.fromEntries(Object.entries(after).filter(([n]) => !n.includes('__before_')));
      expect(live).toEqual(original);
      // Cosine vectors: every component within 1e-6 of the vector's largest (bundle-format.md §7.3.2).
      let worst = 0;
      for (const [key, v] of originalCosine) {
        const w = afterCosine.get(key) as number[];
        const scale = Math.max(...v.map(Math.abs));
        for (let k = 0; k < v.length; k++)
          worst = Math.max(worst, Math.abs((w[k] as number) - (v[k] as number)) / scale);
      }
      expect(originalCosine.size).toBe(900);
      expect(worst).toBeLessThanOrEqual(1e-6);

      // A second restore drops what the first kept, keeps its own.
      const again = await openBundle(path);
      try {
        const p = await prepareVectorRestore({ settings, bundle: again, now: new Date(Date.now() + 5_000) });
        await p.swap();
        const fin = await p.finish();
        expect(fin.dropped.length).toBe(3);
      } finally {
        await again.close();
      }
      const names = (await http.listCollections()).map((c) => c.name);
      expect(names.filter((n) => n.includes('__before_'))).toHaveLength(3);
    } finally {
      await server.stop();
    }
  });

  it('undo puts the replaced collections back; an older Chroma is refused', async () => {
    const server = await startChromaServer(join(work, 'srv2'));
    try {
      await fill(server.url, 200);
      const settings: VectorSettings = { mode: 'server', url: server.url };
      const { path } = await exportTo(settings, 'srv2');
      const http = new ChromaHttp(server.url);
      const mem = (await http.listCollections()).find((c) => c.name === 'memories');
      await http.add(mem?.id as string, records('after', 0, 5));
      const damaged = await view(server.url);
      const bundle = await openBundle(path);
      try {
        const p = await prepareVectorRestore({ settings, bundle });
        await p.swap();
        await p.undo();
      } finally {
        await bundle.close();
      }
      expect(await view(server.url)).toEqual(damaged);

      const w = await BundleWriter.create({ dir: join(work, 'bundles'), name: 'srv2b.zip' });
      const r = await exportVectors({ settings, bundle: w });
      const d = { ...r.details, chromaVersion: '99.0.0' };
      const b = await w.finalize({
        tool: { name: 'test', version: '0' },
        components: { vectors: { ...r.component, details: d } },
      });
      const newer = await openBundle(b.path);
      try {
        await expect(prepareVectorRestore({ settings, bundle: newer })).rejects.toMatchObject({
          code: 'VERSION_REFUSED',
        });
      } finally {
        await newer.close();
      }
      expect(await view(server.url)).toEqual(damaged);
    } finally {
      await server.stop();
    }
  });

  it('an unreachable server is one clear error', async () => {
    const writer = await BundleWriter.create({ dir: join(work, 'bundles'), name: 'down.zip' });
    await expect(
      exportVectors({ settings: { mode: 'server', url: 'http://127.0.0.1:9' }, bundle: writer }),
    ).rejects.toThrow(/Chroma at http:\/\/127\.0\.0\.1:9 is not reachable .*SAM_CHROMA_URL/);
    await writer.abort();
  });
});
