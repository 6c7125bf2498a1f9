/**
 * Chroma's HTTP API (v2), the few calls a backup needs. Spoken directly rather than through the
 * `chromadb` client because the client refuses what the server holds: a batch where some records
 * have no document or no metadata (`ChromaValueError: Expected each document to be a string`),
 * which a restore must put back as it was.
 */
import { VectorError } from './errors.js';

export interface ChromaCollectionInfo {
  id: string;
  name: string;
  metadata: Record<string, unknown> | null;
  configuration_json: Record<string, unknown> | null;
  dimension: number | null;
}

export interface ChromaRecords {
  ids: string[];
  embeddings: number[][] | null;
  documents: (string | null)[] | null;
  metadatas: (Record<string, unknown> | null)[] | null;
  uris: (string | null)[] | null;
}

export class ChromaHttp {
  readonly base: string;
  private readonly headers: Record<string, string>;

  /** `url`: the server (http://host:port); tenant and database default to Chroma's defaults. */
  constructor(
    readonly url: string,
    readonly tenant = 'default_tenant',
    readonly database = 'default_database',
    token?: string,
  ) {
    this.base = url.replace(/\/+$/, '');
    this.headers = {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: this.headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(300_000),
      });
    } catch (err) {
      throw new VectorError(
        'UNREACHABLE',
        `Chroma at ${this.base} is not reachable (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}): start it or fix SAM_CHROMA_URL`,
        { cause: err },
      );
    }
    const text = await res.text();
    if (!res.ok) {
      throw new VectorError(
        res.status === 404 ? 'NOT_FOUND' : 'LOAD_FAILED',
        `Chroma ${method} ${path} answered HTTP ${res.status}: ${text.slice(0, 500)}`,
      );
    }
    return (text ? JSON.parse(text) : null) as T;
  }

  private get col(): string {
    return `/api/v2/tenants/${encodeURIComponent(this.tenant)}/databases/${encodeURIComponent(this.database)}/collections`;
  }

  version(): Promise<string> {
    return this.call<string>('GET', '/api/v2/version');
  }

  async heartbeat(): Promise<void> {
    await this.call('GET', '/api/v2/heartbeat');
  }

  async listCollections(): Promise<ChromaCollectionInfo[]> {
    const out: ChromaCollectionInfo[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await this.call<ChromaCollectionInfo[]>('GET', `${this.col}?limit=100&offset=${offset}`);
      out.push(...page);
      if (page.length < 100) break;
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  createCollection(
    name: string,
    metadata: Record<string, unknown> | null,
    configuration: Record<string, unknown> | null,
  ): Promise<ChromaCollectionInfo> {
    return this.call('POST', this.col, {
      name,
      ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
      ...(configuration ? { configuration } : {}),
    });
  }

  async renameCollection(id: string, newName: string): Promise<void> {
    await this.call('PUT', `${this.col}/${id}`, { new_name: newName });
  }

  async deleteCollection(name: string): Promise<void> {
    await this.call('DELETE', `${this.col}/${encodeURIComponent(name)}`);
  }

  count(id: string): Promise<number> {
    return this.call<number>('GET', `${this.col}/${id}/count`);
  }

  async add(id: string, records: ChromaRecords): Promise<void> {
    await this.call('POST', `${this.col}/${id}/add`, records);
  }

  get(id: string, q: { ids?: string[]; limit?: number; offset?: number }): Promise<ChromaRecords> {
    return this.call('POST', `${this.col}/${id}/get`, {
      ...q,
      include: ['embeddings', 'documents', 'metadatas', 'uris'],
    });
  }
}
