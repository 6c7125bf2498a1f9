#!/usr/bin/env node --expose-gc
import yauzl from 'yauzl';
// The cost of a shared strings table (a workbook re-saved by a spreadsheet program):
//   node --expose-gc bench/sst.mjs FILE
// Reads the table as the reader does (SharedStringTable), then the same strings into an array of
// JavaScript strings for comparison, and reads every row of every sheet. Prints one JSON line.
import { openWorkbook } from '../dist/index.js';
import { SharedStringsHandler } from '../dist/reader.js';
import { XmlScanner } from '../dist/scan.js';
import { SharedStringTable } from '../dist/shared-strings.js';

const file = process.argv[2];
const gc = globalThis.gc ?? (() => {});
const mem = () => {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, ext: m.external + m.arrayBuffers, rss: m.rss };
};

// 1. The table alone, as the reader builds it.
const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
const entries = new Map();
zip.on('entry', (e) => {
  entries.set(e.fileName, e);
  zip.readEntry();
});
const listed = new Promise((r) => zip.on('end', r));
zip.readEntry();
await listed;
const sstEntry = entries.get('xl/sharedStrings.xml');
if (!sstEntry) throw new Error(`${file} has no xl/sharedStrings.xml`);
const before = mem();
const t0 = performance.now();
const table = new SharedStringTable();
{
  const scanner = new XmlScanner('sst', new SharedStringsHandler(table));
  const stream = await zip.openReadStreamPromise(sstEntry);
  const decoder = new TextDecoder();
  for await (const chunk of stream) scanner.feed(decoder.decode(chunk, { stream: true }));
  scanner.end();
}
const loadSeconds = (performance.now() - t0) / 1000;
const afterTable = mem();
const strings = [];
for (let i = 0; i < table.count; i++) strings.push(table.get(i));
const afterArray = mem();
zip.close();

// 2. Every row through the public reader (which loads its own table first).
const t1 = performance.now();
let rows = 0;
const wb = await openWorkbook(file);
for (const s of wb.sheets) for await (const _row of wb.rows(s.name)) rows++;
await wb.close();
const readSeconds = (performance.now() - t1) / 1000;

console.log(
  JSON.stringify({
    file,
    sharedStrings: table.count,
    sstXmlMB: +(sstEntry.uncompressedSize / 1e6).toFixed(1),
    tableLoadSeconds: +loadSeconds.toFixed(2),
    tableMB: +(table.bytes / 1e6).toFixed(1),
    tableAllocatedMB: +(table.allocatedBytes / 1e6).toFixed(1),
    tableMeasuredMB: +((afterTable.heap + afterTable.ext - before.heap - before.ext) / 1e6).toFixed(1),
    jsStringArrayMB: +((afterArray.heap - afterTable.heap) / 1e6).toFixed(1),
    rows,
    readSeconds: +readSeconds.toFixed(2),
    rowsPerSec: Math.round(rows / readSeconds),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    strings: strings.length,
  }),
);
