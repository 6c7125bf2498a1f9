// `pnpm bench [name…]`: runs the benchmarks (packages/*/bench/*.bench.mjs) one after another, each
// in its own process so that its peak memory is its own. Build first (`pnpm build`): benchmarks
// measure the compiled code. A benchmark prints one JSON line of figures; none is a pass/fail test.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const wanted = process.argv.slice(2);
const benches = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.bench.mjs')) continue;
    const name = `${pkg}/${file.replace(/\.bench\.mjs$/, '')}`;
    if (wanted.length === 0 || wanted.some((w) => name.includes(w)))
      benches.push({ name, path: join(dir, file) });
  }
}
if (benches.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}`);
  process.exit(2);
}
let failed = 0;
for (const b of benches) {
  console.error(`== ${b.name}`);
  const res = spawnSync(process.execPath, [b.path], { stdio: 'inherit', cwd: root, env: process.env });
  if (res.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
