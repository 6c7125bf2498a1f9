/**
 * Hooks the user configures around Chroma: pause/resume the application's writers during a
 * snapshot, stop/start whatever serves the persist directory around a swap. A hook is a shell
 * command, or an http(s) URL that is POSTed to; it must finish within two minutes and succeed
 * (exit 0, HTTP 2xx), else the step that needed it fails and says which hook.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VectorError } from './errors.js';

const run = promisify(execFile);

export type Hook = string;

const TIMEOUT_MS = 120_000;

export async function runHook(hook: Hook, what: string): Promise<void> {
  if (/^https?:\/\//.test(hook)) {
    let status = 0;
    try {
      const res = await fetch(hook, { method: 'POST', signal: AbortSignal.timeout(TIMEOUT_MS) });
      status = res.status;
      await res.arrayBuffer();
    } catch (err) {
      throw new VectorError(
        'HOOK_FAILED',
        `the ${what} hook (POST ${redact(hook)}) failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (status < 200 || status > 299) {
      throw new VectorError(
        'HOOK_FAILED',
        `the ${what} hook (POST ${redact(hook)}) answered HTTP ${status}: it must answer 2xx`,
      );
    }
    return;
  }
  try {
    await run('/bin/sh', ['-c', hook], { timeout: TIMEOUT_MS });
  } catch (err) {
    const e = err as Error & { stderr?: string; code?: number };
    throw new VectorError(
      'HOOK_FAILED',
      `the ${what} hook failed (exit ${e.code ?? '?'}): ${(e.stderr ?? e.message).trim().slice(0, 500)} — fix the command or the setting`,
      { cause: err },
    );
  }
}

/** A URL without its credentials, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = u.search ? '?…' : '';
    return u.toString();
  } catch {
    return '(hook URL)';
  }
}
