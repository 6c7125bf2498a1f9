#!/usr/bin/env node
// One reader run in this process: node bench/read.mjs ours|exceljs|saxes FILE
// Prints one JSON line: rows, seconds, rows/s, CPU seconds, peak RSS (MB). Run by bench/run.mjs.
//   ours    — openWorkbook(file).rows(sheet) for every sheet
//   exceljs — exceljs's streaming WorkbookReader (the fastest reader measured before, DESIGN.md)
//   saxes   — saxes alone over the sheets' XML (events only, no cells): the floor of a saxes-based reader
import { createRequire } from 'node:module';

const [impl, file] = process.argv.slice(2);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let rows = 0;
let cells = 0;

if (impl === 'ours') {
  const { openWorkbook } = await import('../dist/index.js');
  const wb = await openWorkbook(file);
  for (const sheet of wb.sheets) {
    for await (const row of wb.rows(sheet.name)) {
      rows++;
      cells += row.cells.length;
    }
  }
  await wb.close();
} else if (impl === 'exceljs') {
  const require = createRequire(import.meta.url);
  const ExcelJS = require('exceljs');
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {
    sharedStrings: 'cache',
    styles: 'ignore',
    hyperlinks: 'ignore',
    worksheets: 'emit',
  });
  for await (const ws of reader) {
    for await (const row of ws) {
      rows++;
      cells += row.cellCount;
    }
  }
} else if (impl === 'saxes') {
  const require = createRequire(import.meta.url);
  const yauzl = require('yauzl');
  const { SaxesParser } = require('saxes');
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  const entries = [];
  zip.on('entry', (e) => {
    entries.push(e);
    zip.readEntry();
  });
  const listed = new Promise((r) => zip.on('end', r));
  zip.readEntry();
  await listed;
  for (const e of entries.filter((e) => /^xl\/worksheets\/sheet\d+\.xml$/.test(e.fileName))) {
    const parser = new SaxesParser();
    parser.on('opentag', (t) => {
      if (t.name === 'row') rows++;
      else if (t.name === 'c') cells++;
    });
    parser.on('text', () => {});
    const stream = await zip.openReadStreamPromise(e);
    const decoder = new TextDecoder();
    for await (const chunk of stream) parser.write(decoder.decode(chunk, { stream: true }));
    parser.close();
  }
  zip.close();
} else {
  throw new Error(`unknown reader ${impl}`);
}
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    impl,
    rows,
    cells,
    seconds: +seconds.toFixed(2),
    rowsPerSec: Math.round(rows / seconds),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
