// Prints vitest's result as one plain closing line ("Tests: N passed, N failed, N skipped"),
// read from the JSON report that vitest.config.ts writes, so that CI logs end with the count.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`test summary: cannot read ${file} (${err.message}); did vitest run?`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const skippedSuites = [];
for (const suite of report.testResults ?? []) {
  for (const t of suite.assertionResults ?? []) {
    if (t.status === 'skipped' || t.status === 'pending')
      skippedSuites.push(`${t.ancestorTitles.join(' > ')} > ${t.title}`);
  }
}
if (skippedSuites.length > 0) {
  console.log('Skipped tests (each says why in its name or in the log above):');
  for (const s of skippedSuites) console.log(`  - ${s}`);
}
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
