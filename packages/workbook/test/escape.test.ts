import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { decodeXstring, encodeText, UnpairedSurrogate } from '../src/escape.js';
import { nastyString } from './helpers.js';

/** What an XML parser gives back for element content `xml` (saxes, a conforming parser). */
function xmlText(xml: string): string {
  let text = '';
  const parser = new SaxesParser();
  parser.on('text', (t) => {
    text += t;
  });
  parser.write(`<t>${xml}</t>`).close();
  return text;
}

/** ECMA-376's letter (and Apache POI): every _xHHHH_ decoded, left to right. */
function greedyDecode(text: string): string {
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/**
 * LibreOffice 7.4's decoder, as observed: `_x` + one to four hex digits + `_` is decoded when it
 * stands for a control character, '_', a surrogate, U+FFFE or U+FFFF; anything else is literal.
 */
function libreOfficeDecode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const m = /^_x([0-9A-Fa-f]{1,4})_/.exec(text.slice(i, i + 7));
    if (m) {
      const code = Number.parseInt(m[1] as string, 16);
      if (code < 0x20 || code === 0x5f || (code >= 0xd800 && code <= 0xdfff) || code >= 0xfffe) {
        out += String.fromCharCode(code);
        i += m[0].length;
        continue;
      }
    }
    out += text[i];
    i++;
  }
  return out;
}

describe('ST_Xstring escaping', () => {
  it('is undone exactly by an XML parser followed by decodeXstring', () => {
    fc.assert(
      fc.property(nastyString(20), (s) => {
        expect(decodeXstring(xmlText(encodeText(s)))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back the same with a decoder that decodes every _xHHHH_ (as Excel / Apache POI do)', () => {
    fc.assert(
      fc.property(nastyString(20), (s) => {
        expect(greedyDecode(xmlText(encodeText(s)))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back the same with LibreOffice’s decoder, which also takes escapes shorter than four digits', () => {
    fc.assert(
      fc.property(nastyString(20), (s) => {
        expect(libreOfficeDecode(xmlText(encodeText(s)))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes only characters XML 1.0 can carry, and no literal CR', () => {
    fc.assert(
      fc.property(nastyString(20), (s) => {
        const out = encodeText(s);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: checking they are absent
        expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\ufffe\uffff]/);
        expect(out).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
      }),
      { numRuns: 1000 },
    );
  });

  it('escapes what it must, in the forms Excel and LibreOffice write', () => {
    expect(encodeText('a\r\nb')).toBe('a_x000D_\nb');
    expect(encodeText('\u0001\u001f\t\n')).toBe('_x0001__x001F_\t\n');
    expect(encodeText('lit _x000D_ here')).toBe('lit _x005F_x000D_ here');
    expect(encodeText('_x0041_x0042_')).toBe('_x005F_x0041_x005F_x0042_');
    expect(encodeText('res_x1234abc and _x12')).toBe('res_x1234abc and _x12');
    expect(encodeText('_x9_ _x00_x0041_ _xG_')).toBe('_x005F_x9_ _x005F_x00_x005F_x0041_ _xG_');
    expect(encodeText('\ufffe')).toBe('_xFFFE_');
    expect(encodeText('plain text, émoji 😀')).toBe('plain text, émoji 😀');
    expect(encodeText('a & <b>')).toBe('a &amp; &lt;b&gt;');
  });

  it('decodes like LibreOffice: only escapes of characters XML cannot carry, and _x005F_', () => {
    expect(decodeXstring('_x000D__x000d__x0009_')).toBe('\r\r\t');
    expect(decodeXstring('_x005F_x0041_x0042_')).toBe('_x0041_x0042_');
    expect(decodeXstring('_x0041_ _x00A0_ _xE000_')).toBe('_x0041_ _x00A0_ _xE000_');
    expect(decodeXstring('_xD83D__xDE00_')).toBe('😀');
    expect(decodeXstring('_xD83D_ and _xDE00_ alone, _xD83D_x')).toBe('_xD83D_ and _xDE00_ alone, _xD83D_x');
    expect(decodeXstring('_xD83D__xD83D__xDE00_')).toBe('_xD83D_😀');
    expect(decodeXstring('_x0041_x0001_')).toBe('_x0041\u0001');
    expect(decodeXstring('_xFFFE__xffff_')).toBe('\ufffe\uffff');
    expect(decodeXstring('_x12_ _xGGGG_ _x0001')).toBe('_x12_ _xGGGG_ _x0001');
  });

  it('refuses an unpaired surrogate', () => {
    for (const s of ['\ud800', 'a\udc00b', '\ud83d', 'x\ude00\ud83d']) {
      expect(() => encodeText(s)).toThrow(UnpairedSurrogate);
    }
    expect(encodeText('\ud83d\ude00')).toBe('😀');
  });
});
