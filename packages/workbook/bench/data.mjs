// Deterministic rows shaped like an Odoo table exported losslessly: 10 columns of ints, floats and
// timestamps as exact text, short and long strings, booleans and NULLs. Strings come from small
// pools so generating a row costs little next to writing it.
const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ' +
  'et dolore magna aliqua conversation memory workflow node personality extractor plugin'
).split(' ');

function makePool(count, minWords, maxWords, seed) {
  const pool = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = minWords + (x % (maxWords - minWords + 1));
    const words = [];
    for (let k = 0; k < n; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      words.push(WORDS[x % WORDS.length]);
    }
    let s = words.join(' ');
    if (i % 7 === 0) s += '\nsecond line with émoji 😀 and עברית';
    if (i % 11 === 0) s = `<p>${s} &amp; more</p>`;
    pool.push(s);
  }
  return pool;
}

const LONG = makePool(997, 15, 60, 7);
const NOTES = makePool(101, 3, 12, 11);
const STATES = ['draft', 'confirmed', 'done', 'cancel'];

function pad(n, w) {
  return String(n).padStart(w, '0');
}

/** Row i (1-based) as cells for @sam-backup/workbook. */
export function rowCells(i) {
  const ts = `2025-01-${pad(1 + (i % 28), 2)} ${pad(i % 24, 2)}:${pad(i % 60, 2)}:${pad((i * 7) % 60, 2)}.${pad((i * 7919) % 1000000, 6)}`;
  return [
    { t: 'n', v: String(i) },
    { t: 's', v: `Record ${i}` },
    { t: 's', v: LONG[i % LONG.length] },
    { t: 'n', v: String((i % 100000) / 8) },
    { t: 'b', v: i % 2 === 0 },
    { t: 's', v: ts },
    { t: 's', v: ts },
    i % 3 === 0 ? null : { t: 'n', v: String(i % 5000) },
    { t: 's', v: STATES[i % 4] },
    i % 5 === 0 ? { t: 's', v: NOTES[i % NOTES.length] } : null,
  ];
}

export const HEADER = [
  'id',
  'name',
  'description',
  'amount',
  'active',
  'create_date',
  'write_date',
  'partner_id',
  'state',
  'notes',
];

/** Row i as plain values for exceljs (numbers as JS numbers). */
export function rowValues(i) {
  return rowCells(i).map((c) => (c === null ? null : c.t === 'n' ? Number(c.v) : c.v));
}
