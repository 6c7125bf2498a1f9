import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

/** A pass-through that measures what flows through it: size, SHA-256 and CRC-32. */
export class MeasuringTransform extends Transform {
  size = 0;
  crc = 0;
  private readonly hash: Hash = createHash('sha256');
  private digestHex: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.crc = crc32(chunk, this.crc);
    this.hash.update(chunk);
    cb(null, chunk);
  }

  /** The SHA-256 in hex; only after the stream has ended. */
  sha256(): string {
    this.digestHex ??= this.hash.digest('hex');
    return this.digestHex;
  }
}
