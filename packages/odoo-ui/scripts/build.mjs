// Builds the addon's static/src from this package's src/: the folder is emptied, tsc compiles each
// .ts into one ES module (imports kept as written), and the templates (.xml) and styles (.scss)
// are copied beside them — so nothing stale stays behind, and the addon installs without Node.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(pkg, 'src');
const out = join(pkg, '..', '..', 'odoo_addon', 'sam_backup', 'static', 'src');

rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(pkg, 'tsconfig.build.json')], { stdio: 'inherit' });
let copied = 0;
for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!e.isFile() || !/\.(xml|scss)$/.test(e.name)) continue;
  const to = join(out, relative(src, join(e.parentPath, e.name)));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(join(e.parentPath, e.name), to);
  copied++;
}
console.log(
  `odoo-ui: ${relative(process.cwd(), out) || out}: compiled TypeScript + ${copied} templates/styles`,
);
