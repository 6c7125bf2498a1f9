/** @odoo-module **/
/**
 * A bundle sent from the browser to the sidecar through the addon's upload routes
 * (controllers/main.py), in chunks, each with its SHA-256:
 *
 *   POST /sam_backup/upload/start {name, size}   -> {id, chunk_size}
 *   GET  /sam_backup/upload/<id>                 -> {chunks: [received], ...}
 *   PUT  /sam_backup/upload/<id>/chunk/<n>       (X-Chunk-Sha256; refused if it arrived damaged)
 *   POST /sam_backup/upload/<id>/complete        -> {bundle, sha256} once the sidecar checked it
 *
 * Resumable: the upload id is remembered (localStorage, by file name, size and date) and, after a
 * lost connection, a damaged chunk or a page reload, the sidecar is asked which chunks it has and
 * only the missing ones are sent. Network errors are retried with a growing pause; a 4xx answer
 * other than a damaged chunk is final (it says what is wrong).
 */

export interface UploadProgress {
  sent: number;
  total: number;
  /** Chunks already on the sidecar when this upload (re)started. */
  resumedChunks: number;
}

export interface UploadOptions {
  /** Odoo's CSRF token (`odoo.csrf_token`): the POST/PUT routes check it. */
  csrfToken: string;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  /** Attempts per request after a network error or a 5xx/damaged answer (default 6). */
  retries?: number;
  /** First pause between attempts, doubled each time (default 1000 ms, at most 30 s). */
  retryDelayMs?: number;
  /** Where the upload id is remembered for a resume (default: localStorage, if any). */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  /** Prefix of the routes (default: same origin). */
  baseUrl?: string;
}

export interface UploadResult {
  bundle: string;
  sha256: string;
}

/** An answer the routes gave that retrying cannot change (bad file, too large, …). */
export class UploadRefusedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'UploadRefusedError';
  }
}

/** A response that is worth retrying: no answer at all, a 5xx, or a chunk that arrived damaged. */
class RetryableError extends Error {}

interface UploadStatus {
  chunks: number[];
  chunk_size?: number;
}

const storageKey = (file: File) => `sam_backup.upload:${file.name}:${file.size}:${file.lastModified}`;

function defaultStorage(): UploadOptions['storage'] {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

async function sha256Hex(blob: Blob): Promise<string | null> {
  // crypto.subtle exists in secure contexts only (https, or localhost): elsewhere the chunk goes
  // without it, and the Odoo route's and the sidecar's own hashes still check what they received.
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = await subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export async function uploadBundle(file: File, opts: UploadOptions): Promise<UploadResult> {
  const base = opts.baseUrl ?? '';
  const storage = opts.storage === undefined ? defaultStorage() : opts.storage;
  const retries = opts.retries ?? 6;
  const firstDelay = opts.retryDelayMs ?? 1000;
  const csrf = `csrf_token=${encodeURIComponent(opts.csrfToken)}`;

  /** One request, retried while retrying can help; the parsed JSON answer. */
  async function request<T>(what: string, url: string, init: () => Promise<RequestInit>): Promise<T> {
    let delay = firstDelay;
    for (let attempt = 0; ; attempt++) {
      try {
        let res: Response;
        try {
          res = await fetch(url, { ...(await init()), credentials: 'same-origin', signal: opts.signal });
        } catch (err) {
          if (opts.signal?.aborted) throw err;
          throw new RetryableError(`${what}: the connection was lost (${(err as Error).message})`);
        }
        const text = await res.text();
        let body: { error?: string } & Record<string, unknown> = {};
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          body = { error: text.slice(0, 300) };
        }
        if (res.ok) return body as T;
        const message = `${what}: ${body.error ?? `HTTP ${res.status}`}`;
        if (res.status >= 500 || (res.status === 400 && /damaged/.test(body.error ?? '')))
          throw new RetryableError(message);
        throw new UploadRefusedError(message, res.status);
      } catch (err) {
        if (!(err instanceof RetryableError) || attempt >= retries) throw err;
        await sleep(delay, opts.signal);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  const json = (body: unknown) => async (): Promise<RequestInit> => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

  // Resume an upload of this very file if the sidecar still has it; else start one.
  let id = storage?.getItem(storageKey(file)) ?? null;
  let chunkSize = 0;
  let have = new Set<number>();
  if (id) {
    try {
      const status = await request<UploadStatus>(
        'upload status',
        `${base}/sam_backup/upload/${id}`,
        async () => ({
          method: 'GET',
        }),
      );
      have = new Set(status.chunks);
      chunkSize = status.chunk_size ?? 0;
    } catch (err) {
      if (!(err instanceof UploadRefusedError)) throw err;
      id = null; // expired or unknown: start again
    }
  }
  if (!id || !chunkSize) {
    const started = await request<{ id: string; chunk_size: number }>(
      `upload of ${file.name}`,
      `${base}/sam_backup/upload/start?${csrf}`,
      json({ name: file.name, size: file.size }),
    );
    id = started.id;
    chunkSize = started.chunk_size;
    have = new Set();
    storage?.setItem(storageKey(file), id);
  }

  const count = Math.max(1, Math.ceil(file.size / chunkSize));
  const sizeOf = (n: number) => Math.min(chunkSize, file.size - n * chunkSize);
  const resumedChunks = [...have].filter((n) => n < count).length;
  let sent = [...have].filter((n) => n < count).reduce((s, n) => s + sizeOf(n), 0);
  opts.onProgress?.({ sent, total: file.size, resumedChunks });

  for (let n = 0; n < count; n++) {
    if (have.has(n)) continue;
    const chunk = file.slice(n * chunkSize, n * chunkSize + sizeOf(n));
    const sha = await sha256Hex(chunk);
    await request(
      `chunk ${n} of ${file.name}`,
      `${base}/sam_backup/upload/${id}/chunk/${n}?${csrf}`,
      async () => ({
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', ...(sha ? { 'X-Chunk-Sha256': sha } : {}) },
        body: chunk,
      }),
    );
    sent += chunk.size;
    opts.onProgress?.({ sent, total: file.size, resumedChunks });
  }

  const done = await request<UploadResult>(
    `check of ${file.name}`,
    `${base}/sam_backup/upload/${id}/complete?${csrf}`,
    json({}),
  );
  storage?.removeItem(storageKey(file));
  return done;
}
