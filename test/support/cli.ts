import { PassThrough } from 'node:stream';
import { run } from '@sam-backup/cli';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sam-backup` in-process with captured stdout/stderr (the same code the binary runs). */
export async function sam(...argv: string[]): Promise<CliResult> {
  return samWith({}, ...argv);
}

/**
 * The same, with a given environment (instead of process.env) and stdin (none by default: no
 * terminal, so commands that must ask refuse).
 */
export async function samWith(
  ctx: { env?: NodeJS.ProcessEnv; stdin?: NodeJS.ReadableStream & { isTTY?: boolean } },
  ...argv: string[]
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await run(argv, { stdout, stderr, ...ctx });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
