/**
 * The Odoo addon, checked without an Odoo (none is packaged for these machines): every Python file
 * compiles, every XML file parses, the manifest is sane (Odoo reads it with ast.literal_eval; every
 * data file it lists exists; it depends on base_setup), access is for Settings administrators
 * only, the cron avoids the fields Odoo 18 removed, and every HTTP route requires a logged-in
 * administrator. Installing it in a real Odoo is opt-in (SAM_TEST_ODOO_SRC): odoo-real.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const addon = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'odoo_addon', 'sam_backup');

async function files(ext: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(addon, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith(ext)) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

const python = (code: string, ...args: string[]) =>
  execFileSync('python3', ['-c', code, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPYCACHEPREFIX: join(tmpdir(), 'sam-addon-pycache') },
  });

describe('odoo_addon/sam_backup (static checks)', () => {
  it('every Python file compiles and every XML file parses', async () => {
    const py = await files('.py');
    expect(py.length).toBeGreaterThan(5);
    python('import py_compile, sys\nfor f in sys.argv[1:]: py_compile.compile(f, doraise=True)', ...py);
    const xml = await files('.xml');
    expect(xml.length).toBeGreaterThan(1);
    python('import sys, xml.dom.minidom\nfor f in sys.argv[1:]: xml.dom.minidom.parse(f)', ...xml);
  });

  it('has a sane manifest whose data files exist', async () => {
    const manifest = JSON.parse(
      python(
        'import ast, json, sys\nprint(json.dumps(ast.literal_eval(open(sys.argv[1]).read())))',
        join(addon, '__manifest__.py'),
      ),
    ) as {
      name: string;
      version: string;
      license: string;
      depends: string[];
      data: string[];
      installable: boolean;
    };
    expect(manifest.depends).toContain('base_setup');
    expect(manifest.installable).toBe(true);
    expect(manifest.license).toMatch(/^(LGPL|AGPL|GPL)-3$/);
    for (const f of manifest.data) expect(existsSync(join(addon, f)), f).toBe(true);
    // Security first: Odoo loads data files in order, and the views need the access rules.
    expect(manifest.data[0]).toBe('security/ir.model.access.csv');
  });

  it('gives access to Settings administrators only, and its cron uses no field Odoo 18 removed', async () => {
    const rows = (await readFile(join(addon, 'security', 'ir.model.access.csv'), 'utf8')).trim().split('\n');
    expect(rows[0]).toBe('id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink');
    for (const row of rows.slice(1)) expect(row.split(',')[3]).toBe('base.group_system');
    const cron = await readFile(join(addon, 'data', 'ir_cron.xml'), 'utf8');
    expect(cron).not.toMatch(/<field name="(numbercall|doall)"/);
  });

  it("uses only what Odoo's request wrapper exposes (request.httprequest is not werkzeug's Request)", async () => {
    // Odoo 17, 18 and 19 wrap werkzeug's request and pass through a fixed set of its attributes
    // (odoo/http.py, HTTPREQUEST_ATTRIBUTES); anything else — the raw `stream` among them — is an
    // AttributeError at run time, which only a real Odoo would show.
    const exposed = new Set(
      (
        'accept_charsets accept_languages accept_mimetypes access_route args authorization base_url charset ' +
        'content_encoding content_length content_md5 content_type cookies data date encoding_errors files form ' +
        'full_path get_data get_json headers host host_url if_match if_modified_since if_none_match if_range ' +
        'if_unmodified_since is_json is_secure json max_content_length method mimetype mimetype_params origin ' +
        'path pragma query_string range referrer remote_addr remote_user root_path root_url scheme script_root ' +
        'server session trusted_hosts url url_charset url_root user_agent values environ'
      ).split(' '),
    );
    const uses: string[] = [];
    for (const f of await files('.py')) {
      for (const [, attr] of (await readFile(f, 'utf8')).matchAll(/httprequest\.(\w+)/g))
        uses.push(attr as string);
    }
    expect(uses.length).toBeGreaterThan(0);
    expect(uses.filter((a) => !exposed.has(a))).toEqual([]);
  });

  it('requires a logged-in administrator on every HTTP route', async () => {
    const src = await readFile(join(addon, 'controllers', 'main.py'), 'utf8');
    const routes = src.match(/@http\.route\([^)]*\)/gs) ?? [];
    expect(routes.length).toBeGreaterThanOrEqual(4);
    for (const r of routes) expect(r).toMatch(/auth="user"/);
    expect(src).toMatch(/has_group\("base\.group_system"\)/);
  });
});
