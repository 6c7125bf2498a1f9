import { BundleRefusedError, inspectBundle } from '@sam-backup/bundle';
import type { Command } from 'commander';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { type CliIO, formatBytes, printJson } from '../output/io.js';
import { requireFile } from './verify.js';

export function registerInspectCommand(program: Command, io: CliIO, state: { exitCode: ExitCode }): void {
  program
    .command('inspect')
    .description(
      'show what a bundle holds (versions, components, counts, sizes, options) without extracting it',
    )
    .argument('<bundle>', 'the bundle (.zip) to describe')
    .option('--json', 'print the description as JSON on stdout')
    .action(async (bundle: string, opts: { json?: boolean }) => {
      await requireFile(bundle);
      let report: Awaited<ReturnType<typeof inspectBundle>>;
      try {
        report = await inspectBundle(bundle);
      } catch (err) {
        if (err instanceof BundleRefusedError) {
          if (opts.json) printJson(io, { path: bundle, ok: false, problems: err.problems });
          const list = err.problems.map((p) => `  [${p.code}] ${p.message}`).join('\n');
          throw new CliError(`bundle ${bundle} refused:\n${list}`, EXIT.refused);
        }
        throw err;
      }
      state.exitCode = EXIT.ok;
      if (opts.json) {
        printJson(io, report);
        return;
      }
      const out: string[] = [];
      out.push(`${report.path}`);
      out.push(
        `  format        ${report.format} v${report.formatVersion}, written by ${report.tool.name} ${report.tool.version}`,
      );
      out.push(`  created       ${report.createdAt}`);
      out.push(
        `  size          ${formatBytes(report.fileSize)} (${formatBytes(report.contentBytes)} of content in ${report.entryCount} entries)`,
      );
      const s = report.source;
      const versions = [
        s.odoo
          ? `Odoo ${s.odoo.version}${s.odoo.database ? ` (database ${s.odoo.database})` : ''}`
          : undefined,
        s.postgres ? `PostgreSQL ${s.postgres.version}` : undefined,
        s.age === null ? 'no AGE' : s.age ? `AGE ${s.age.version}` : undefined,
        s.chroma ? `Chroma ${s.chroma.version} (${s.chroma.mode})` : undefined,
      ].filter(Boolean);
      if (versions.length > 0) out.push(`  source        ${versions.join(', ')}`);
      if (s.modules && Object.keys(s.modules).length > 0) {
        out.push(
          `  modules       ${Object.entries(s.modules)
            .map(([m, v]) => `${m} ${v}`)
            .join(', ')}`,
        );
      }
      const components = Object.entries(report.components);
      out.push(`  components    ${components.length === 0 ? '(none)' : ''}`);
      for (const [name, c] of components) {
        const counts = Object.entries(c.counts)
          .map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`)
          .join(', ');
        out.push(
          `    ${name.padEnd(12)}${counts}${c.contentHash ? `  hash ${c.contentHash.slice(0, 16)}…` : ''}`,
        );
      }
      out.push('  entries by folder');
      for (const [area, a] of Object.entries(report.areas)) {
        out.push(`    ${area.padEnd(12)}${String(a.entries).padStart(7)} entries  ${formatBytes(a.bytes)}`);
      }
      const o = report.options;
      out.push(
        `  options       secrets ${o.secretsIncluded ? 'INCLUDED' : 'left out'}, ${o.encrypted ? 'encrypted' : 'not encrypted'}, ${o.compression.method} level ${o.compression.level}`,
      );
      for (const x of o.secretsOmitted) out.push(`    left out: ${x.table}.${x.column} (${x.rows} rows)`);
      if (o.consistentCut) out.push(`  consistency   ${o.consistentCut}`);
      io.stdout.write(`${out.join('\n')}\n`);
    });
}
