import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { WorkbookError } from '../src/errors.js';
import {
  attributeValue,
  NAME_C,
  NAME_IS,
  NAME_OTHER,
  NAME_R,
  NAME_ROW,
  NAME_RPH,
  NAME_SHEETDATA,
  NAME_SI,
  NAME_T,
  NAME_V,
  type ScanHandler,
  XmlScanner,
} from '../src/scan.js';

const CODES: Record<string, number> = {
  c: NAME_C,
  v: NAME_V,
  is: NAME_IS,
  t: NAME_T,
  r: NAME_R,
  rPh: NAME_RPH,
  row: NAME_ROW,
  sheetData: NAME_SHEETDATA,
  si: NAME_SI,
};
const code = (qname: string) => CODES[qname.slice(qname.indexOf(':') + 1)] ?? NAME_OTHER;

type Event = ['open', number, Array<[string, string]>] | ['close', number] | ['text', string];

/** Joins adjacent text events (parsers may split text anywhere). */
function push(events: Event[], e: Event): void {
  const last = events[events.length - 1];
  if (e[0] === 'text' && last?.[0] === 'text') last[1] += e[1];
  else if (e[0] !== 'text' || e[1] !== '') events.push(e);
}

function withSaxes(xml: string): Event[] {
  const events: Event[] = [];
  const p = new SaxesParser();
  p.on('opentag', (t) => {
    const attrs = Object.entries(t.attributes as Record<string, string>);
    push(events, ['open', code(t.name), attrs]);
    if (t.isSelfClosing) push(events, ['close', code(t.name)]);
  });
  p.on('closetag', (t) => {
    if (!t.isSelfClosing) push(events, ['close', code(t.name)]);
  });
  p.on('text', (t) => push(events, ['text', t]));
  p.on('cdata', (t) => push(events, ['text', t]));
  p.write(xml).close();
  // Text outside the root element is not content.
  while (events[0]?.[0] === 'text') events.shift();
  while (events[events.length - 1]?.[0] === 'text') events.pop();
  return events;
}

function withScanner(xml: string, cuts: number[]): Event[] {
  const events: Event[] = [];
  const handler: ScanHandler = {
    wantsText: true,
    open(name, s, a, count, selfClosing) {
      const attrs: Array<[string, string]> = [];
      for (let i = 0; i < count; i++) {
        attrs.push([
          s.slice(a[4 * i], a[4 * i + 1]),
          attributeValue(s, a[4 * i + 2] as number, a[4 * i + 3] as number, 'test'),
        ]);
      }
      push(events, ['open', name, attrs]);
      if (selfClosing) push(events, ['close', name]);
    },
    close(name) {
      push(events, ['close', name]);
    },
    text(value) {
      push(events, ['text', value]);
    },
  };
  const scanner = new XmlScanner('test', handler);
  let from = 0;
  for (const cut of [...cuts].sort((x, y) => x - y)) {
    if (cut <= from || cut >= xml.length) continue;
    scanner.feed(xml.slice(from, cut));
    from = cut;
  }
  scanner.feed(xml.slice(from));
  scanner.end();
  while (events[0]?.[0] === 'text') events.shift();
  while (events[events.length - 1]?.[0] === 'text') events.pop();
  return events;
}

// Generators of well-formed XML in the shapes workbook parts take, and then some.
const ws = fc.constantFrom('', ' ', '  ', '\t', '\n', '\r\n');
const textPiece = fc.oneof(
  fc.constantFrom(
    '&amp;',
    '&lt;',
    '&gt;',
    '&quot;',
    '&apos;',
    '&#13;',
    '&#10;',
    '&#x41;',
    '&#x1F600;',
    '&#9;',
    '\r\n',
    '\r',
    '\n',
    ' ',
    '>',
    ']]',
    '_x000D_',
    'é😀',
  ),
  fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => s.replace(/[<&\r]/g, '')),
);
// No text node holds "]]>" (not allowed in XML) or ends with ']' (two text nodes side by side could form it).
const text = fc
  .array(textPiece, { maxLength: 6 })
  .map((p) => p.join('').replace(/]]>/g, ']]&gt;').replace(/]$/, '];'));
const attrValue = fc
  .array(fc.oneof(textPiece, fc.constantFrom('"', "'", '>', '/>', '\t')), { maxLength: 5 })
  .map((p) => p.join(''));
