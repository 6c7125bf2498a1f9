#!/usr/bin/env node
// Writer and reader benchmark: exceljs vs @sam-backup/workbook, each case in its own process so
// peak RSS is that case's alone. Not run by tests. Build first (pnpm --filter @sam-backup/workbook build).
//
//   node bench/run.mjs [--rows 1000000,3000000] [--only write|read] [--dir /tmp] [--keep]
//
// Prints one JSON line per case and a table. Rows are ~10 mixed columns (bench/data.mjs).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const counts = opt('--rows', '1000000').split(',').map(Number);
const only = opt('--only', 'all');
const dir = await mkdtemp(join(opt('--dir', tmpdir()), 'workbook-bench-'));
const here = new URL('.', import.meta.url).pathname;

function run(script, ...rest) {
  const out = execFileSync(process.execPath, [join(here, script), ...rest.map(String)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const line = out.trim().split('\n').pop();
  console.log(line);
  return JSON.parse(line);
}

const results = [];
try {
  for (const rows of counts) {
    const ours = join(dir, `ours-${rows}.xlsx`);
    const theirs = join(dir, `exceljs-${rows}.xlsx`);
    if (only !== 'read') {
      results.push({ what: 'write', ...run('write.mjs', 'ours', rows, ours, 1) });
      results.push({ what: 'write', ...run('write.mjs', 'exceljs', rows, theirs, 1) });
    } else {
      run('write.mjs', 'ours', rows, ours, 1);
    }
    if (only !== 'write') {
      results.push({ what: 'read', ...run('read.mjs', 'ours', ours) });
      results.push({ what: 'read', ...run('read.mjs', 'exceljs', ours) });
      results.push({ what: 'read', ...run('read.mjs', 'saxes', ours) });
    }
    if (!args.includes('--keep')) {
      await rm(ours, { force: true });
      await rm(theirs, { force: true });
    }
  }
} finally {
  if (!args.includes('--keep')) await rm(dir, { recursive: true, force: true });
}

console.log('\n| what | impl | rows | seconds | rows/s | CPU s | peak RSS MB | bytes |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.what} | ${r.impl} | ${r.rows} | ${r.seconds} | ${r.rowsPerSec} | ${r.cpuSeconds} | ${r.peakRssMB} | ${r.bytes ?? ''} |`,
  );
}
