/**
 * A real Chroma server on a persist directory, started from the `chromadb` npm package's CLI
 * (its Rust server, through the Linux bindings): for the demo, the fixtures and the tests, and
 * for whoever wants to open a restored directory to look at it. Listens on 127.0.0.1 only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VectorError } from './errors.js';
import { ChromaHttp } from './http.js';

export interface ChromaServer {
  url: string;
  port: number;
  path: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function cliPath(): string {
  return join(dirname(fileURLToPath(import.meta.resolve('chromadb'))), 'cli.mjs');
}

/** Starts Chroma on `path` (created when missing) and waits until it answers. */
export async function startChromaServer(
  path: string,
  opts: { port?: number; timeoutMs?: number } = {},
): Promise<ChromaServer> {
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawn(
    process.execPath,
    [cliPath(), 'run', '--path', path, '--port', String(port), '--host', '127.0.0.1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (c: Buffer) => {
    if (output.length < 16_384) output += c.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code) => {
      exited = code;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const http = new ChromaHttp(url);
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      throw new VectorError(
        'UNREACHABLE',
        `the Chroma server on ${path} exited (${exited}) before it answered: ${output.slice(-2000)}`,
      );
    }
    try {
      await http.heartbeat();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new VectorError(
          'UNREACHABLE',
          `the Chroma server on ${path} did not answer within ${opts.timeoutMs ?? 60_000} ms: ${output.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  return {
    url,
    port,
    path,
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
