/**
 * What `export` and `restore` share: the components option, the mapping of the engine's errors to
 * exit codes, and progress lines from the engine's progress events.
 */
import { BundleError, BundleRefusedError } from '@sam-backup/bundle';
import {
  BundleDamagedError,
  COMPONENTS,
  type Component,
  type EngineProgress,
  PreflightError,
  RestoreRefusedError,
} from '@sam-backup/engine';
import { GraphError } from '@sam-backup/graph';
import { OdooDataError } from '@sam-backup/odoo-data';
import { VectorError } from '@sam-backup/vectors';
import { CliError, EXIT } from '../exit-codes.js';
import type { ProgressReporter } from '../output/progress.js';

export function parseComponents(value: string): Component[] {
  const names = [
    ...new Set(
      value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  ];
  const unknown = names.filter((n) => !(COMPONENTS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new CliError(
      `--components ${value}: ${unknown.length > 0 ? `${unknown.join(', ')} cannot be backed up by this version` : 'names no component'}; the components are: ${COMPONENTS.join(', ')}`,
      EXIT.usage,
    );
  }
  return names as Component[];
}

/** Turns an engine error into a CliError with the exit code of its kind (README "Exit codes"). */
export function asCliError(err: unknown, what: string): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof BundleDamagedError) return new CliError(err.message, EXIT.refused);
  if (err instanceof RestoreRefusedError)
    return new CliError(`${what} refused, nothing was changed: ${err.message}`, EXIT.refused);
  if (err instanceof BundleRefusedError) {
    const list = err.problems.map((p) => `  [${p.code}] ${p.message}`).join('\n');
    return new CliError(`${what} refused, nothing was changed:\n${list}`, EXIT.refused);
  }
  if (err instanceof BundleError) {
    // A bundle found damaged while being read (checksum, size) is refused; a write failure is not.
    return new CliError(`${what}: ${err.message}`, err.code === 'WRITE_FAILED' ? EXIT.failed : EXIT.refused);
  }
  if (err instanceof PreflightError) {
    return new CliError(
      `${what}: preflight: ${err.message}; nothing was written`,
      err.kind === 'usage' ? EXIT.usage : EXIT.failed,
    );
  }
  if (err instanceof OdooDataError || err instanceof GraphError || err instanceof VectorError) {
    const code = err.kind === 'usage' ? EXIT.usage : err.kind === 'refused' ? EXIT.refused : EXIT.failed;
    return new CliError(`${what}: ${err.message}`, code);
  }
  return err;
}

/** Feeds the engine's progress events to the reporter. */
export function engineProgress(progress: ProgressReporter): (p: EngineProgress) => void {
  return (p) =>
    progress.update({
      phase:
        p.component === 'bundle' ? p.phase : `${p.component} ${p.phase.replace(/^(graph|vectors) /, '')}`,
      ...(p.item === undefined ? {} : { item: p.item }),
      done: p.done,
      total: p.total,
      unit: p.unit,
    });
}

/** Odoo-only progress (the demo), in the same shape. */
export function odooProgress(
  progress: ProgressReporter,
): (p: { phase: string; table?: string; rowsDone: number; rowsTotal: number }) => void {
  return (p) =>
    progress.update({
      phase: p.phase,
      ...(p.table === undefined ? {} : { item: p.table }),
      done: p.rowsDone,
      total: p.rowsTotal,
      unit: 'items',
    });
}
