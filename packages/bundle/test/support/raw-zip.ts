import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';

/**
 * A minimal zip builder for hostile test bundles, written independently of the product's writer
 * (which never produces such files): every field can be made to lie.
 */
export interface RawEntry {
  name: string | Buffer;
  data: Buffer;
  /** 0 store (default), 8 deflate. */
  method?: 0 | 8;
  /** Unix mode in the high 16 bits of the external attributes (e.g. 0o120777 for a symlink). */
  unixMode?: number;
  flags?: number;
  /** Override what the central directory declares. */
  centralUncompressedSize?: number;
  /** Override the file name in the local header only. */
  localName?: string;
  /** Override the CRC-32 in both headers. */
  crc?: number;
  /** Override the sizes in the local header only (the central directory keeps the true ones). */
  localSizes?: { compressed?: number; uncompressed?: number };
}

export function buildZip(entries: readonly RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const localName = e.localName === undefined ? name : Buffer.from(e.localName, 'utf8');
    const method = e.method ?? 0;
    const body = method === 8 ? deflateRawSync(e.data) : e.data;
    const crc = e.crc ?? crc32(e.data);
    const flags = (e.flags ?? 0) | 0x800;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(e.localSizes?.compressed ?? body.length, 18);
    local.writeUInt32LE(e.localSizes?.uncompressed ?? e.data.length, 22);
    local.writeUInt16LE(localName.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, localName, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.centralUncompressedSize ?? e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30);
    central.writeUInt16LE(0, 32);
    central.writeUInt16LE(0, 34);
    central.writeUInt16LE(0, 36);
    central.writeUInt32LE(((e.unixMode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + localName.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A metadata.json of format version 1 listing `entries` (by their real content unless overridden). */
export function manifestFor(
  entries: ReadonlyArray<{ name: string; data: Buffer; size?: number; compression?: 'store' | 'deflate' }>,
  patch: Record<string, unknown> = {},
): Buffer {
  const meta = {
    format: 'sam-backup',
    formatVersion: 1,
    createdAt: '2025-01-16T14:30:22.000Z',
    tool: { name: 'sam-backup', version: '0.1.0' },
    source: {},
    components: {},
    options: {
      secretsIncluded: false,
      secretsOmitted: [],
      encrypted: false,
      compression: { method: 'deflate', level: 1 },
    },
    entries: entries.map((e) => ({
      name: e.name,
      size: e.size ?? e.data.length,
      sha256: sha256(e.data),
      compression: e.compression ?? 'store',
    })),
    ...patch,
  };
  return Buffer.from(JSON.stringify(meta));
}
