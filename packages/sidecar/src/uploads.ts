/**
 * Chunked, resumable uploads of a bundle (for a restore from a file a person picks): start with
 * the name and size, send chunks in any order, each with its SHA-256 (a damaged chunk is refused
 * and sent again), ask which arrived (resume after a lost connection), complete: the chunks are
 * assembled in order, streamed, into the backup folder and the bundle is verified before it is
 * listed. Everything is streamed to disk; nothing is held in memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { verifyBundle } from '@sam-backup/bundle';
import { NotFoundError } from './bundles.js';

export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

interface Meta {
  name: string;
  size: number;
  created: string;
}

const ID = /^[0-9a-f-]{36}$/;

function root(dir: string): string {
  return join(dir, '.uploads');
}

async function meta(dir: string, id: string): Promise<Meta> {
  if (!ID.test(id)) throw new NotFoundError(`upload ${JSON.stringify(id)} does not exist`);
  try {
    return JSON.parse(await readFile(join(root(dir), id, 'meta.json'), 'utf8')) as Meta;
  } catch {
    throw new NotFoundError(
      `upload ${id} does not exist (or was completed): start a new one with POST /uploads`,
    );
  }
}

export async function startUpload(dir: string, name: string, size: number, max: number): Promise<string> {
  if (!/^[\w.-]+\.zip$/.test(name) || name.startsWith('.'))
    throw new UploadError(400, `name ${JSON.stringify(name)}: a bundle file name (name.zip) is expected`);
  if (!Number.isSafeInteger(size) || size <= 0)
    throw new UploadError(400, 'size: the bundle size in bytes is expected');
  if (size > max)
    throw new UploadError(
      413,
      `the bundle is ${size} bytes, over the upload limit of ${max} (SAM_SIDECAR_MAX_UPLOAD_BYTES)`,
    );
  if (existsSync(join(dir, name)))
    throw new UploadError(409, `a bundle named ${name} is already in the backup folder`);
  const id = randomUUID();
  await mkdir(join(root(dir), id), { recursive: true });
  await writeFile(
    join(root(dir), id, 'meta.json'),
    JSON.stringify({ name, size, created: new Date().toISOString() }),
  );
  return id;
}

async function received(dir: string, id: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const f of await readdir(join(root(dir), id))) {
    const m = /^(\d+)\.chunk$/.exec(f);
    if (m) out.set(Number(m[1]), (await stat(join(root(dir), id, f))).size);
  }
  return out;
}

export async function uploadStatus(
  dir: string,
  id: string,
): Promise<{ name: string; size: number; chunks: number[]; bytes: number }> {
  const m = await meta(dir, id);
  const got = await received(dir, id);
  return {
    name: m.name,
    size: m.size,
    chunks: [...got.keys()].sort((a, b) => a - b),
    bytes: [...got.values()].reduce((a, b) => a + b, 0),
  };
}

export async function putChunk(
  dir: string,
  id: string,
  n: number,
  sha256: string | undefined,
  body: NodeJS.ReadableStream,
): Promise<void> {
  const m = await meta(dir, id);
  if (!Number.isSafeInteger(n) || n < 0 || n > 1_000_000)
    throw new UploadError(400, `chunk number ${n}: 0, 1, 2, … expected`);
  if (!sha256 || !/^[0-9a-f]{64}$/i.test(sha256))
    throw new UploadError(400, 'header X-Chunk-Sha256: the chunk SHA-256 in hex is expected');
  const already = [...(await received(dir, id)).entries()]
    .filter(([k]) => k !== n)
    .reduce((a, [, v]) => a + v, 0);
  const part = join(root(dir), id, `${n}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(
      body,
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          bytes += chunk.length;
          if (already + bytes > m.size) {
            cb(new UploadError(413, `the chunks add up to more than the declared ${m.size} bytes`));
            return;
          }
          hash.update(chunk);
          cb(null, chunk);
        },
      }),
      createWriteStream(part),
    );
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  const got = hash.digest('hex');
  if (got !== sha256.toLowerCase()) {
    await rm(part, { force: true });
    throw new UploadError(
      422,
      `chunk ${n} arrived damaged (SHA-256 ${got}, expected ${sha256.toLowerCase()}): send it again`,
    );
  }
  await rename(part, join(root(dir), id, `${n}.chunk`));
}

export async function completeUpload(dir: string, id: string): Promise<{ bundle: string; sha256: string }> {
  const m = await meta(dir, id);
  const got = await received(dir, id);
  const count = got.size;
  for (let i = 0; i < count; i++) {
    if (!got.has(i))
      throw new UploadError(
        409,
        `chunk ${i} is missing (received: ${[...got.keys()].sort((a, b) => a - b).join(', ')}): send it, then complete again`,
      );
  }
  const total = [...got.values()].reduce((a, b) => a + b, 0);
  if (total !== m.size)
    throw new UploadError(
      409,
      `${total} of ${m.size} bytes received: send the remaining chunks, then complete again`,
    );
  const assembled = join(root(dir), id, 'assembled.zip');
  const hash = createHash('sha256');
  const out = createWriteStream(assembled);
  const closed = once(out, 'close');
  for (let i = 0; i < count; i++) {
    for await (const chunk of createReadStream(join(root(dir), id, `${i}.chunk`))) {
      hash.update(chunk as Buffer);
      if (!out.write(chunk)) await once(out, 'drain');
    }
  }
  out.end();
  await closed;
  const report = await verifyBundle(assembled);
  if (!report.ok) {
    await rm(join(root(dir), id), { recursive: true, force: true });
    throw new UploadError(
      422,
      `the uploaded file is not a sound bundle: ${report.problems.map((p) => `[${p.code}] ${p.message}`).join('; ')}`,
    );
  }
  const sha256 = hash.digest('hex');
  const final = join(dir, m.name);
  if (existsSync(final))
    throw new UploadError(409, `a bundle named ${m.name} is already in the backup folder`);
  await rename(assembled, final);
  await writeFile(`${final}.sha256`, `${sha256}  ${m.name}\n`);
  await rm(join(root(dir), id), { recursive: true, force: true });
  return { bundle: m.name, sha256 };
}
