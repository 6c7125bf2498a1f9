import { type CliIO, formatBytes, formatDuration } from './io.js';

export interface ProgressUpdate {
  phase: string;
  /** What is being worked on (an entry, a table, a collection). */
  item?: string;
  done: number;
  total: number;
  /** Whether done/total count bytes (shown as sizes) or items. */
  unit: 'bytes' | 'items';
}

/**
 * Progress on stderr, never on stdout (stdout carries the result, e.g. `--json`).
 * - on a terminal: one line redrawn in place, at most 10 times a second;
 * - with `--json`: one JSON object a line, at most once a second, plus the last one;
 * - otherwise (a log file, CI): a plain line at most every 2 seconds, plus the last one.
 */
export class ProgressReporter {
  /** When the current phase began: rate and ETA are the phase's own. */
  private startedAt = Date.now();
  private emitted: ProgressUpdate | undefined;
  private lastAt = 0;
  private last: ProgressUpdate | undefined;
  private drewLine = false;
  private readonly mode: 'tty' | 'json' | 'plain';

  constructor(
    private readonly io: CliIO,
    opts: { json: boolean; quiet?: boolean },
  ) {
    this.mode = opts.json ? 'json' : io.stderr.isTTY ? 'tty' : 'plain';
    if (opts.quiet) this.update = () => {};
  }

  update(p: ProgressUpdate): void {
    const now = Date.now();
    if (this.last !== undefined && this.last.phase !== p.phase) this.startedAt = now;
    this.last = p;
    const interval = this.mode === 'tty' ? 100 : this.mode === 'json' ? 1000 : 2000;
    // The last update of a known total always shows; an unknown total (0) is rate-limited throughout.
    if (now - this.lastAt < interval && (p.total <= 0 || p.done < p.total)) return;
    this.lastAt = now;
    this.emit(p, now);
  }

  /** Ends the progress display: the final state is always shown once. */
  finish(): void {
    if (this.last && this.lastAt !== 0 && this.emitted !== this.last) this.emit(this.last, Date.now());
    if (this.drewLine) this.io.stderr.write('\n');
    this.drewLine = false;
    this.last = undefined;
    this.lastAt = 0;
    this.startedAt = Date.now();
  }

  private emit(p: ProgressUpdate, now: number): void {
    this.emitted = p;
    const elapsedMs = now - this.startedAt;
    const rate = elapsedMs > 0 ? (p.done / elapsedMs) * 1000 : 0;
    const etaMs = rate > 0 && p.total > p.done ? ((p.total - p.done) / rate) * 1000 : 0;
    if (this.mode === 'json') {
      this.io.stderr.write(
        `${JSON.stringify({ type: 'progress', ...p, elapsedMs, ratePerSecond: Math.round(rate), etaMs: Math.round(etaMs) })}\n`,
      );
      return;
    }
    if (p.total <= 0) {
      // An unknown total: only the count so far.
      const line = `${p.phase}${p.item ? ` ${p.item}` : ''}: ${p.unit === 'bytes' ? formatBytes(p.done) : p.done}`;
      if (this.mode === 'tty') {
        this.io.stderr.write(`\r\x1b[2K${line}`);
        this.drewLine = true;
      } else {
        this.io.stderr.write(`${line}\n`);
      }
      return;
    }
    const pct = Math.min(100, (p.done / p.total) * 100);
    const amount =
      p.unit === 'bytes'
        ? `${formatBytes(p.done)} / ${formatBytes(p.total)}, ${formatBytes(rate)}/s`
        : `${p.done} / ${p.total}`;
    const eta = etaMs > 0 ? `, ETA ${formatDuration(etaMs)}` : '';
    if (this.mode === 'tty') {
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      const item = p.item ? ` ${p.item.length > 40 ? `…${p.item.slice(-39)}` : p.item}` : '';
      this.io.stderr.write(
        `\r\x1b[2K${p.phase} [${bar}] ${pct.toFixed(0).padStart(3)}% ${amount}${eta}${item}`,
      );
      this.drewLine = true;
    } else {
      this.io.stderr.write(`${p.phase}${p.item ? ` ${p.item}` : ''}: ${pct.toFixed(1)}% (${amount}${eta})\n`);
    }
  }
}
