/**
 * The compiled assets in odoo_addon/sam_backup/static/src, checked the way Odoo will load them:
 * they are exactly what this package's sources compile to (nothing stale, nothing missing), every
 * module is an `@odoo-module` whose imports are @odoo/owl, the few @web modules declared in
 * types/, or files that exist; every component's template is defined once; the settings view's
 * widget is the one the panel registers. (That they run is the browser test's job: ui.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(pkg, '..', '..', 'odoo_addon', 'sam_backup');
const out = join(addon, 'static', 'src');
const WEB_MODULES = ['@web/core/registry', '@web/core/utils/hooks', '@web/core/l10n/translation'];

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const tmp = mkdtempSync(join(tmpdir(), 'sam-odoo-ui-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('odoo_addon/sam_backup/static/src (compiled from packages/odoo-ui)', () => {
  it('is exactly what the TypeScript sources, templates and styles build to', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(pkg, 'tsconfig.build.json'), '--outDir', tmp]);
    const src = join(pkg, 'src');
    for (const f of listFiles(src).filter((f) => /\.(xml|scss)$/.test(f))) {
      mkdirSync(dirname(join(tmp, f)), { recursive: true });
      cpSync(join(src, f), join(tmp, f));
    }
    const fresh = listFiles(tmp);
    expect(listFiles(out), 'run `pnpm build` and commit odoo_addon/sam_backup/static/src').toEqual(fresh);
    for (const f of fresh)
      expect(readFileSync(join(out, f), 'utf8'), `${f} is stale: run \`pnpm build\``).toBe(
        readFileSync(join(tmp, f), 'utf8'),
      );
    // One compiled module per TypeScript file, beside its template and style.
    const ts = listFiles(src).filter((f) => f.endsWith('.ts'));
    expect(fresh.filter((f) => f.endsWith('.js'))).toEqual(ts.map((f) => f.replace(/\.ts$/, '.js')).sort());
  });

  it('every module is an @odoo-module importing only @odoo/owl, declared @web modules and files that exist', () => {
    const js = listFiles(out).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThanOrEqual(7);
    for (const f of js) {
      const text = readFileSync(join(out, f), 'utf8');
      // Odoo 17 transpiles a static/src file only with this annotation (18+ do it for all).
      expect(text.startsWith('/** @odoo-module **/'), f).toBe(true);
      // Odoo's transpiler rewrites imports with regular expressions: one `import {…} from '…'`
      // per statement, no default or namespace imports, no dynamic import().
      expect(text, f).not.toMatch(/\bimport\s*\(/);
      expect(text, f).not.toMatch(/^\s*import\s+(\*|\w+\s*(,|from))/m);
      for (const [, spec] of text.matchAll(/^\s*import\s+(?:\{[^}]*\}\s*from\s*)?'([^']+)';/gm)) {
        if (spec?.startsWith('.'))
          expect(listFiles(out), `${f} imports ${spec}`).toContain(join(dirname(f), spec));
        else expect(['@odoo/owl', ...WEB_MODULES], `${f} imports ${spec}`).toContain(spec);
      }
    }
  });

  it('every style compiles with libsass, as Odoo compiles the asset bundle', () => {
    // Odoo compiles web.assets_backend's SCSS with libsass; one style it rejects (e.g. CSS min()
    // mixing units, which libsass evaluates itself) breaks the styles of the whole backend.
    const scss = listFiles(out)
      .filter((f) => f.endsWith('.scss'))
      .map((f) => join(out, f));
    expect(scss.length).toBeGreaterThanOrEqual(4);
    const python = process.env.SAM_TEST_SYSTEM_PYTHON ?? '/usr/bin/python3';
    try {
      execFileSync(
        python,
        ['-c', 'import sass, sys\nfor f in sys.argv[1:]: sass.compile(filename=f)', ...scss],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? err);
      if (/No module named 'sass'/.test(stderr))
        throw new Error(
          `${python} has no libsass: install Debian's python3-libsass (scripts/dev.sh test does)`,
        );
      throw new Error(
        `a style of the addon does not compile with libsass (Odoo would fail the whole bundle):\n${stderr}`,
      );
    }
  });

  it('every component template is defined exactly once, and the settings view uses the registered widget', () => {
    const files = listFiles(out);
    const names = files
      .filter((f) => f.endsWith('.xml'))
      .flatMap((f) => [...readFileSync(join(out, f), 'utf8').matchAll(/t-name="([^"]+)"/g)].map((m) => m[1]));
    expect(new Set(names).size).toBe(names.length);
    for (const f of files.filter((f) => f.endsWith('.js'))) {
      for (const [, name] of readFileSync(join(out, f), 'utf8').matchAll(/static template = '([^']+)'/g))
        expect(names, `${f}: template ${name}`).toContain(name);
    }
    const panel = readFileSync(join(out, 'components', 'backup_panel', 'backup_panel.js'), 'utf8');
    expect(panel).toMatch(/registry\.category\('view_widgets'\)\.add\('sam_backup_panel'/);
    const view = readFileSync(join(addon, 'views', 'res_config_settings_views.xml'), 'utf8');
    expect(view).toMatch(/<widget name="sam_backup_panel"\/>/);
    const manifest = readFileSync(join(addon, '__manifest__.py'), 'utf8');
    expect(manifest).toMatch(/"web\.assets_backend": \["sam_backup\/static\/src\/\*\*\/\*"\]/);
  });
});
