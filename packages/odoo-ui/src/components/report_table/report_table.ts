/** @odoo-module **/
/**
 * What a restore of a bundle would change (its dry run) or did (after the restore): one row per
 * Odoo model, graph table (a label of the graph) and vector collection, with what the bundle holds,
 * what the installation holds now, and what the restore inserts, updates and deletes; then the
 * refusals, the version and module warnings, the references to records outside the backup, and the
 * disk the restore needs.
 */
import { Component } from '@odoo/owl';
import { formatBytes, formatCount } from '../../lib/format.js';
import { diskShort, type RestoreInstallationReport } from '../../lib/jobs.js';

export interface ReportRow {
  key: string;
  store: 'Odoo' | 'Graph' | 'Vectors';
  name: string;
  detail: string;
  inBundle: string;
  now: string;
  toInsert: string;
  toUpdate: string;
  toDelete: string;
  dangling: string;
  verified: boolean | null;
}

interface Props {
  report: RestoreInstallationReport;
  /** After a restore: show the verification column. */
  showVerified?: boolean;
}

const count = (n: number | null | undefined) => (n === null || n === undefined ? '—' : formatCount(n));

export class SamBackupReportTable extends Component<Props> {
  static override template = 'sam_backup.ReportTable';
  static override props = { report: Object, showVerified: { type: Boolean, optional: true } };

  get rows(): ReportRow[] {
    const r = this.props.report;
    const rows: ReportRow[] = [];
    // Tables the restore changes first, so they are seen without scrolling through ~80 tables.
    const changes = (t: { toInsert: number; toUpdate: number; toDelete: number }) =>
      t.toInsert + t.toUpdate + t.toDelete > 0 ? 0 : 1;
    const tables = [...(r.odoo?.tables ?? [])].sort((a, b) => changes(a) - changes(b));
    for (const t of tables) {
      const dangling = t.missingRefs.reduce((s, m) => s + m.ids.length, 0);
      rows.push({
        key: `odoo:${t.table}`,
        store: 'Odoo',
        name: t.model ?? t.table,
        detail: t.model ? t.table : t.kind,
        inBundle: count(t.rowsInBundle),
        now: count(t.rowsNow),
        toInsert: count(t.toInsert),
        toUpdate: count(t.toUpdate),
        toDelete: count(t.toDelete),
        dangling: dangling ? count(dangling) : '',
        verified: r.dryRun ? null : t.verified,
      });
    }
    // The graph database and the vector store are replaced as a whole (and verified): what the
    // bundle holds replaces what is there now.
    for (const t of r.graph?.tables ?? []) {
      rows.push({
        key: `graph:${t.table}`,
        store: 'Graph',
        name: t.table,
        detail: r.graph?.database ?? '',
        inBundle: count(t.rowsInBundle),
        now: count(t.rowsNow),
        toInsert: count(t.rowsInBundle),
        toUpdate: '—',
        toDelete: count(t.rowsNow ?? 0),
        dangling: '',
        verified: r.dryRun ? null : (r.graph?.verified ?? null),
      });
    }
    for (const c of r.vectors?.collections ?? []) {
      rows.push({
        key: `vectors:${c.name}`,
        store: 'Vectors',
        name: c.name,
        detail: r.vectors?.mode === 'server' ? 'collection' : 'collection (directory)',
        inBundle: count(c.recordsInBundle),
        now: count(c.recordsNow),
        toInsert: count(c.recordsInBundle),
        toUpdate: '—',
        toDelete: count(c.recordsNow ?? 0),
        dangling: '',
        verified: r.dryRun ? null : (r.vectors?.verified ?? null),
      });
    }
    return rows;
  }

  get refusals(): string[] {
    const out = [...(this.props.report.odoo?.refusals ?? [])];
    const short = diskShort(this.props.report);
    if (short.length) {
      const what = short.map(
        (d) =>
          `${d.place} ${d.path ?? ''} needs about ${formatBytes(d.needBytes)}${d.sharesFilesystemWith?.length ? ` (with ${d.sharesFilesystemWith.join(', ')} on the same disk)` : ''}, ${formatBytes(d.freeBytes ?? 0)} free`,
      );
      out.push(`Not enough disk: ${what.join('; ')}. Free some space, then preview again.`);
    }
    return out;
  }

  get warnings(): string[] {
    const r = this.props.report;
    const out: string[] = [];
    const v = r.odoo?.odooVersion;
    if (v && v.bundle !== v.target) out.push(`Odoo ${v.bundle} in the bundle, ${v.target} here.`);
    for (const m of r.odoo?.modules ?? []) {
      if (m.verdict === 'missing')
        out.push(`Module ${m.name} (${m.bundle} in the bundle) is not installed here.`);
      else if (m.verdict !== 'same')
        out.push(`Module ${m.name}: ${m.bundle} in the bundle, ${m.target} here.`);
    }
    out.push(...(r.odoo?.warnings ?? []));
    for (const d of r.graph?.differences ?? []) out.push(`Graph: ${d}`);
    return out;
  }

  get dangling(): string[] {
    const out: string[] = [];
    for (const t of this.props.report.odoo?.tables ?? []) {
      for (const m of t.missingRefs) {
        const ids = m.ids.slice(0, 5).join(', ') + (m.ids.length > 5 ? `, … (${m.ids.length})` : '');
        out.push(`${t.model ?? t.table}.${m.column} → ${m.table} ${ids}`);
      }
    }
    return out;
  }

  get files(): string {
    const f = this.props.report.odoo?.files;
    return f
      ? `${count(f.inBundle)} files in the bundle, ${count(f.toAdd)} to add, ${count(f.present)} already present`
      : '';
  }

  get disk(): Array<{
    key: string;
    place: string;
    where: string;
    need: string;
    free: string;
    short: boolean;
  }> {
    const short = diskShort(this.props.report);
    return (this.props.report.disk ?? []).map((d, i) => ({
      key: `${d.place}:${i}`,
      place: d.place,
      where: d.path ?? d.server ?? '',
      need: formatBytes(d.needBytes),
      free: d.freeBytes === null ? 'not measurable from here' : formatBytes(d.freeBytes),
      short: short.includes(d),
    }));
  }
}