const elementName = fc.constantFrom(
  'c',
  'v',
  'is',
  't',
  'r',
  'rPh',
  'row',
  'sheetData',
  'si',
  'x:c',
  'x:row',
  'foo',
  'sheetView',
  'x14:ext',
);
const attribute = fc.record({
  name: fc.constantFrom('r', 't', 's', 'x:r', 'ht', 'customFormat', 'xml:space', 'spans'),
  value: attrValue,
  quote: fc.constantFrom('"', "'"),
  before: ws,
  after: ws,
});

function renderAttr(a: {
  name: string;
  value: string;
  quote: string;
  before: string;
  after: string;
}): string {
  const escaped = a.value.replace(/[<"']/g, (c) =>
    c === '<' ? '&lt;' : c === a.quote ? (c === '"' ? '&quot;' : '&apos;') : c,
  );
  return ` ${a.name}${a.before}=${a.after}${a.quote}${escaped}${a.quote}`;
}

const { tree } = fc.letrec((tie) => ({
  tree: fc.record({
    name: elementName,
    attrs: fc.uniqueArray(attribute, { maxLength: 3, selector: (a) => a.name }),
    tailSpace: ws,
    children: fc.array(tie('node'), { maxLength: 4 }),
  }),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text.map((t) => ({ text: t })),
    tie('tree'),
    text.map((t) => ({ cdata: t.replace(/]]>/g, '') })),
    text.map((t) => ({ comment: t.replace(/--/g, '').replace(/-$/, '') })),
    fc.constant({ pi: '<?mso-application progid="Excel.Sheet"?>' }),
  ),
}));

type Node = { text: string } | { cdata: string } | { comment: string } | { pi: string } | Tree;
interface Tree {
  name: string;
  attrs: Array<{ name: string; value: string; quote: string; before: string; after: string }>;
  tailSpace: string;
  children: Node[];
}

function render(n: Node): string {
  if ('text' in n) return n.text;
  if ('cdata' in n) return `<![CDATA[${n.cdata}]]>`;
  if ('comment' in n) return `<!--${n.comment}-->`;
  if ('pi' in n) return n.pi;
  const open = `<${n.name}${n.attrs.map(renderAttr).join('')}${n.tailSpace}`;
  return n.children.length === 0
    ? `${open}/>`
    : `${open}>${n.children.map(render).join('')}</${n.name}${n.tailSpace}>`;
}

describe('XmlScanner', () => {
  it('reports the same tags, attributes and text as saxes, however the input is cut into chunks', () => {
    fc.assert(
      fc.property(
        tree,
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        (root, declaration, fractions) => {
          const xml = `${declaration ? '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n' : ''}${render(root as Tree)}`;
          const cuts = fractions.map((f) => Math.floor(f * xml.length));
          expect(withScanner(xml, cuts)).toEqual(withSaxes(xml));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('cut at every position of a worksheet, gives the same events', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="urn:x"><x:sheetData>' +
      '<x:row r="1" spans="1:3"><x:c r="A1" t="inlineStr"><x:is><x:t xml:space="preserve"> a&amp;b\r\n<![CDATA[<c>]]></x:t></x:is></x:c>' +
      '<x:c r=\'B1\' s="2"><x:v>1.5</x:v></x:c><!-- note --><x:c r="C1" t="s"><x:v>0</x:v></x:c></x:row>' +
      '<x:row r="3" x14ac:dyDescent="0.25" ht=">"/></x:sheetData></x:worksheet>';
    const whole = withSaxes(xml);
    for (let cut = 1; cut < xml.length; cut++) expect(withScanner(xml, [cut])).toEqual(whole);
  });

  it('refuses a DTD, a non-UTF-8 declaration, and malformed markup', () => {
    const bad = [
      '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
      '<?xml version="1.0" encoding="ISO-8859-1"?><x/>',
      '<x a="1></x>',
      '<x a=1></x>',
      '<x><t>&unknown;</t></x>',
      '<x><t>a & b</t></x>',
      '<x><t>&#0;</t></x>',
      '<x><t>&#xD800;</t></x>',
      '<x a="1" <y/></x>',
      '<x><t>unterminated',
    ];
    for (const xml of bad) {
      const handler: ScanHandler = { wantsText: true, open() {}, close() {}, text() {} };
      const scanner = new XmlScanner('test', handler);
      expect(() => {
        scanner.feed(xml);
        scanner.end();
      }, xml).toThrow(WorkbookError);
    }
  });
});
