#!/usr/bin/env node
// One writer run in this process: node bench/write.mjs ours|exceljs ROWS FILE [LEVEL]
// Prints one JSON line: rows, seconds, rows/s, bytes, peak RSS (MB). Run by bench/run.mjs.
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { HEADER, rowCells, rowValues } from './data.mjs';

const [impl, rowsArg, file, levelArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const level = Number(levelArg ?? 1);
const t0 = performance.now();
const cpu0 = process.cpuUsage();

if (impl === 'ours') {
  const { WorkbookWriter, MAX_ROWS } = await import('../dist/index.js');
  const wb = new WorkbookWriter(createWriteStream(file), { compressionLevel: level });
  let sheet;
  let part = 0;
  for (let i = 1; i <= rows; i++) {
    if (sheet === undefined || sheet.rowCount === MAX_ROWS) {
      if (sheet) await sheet.end();
      sheet = wb.addSheet(`data ${++part}`, { freezeHeader: true, headerStyle: true });
      sheet.writeRow(HEADER.map((h) => ({ t: 's', v: h })));
    }
    if (!sheet.writeRow(rowCells(i))) await sheet.drain();
  }
  await sheet.end();
  await wb.finalize();
} else if (impl === 'exceljs') {
  const require = createRequire(import.meta.url);
  const ExcelJS = require('exceljs');
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: createWriteStream(file),
    useSharedStrings: false,
    useStyles: false,
    zip: { zlib: { level } },
  });
  let ws;
  let part = 0;
  for (let i = 1; i <= rows; i++) {
    if (ws === undefined || (i - 1) % 1_048_575 === 0) {
      if (ws) ws.commit();
      ws = wb.addWorksheet(`data ${++part}`);
      ws.addRow(HEADER).commit();
    }
    ws.addRow(rowValues(i)).commit();
    // exceljs has no backpressure; yield so its zip stream can flush, as a COPY-driven export would.
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  ws.commit();
  await wb.commit();
} else {
  throw new Error(`unknown writer ${impl}`);
}
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
const bytes = (await stat(file)).size;
console.log(
  JSON.stringify({
    impl,
    rows,
    seconds: +seconds.toFixed(2),
    rowsPerSec: Math.round(rows / seconds),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
    bytes,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
