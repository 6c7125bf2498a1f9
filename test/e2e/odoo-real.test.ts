/**
 * The addon in a REAL Odoo, opt-in: SAM_TEST_ODOO_SRC=/path/to/odoo (an Odoo source tree, the folder
 * holding odoo-bin; several trees separated by commas, e.g. a 17 and a 19) and, optionally,
 * SAM_TEST_ODOO_PYTHON (the Python that runs odoo-bin, default /usr/bin/python3, with Odoo's
 * dependencies installed from Debian). Skipped, with one line that says so, when SAM_TEST_ODOO_SRC is
 * not set. For each tree, on the PostgreSQL of SAM_TEST_PG_URL (a throw-away role and database,
 * both dropped at the end):
 *   1. odoo-bin -i sam_backup --stop-after-init exits 0 with no ERROR, CRITICAL or Traceback in its
 *      log, and no WARNING about sam_backup;
 *   2. odoo-bin -u sam_backup (an upgrade) does the same, and the job list view that the
 *      post_init_hook created (noupdate XML id sam_backup.sam_backup_job_view_list) survives it;
 *   3. the addon's own Python tests (odoo_addon/sam_backup/tests, tag sam_backup) pass;
 *   4. odoo-bin serves on 127.0.0.1; Debian's Chromium (playwright-core) logs in as admin and opens
 *      Settings: the asset bundles compile (Odoo's libsass), the "SAM AI Backup" app is shown with its
 *      sidecar URL and token fields, saving them stores them in ir.config_parameter, the OWL panel
 *      (.o_sam_backup_panel, once the view declares the widget) renders and, the sidecar being down,
 *      Export shows the model's one sentence in it; "Job History" opens the list of sam.backup.job;
 *      no error dialog, no browser console error from sam_backup, no error in the server log;
 *   5. with the real sidecar beside it (the dev Redis; the engine on this Odoo's database and
 *      filestore, the Odoo data of the bus module), from the panel: Export → the bar → the download
 *      link (the addon's streaming route) gives a bundle that verifies → the same file uploaded back
 *      through the addon's chunk routes → dry-run table → typed confirmation → restore, verified
 *      and committed in the running Odoo → the job history (never backed up) intact;
 *   6. the module uninstalls (button_immediate_uninstall in odoo-bin shell): its table is dropped.
 * Screenshots and Odoo's logs: test-results/odoo-real/.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyBundle } from '@sam-backup/bundle';
import { createApp, createLogger, loadConfig, startJobs } from '@sam-backup/sidecar';
import pg from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgUrl, redisUrl } from '../support/services.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ADDONS = join(ROOT, 'odoo_addon');
const SETTINGS_VIEW = join(ADDONS, 'sam_backup', 'views', 'res_config_settings_views.xml');
const SHOTS = join(ROOT, 'test-results', 'odoo-real');
const PYTHON = process.env.SAM_TEST_ODOO_PYTHON || '/usr/bin/python3';
const CHROMIUM = process.env.SAM_TEST_CHROMIUM ?? '/usr/bin/chromium';
const TREES = (process.env.SAM_TEST_ODOO_SRC ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => resolve(s));

if (TREES.length === 0) {
  console.log(
    '[odoo-real] skipped: set SAM_TEST_ODOO_SRC=/path/to/odoo (an Odoo source tree; comma-separated for ' +
      'several) and optionally SAM_TEST_ODOO_PYTHON (default /usr/bin/python3) to install sam_backup in a ' +
      'real Odoo and open its Settings page in Chromium.',
  );
}

/** The major version of the Odoo tree, from odoo/release.py. */
function odooMajor(src: string): number {
  const release = join(src, 'odoo', 'release.py');
  if (!existsSync(join(src, 'odoo-bin')) || !existsSync(release)) {
    throw new Error(`SAM_TEST_ODOO_SRC: ${src} is not an Odoo source tree (no odoo-bin or odoo/release.py)`);
  }
  const m = /^version_info = \((\d+),/m.exec(readFileSync(release, 'utf8'));
  if (!m?.[1]) throw new Error(`cannot read the Odoo version from ${release}`);
  return Number(m[1]);
}

/**
 * Log records of an Odoo log that fail the test: errors, criticals, tracebacks, assets that do not
 * compile, and warnings that name this addon. A record is its first line and the lines that follow
 * it up to the next record (a traceback, the files of an asset bundle).
 */
function problems(log: string): string[] {
  const records: string[] = [];
  for (const line of log.split('\n')) {
    if (/^\d{4}-\d\d-\d\d \S+ \d+ [A-Z]+ /.test(line) || records.length === 0) records.push(line);
    else records[records.length - 1] += `\n${line}`;
  }
  return records.filter(
    (r) =>
      /^\S+ \S+ \d+ (ERROR|CRITICAL) /.test(r) ||
      r.includes('Traceback (most recent call last)') ||
      (/^\S+ \S+ \d+ WARNING /.test(r) &&
        /sam_backup|sam\.backup|odoo\.addons\.base\.models\.assetsbundle/.test(r)),
  );
}

/** A log record or console message cut to its first line and the lines that name sam_backup. */
function brief(text: string): string {
  const lines = text.split('\n');
  if (lines.length <= 12) return text;
  const ours = lines.slice(1).filter((l) => /sam_backup|sam\.backup/.test(l));
  return [lines[0], ...ours, `  (${lines.length - 1 - ours.length} more lines)`].join('\n');
}

/** The addon's .scss files that Odoo's libsass refuses on their own, with the error. */
function scssRefused(): string {
  const dir = join(ADDONS, 'sam_backup', 'static');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.scss'))
    .map((f) => join(dir, f));
  const code = [
    'import sys, sass',
    'for f in sys.argv[1:]:',
    '    try: sass.compile(filename=f)',
    "    except Exception as e: print(f'{f}: {str(e).strip().splitlines()[0]}')",
  ].join('\n');
  try {
    return execFileSync(PYTHON, ['-c', code, ...files], { encoding: 'utf8' }).trim() || '(none)';
  } catch (error) {
    return `(could not run libsass: ${String(error)})`;
  }
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => ok(port));
    });
  });
}

async function adminQuery<T = Record<string, unknown>>(text: string, db?: string): Promise<T[]> {
  const u = new URL(pgUrl);
  if (db) u.pathname = `/${db}`;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

for (const src of TREES.length > 0 ? TREES : ['(opt-in: SAM_TEST_ODOO_SRC not set, skipped)']) {
  describe.skipIf(TREES.length === 0)(`sam_backup in a real Odoo: ${src}`, () => {
    const tag = randomBytes(4).toString('hex');
    const db = `sam_odoo_real_${tag}`;
    const role = `sam_odoo_real_${tag}`;
    const password = randomBytes(18).toString('hex');
    let major = 0;
    let work = '';
    let conf = '';
    let prefix = '';
    let server: ChildProcess | undefined;
    let serverLog = '';
    let browser: Browser | undefined;
    let deadSidecar = '';
    let baseUrl = '';

    /** Run odoo-bin to the end; its log goes to test-results/odoo-real/<prefix>-<name>.log. */
    async function odoo(
      name: string,
      args: string[],
      input?: string,
    ): Promise<{ code: number; log: string }> {
      const child = spawn(PYTHON, [join(src, 'odoo-bin'), ...args], {
        cwd: work,
        env: odooEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const file = createWriteStream(join(SHOTS, `${prefix}-${name}.log`));
      let log = '';
      const collect = (chunk: Buffer) => {
        log += chunk.toString();
        file.write(chunk);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.stdin?.end(input ?? '');
      const code = await new Promise<number>((ok, fail) => {
        child.once('error', fail);
        child.once('close', (c) => ok(c ?? -1));
      });
      await new Promise((ok) => file.end(ok));
      return { code, log };
    }

    function odooEnv(): NodeJS.ProcessEnv {
      const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPYCACHEPREFIX: join(work, 'pycache') };
      // A pyenv or virtualenv of the shell must not leak into Debian's Python.
      delete env.PYTHONPATH;
      delete env.PYTHONHOME;
      delete env.VIRTUAL_ENV;
      return env;
    }

    /** Stop the serving odoo-bin: SIGTERM, then SIGKILL after 10 s. */
    async function stopServer(): Promise<void> {
      const child = server;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      if ((await Promise.race([exited, sleep(10_000).then(() => 'timeout')])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }

    const dbArgs = () => ['-c', conf, '-d', db, `--db-filter=^${db}$`];
    // 17 and 18 take a list of modules ("all"), 19 a boolean (it warns about "all").
    const noDemo = () => (major >= 19 ? '--without-demo=True' : '--without-demo=all');

    /** Log in as admin (base's data gives a new database admin/admin). */
    async function login(page: Page, base: string): Promise<void> {
      await page.goto(`${base}/web/login`);
      await page.fill('input[name="login"]', 'admin');
      await page.fill('input[name="password"]', 'admin');
      await Promise.all([
        page.waitForURL((u) => !u.pathname.startsWith('/web/login')),
        page.click('button[type="submit"]'),
      ]);
    }

    /**
     * Settings > SAM AI Backup, by the action's XML id: the URL that 17, 18 and 19 all accept (the
     * first visit compiles the asset bundles).
     */
    async function openSettings(page: Page, base: string) {
      await page.goto(`${base}/web#action=base_setup.action_general_configuration`);
      const tab = page.locator('.settings_tab .tab[data-key="sam_backup"]');
      await tab.waitFor({ timeout: 120_000 });
      expect(await tab.textContent()).toContain('SAM AI Backup');
      await tab.click();
      const app = page.locator('.app_settings_block[data-key="sam_backup"]');
      await app.waitFor();
      expect(await app.getAttribute('string')).toBe('SAM AI Backup');
      return app;
    }

    /** Log in, open Settings > SAM AI Backup, then its Job History. */
    async function browse(page: Page, base: string): Promise<void> {
      const errorDialogs = page.locator('.o_error_dialog, .o_dialog_error');

      await login(page, base);

      let app = await openSettings(page, base);
      const url = app.locator('[name="sam_backup_sidecar_url"] input');
      await url.waitFor();
      expect(await url.inputValue()).toBe('http://127.0.0.1:8765');
      await app.locator('[name="sam_backup_sidecar_token"] input').waitFor();

      // Save a sidecar URL where nothing listens: stored in ir.config_parameter, shown again.
      await url.fill(deadSidecar);
      await app.locator('[name="sam_backup_sidecar_token"] input').fill(randomBytes(12).toString('hex'));
      // Saving settings reloads the web client (a "reload" client action).
      await Promise.all([page.waitForEvent('load'), page.locator('.o_form_button_save').click()]);
      const [param] = await adminQuery<{ value: string }>(
        "SELECT value FROM ir_config_parameter WHERE key = 'sam_backup.sidecar_url'",
        db,
      );
      expect(param?.value).toBe(deadSidecar);
      app = await openSettings(page, base);
      expect(await app.locator('[name="sam_backup_sidecar_url"] input').inputValue()).toBe(deadSidecar);

      // The OWL panel, once the settings view declares it: rendered, its history loaded; Export
      // with the sidecar down shows the model's one sentence in the panel, not an error dialog.
      if (readFileSync(SETTINGS_VIEW, 'utf8').includes('<widget name="sam_backup_panel"')) {
        await app.locator('.o_sam_backup_panel[data-loaded="yes"]').waitFor();
        await app.locator('.o_sam_backup_export').click();
        const message = app.locator('.o_sam_backup_error');
        await message.waitFor();
        expect(await message.textContent()).toContain(`${deadSidecar} is not reachable`);
      }
      await app.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, `${prefix}-settings.png`) });
      expect(await errorDialogs.count(), 'error dialogs on the Settings page').toBe(0);

      // Job History: the list view of sam.backup.job that the post_init_hook created.
      await app.getByRole('button', { name: 'Job History' }).click();
      await page.locator('.o_list_view').waitFor();
      await page.getByText('No backup job yet').waitFor();
      expect(await page.locator('.o_breadcrumb, .breadcrumb').first().textContent()).toContain(
        'SAM AI Backup Jobs',
      );
      await page.screenshot({ path: join(SHOTS, `${prefix}-job-history.png`) });
      expect(await errorDialogs.count(), 'error dialogs on the job history').toBe(0);
    }

    beforeAll(async () => {
      major = odooMajor(src);
      prefix = `odoo${major}`;
      await mkdir(SHOTS, { recursive: true });
      await rm(join(SHOTS, `${prefix}-failure.png`), { force: true });
      work = await mkdtemp(join(tmpdir(), 'sam-odoo-real-'));
      // Odoo refuses to run as "postgres": a throw-away role that may create the database.
      await adminQuery(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD '${password}'`);
      const u = new URL(pgUrl);
      conf = join(work, 'odoo.conf');
      await writeFile(
        conf,
        [
          '[options]',
          `db_host = ${u.hostname}`,
          `db_port = ${u.port || '5432'}`,
          `db_user = ${role}`,
          `db_password = ${password}`,
          `addons_path = ${join(src, 'addons')},${join(src, 'odoo', 'addons')},${ADDONS}`,
          `data_dir = ${join(work, 'data')}`,
          'http_interface = 127.0.0.1',
          'list_db = False',
          'max_cron_threads = 0',
          'workers = 0',
          '',
        ].join('\n'),
      );
    });

    afterAll(async () => {
      await browser?.close().catch(() => undefined);
      await stopServer();
      if (major) {
        await adminQuery(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        await adminQuery(`DROP ROLE IF EXISTS ${role}`);
      }
      if (work) await rm(work, { recursive: true, force: true });
    }, 60_000);

    it('installs sam_backup with no error (odoo-bin -i sam_backup)', async () => {
      const { code, log } = await odoo('install', [
        ...dbArgs(),
        '-i',
        'sam_backup',
        noDemo(),
        '--stop-after-init',
      ]);
      expect(problems(log).map(brief), `${prefix}-install.log`).toEqual([]);
      expect(code).toBe(0);
      expect(log).toMatch(/Modules loaded/);
      const [mod] = await adminQuery<{ state: string }>(
        "SELECT state FROM ir_module_module WHERE name = 'sam_backup'",
        db,
      );
      expect(mod?.state).toBe('installed');
    }, 240_000);

    it('upgrades with no error and keeps the job list view of the post_init_hook (-u sam_backup)', async () => {
      const listView = () =>
        adminQuery<{ id: number; type: string; noupdate: boolean }>(
          `SELECT v.id, v.type, d.noupdate FROM ir_model_data d JOIN ir_ui_view v ON v.id = d.res_id
           WHERE d.module = 'sam_backup' AND d.name = 'sam_backup_job_view_list' AND d.model = 'ir.ui.view'`,
          db,
        );
      const before = await listView();
      expect(before).toEqual([
        { id: expect.any(Number), type: major >= 18 ? 'list' : 'tree', noupdate: true },
      ]);
      const { code, log } = await odoo('upgrade', [...dbArgs(), '-u', 'sam_backup', '--stop-after-init']);
      expect(problems(log).map(brief), `${prefix}-upgrade.log`).toEqual([]);
      expect(code).toBe(0);
      expect(await listView()).toEqual(before);
    }, 240_000);

    it("runs the addon's own Python tests (tag sam_backup) with none failing", async () => {
      const { code, log } = await odoo('python-tests', [
        ...dbArgs(),
        '-u',
        'sam_backup',
        '--test-enable',
        '--test-tags',
        '/sam_backup',
        '--stop-after-init',
      ]);
      // The tests call a sidecar that is down (on purpose): the addon warns so, nothing else.
      const unexpected = problems(log).filter(
        (r) =>
          !/ WARNING \S+ odoo\.addons\.sam_backup\.models\.sidecar: sam_backup: .* is not reachable/.test(r),
      );
      expect(unexpected.map(brief), `${prefix}-python-tests.log`).toEqual([]);
      expect(code).toBe(0);
      const result = / (\d+) failed, (\d+) error\(s\) of (\d+) tests/.exec(log);
      expect(result?.slice(1, 3), 'failed, errors').toEqual(['0', '0']);
      expect(Number(result?.[3])).toBeGreaterThan(0);
    }, 240_000);

    it('opens the Settings page in Chromium: the SAM AI Backup app, its panel and the job history', async () => {
      const port = await freePort();
      // A port nothing listens on (freePort closed it): the sidecar is down.
      deadSidecar = `http://127.0.0.1:${await freePort()}`;
      const base = `http://127.0.0.1:${port}`;
      baseUrl = base;
      server = spawn(PYTHON, [join(src, 'odoo-bin'), ...dbArgs(), `--http-port=${port}`], {
        cwd: work,
        env: odooEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const file = createWriteStream(join(SHOTS, `${prefix}-server.log`));
      const collect = (chunk: Buffer) => {
        serverLog += chunk.toString();
        file.write(chunk);
      };
      server.stdout?.on('data', collect);
      server.stderr?.on('data', collect);
      server.once('exit', () => file.end());

      // Up when /web/login answers.
      const deadline = Date.now() + 90_000;
      for (;;) {
        if (server.exitCode !== null) throw new Error(`odoo-bin exited (${server.exitCode}):\n${serverLog}`);
        const ok = await fetch(`${base}/web/login`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline)
          throw new Error(`odoo-bin did not serve /web/login in 90 s:\n${serverLog}`);
        await sleep(500);
      }

      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      const page: Page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      page.setDefaultTimeout(60_000);
      const consoleErrors: string[] = [];
      const assetErrors: string[] = [];
      page.on('console', (m) => {
        // Odoo reports an asset bundle that does not compile with console.log, then falls back to
        // an old style sheet: the page "works" but unstyled.
        if (/error occurred while compiling the bundle/.test(m.text())) assetErrors.push(m.text());
        if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`);
      });
      page.on('pageerror', (e) => consoleErrors.push(`${e.name}: ${e.message}\n${e.stack ?? ''}`));
      try {
        await browse(page, base);
        if (assetErrors.length > 0) {
          expect(
            assetErrors.map(brief),
            `asset bundles that do not compile; the sam_backup .scss files that Odoo's libsass refuses on their own:\n${scssRefused()}\n`,
          ).toEqual([]);
        }
      } catch (error) {
        await page.screenshot({ path: join(SHOTS, `${prefix}-failure.png`) }).catch(() => undefined);
        throw error;
      }
      if (consoleErrors.length > 0) {
        console.log(`[odoo-real] ${prefix} browser console errors:\n${consoleErrors.join('\n')}`);
      }
      const ours = consoleErrors.filter((e) => /sam_backup|sam\.backup|SamBackup|o_sam_backup/.test(e));
      expect(ours, 'browser console errors from sam_backup').toEqual([]);
      // The one warning expected: the Export above, with the sidecar down.
      const unexpected = problems(serverLog).filter(
        (r) => !r.includes(`sam_backup: The SAM AI backup service at ${deadSidecar} is not reachable`),
      );
      expect(unexpected.map(brief), `${prefix}-server.log`).toEqual([]);
    }, 240_000);

    it('backs up and restores from its Settings page through the real sidecar: export, download, upload, dry run, restore', async () => {
      expect(browser, 'the Settings test started Odoo and the browser').toBeDefined();
      // The sidecar (BullMQ on the dev Redis, the engine) on this Odoo's database and filestore.
      const token = randomBytes(24).toString('hex');
      const backups = join(work, 'backups');
      const u = new URL(pgUrl);
      u.pathname = `/${db}`;
      const cfg = loadConfig({
        SAM_SIDECAR_TOKEN: token,
        SAM_SIDECAR_REDIS_URL: redisUrl,
        SAM_SIDECAR_QUEUE: `sam-odoo-real-${tag}`,
        SAM_BACKUP_DIR: backups,
        SAM_ODOO_DB_URL: u.toString(),
        SAM_ODOO_FILESTORE: join(work, 'data', 'filestore', db),
      });
      const log = createLogger('silent');
      const jobs = startJobs(cfg, log);
      const http = await new Promise<HttpServer>((ok) => {
        const s = createApp(cfg, jobs, log).listen(0, '127.0.0.1', () => ok(s));
      });
      const sidecarUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const page = await (browser as Browser).newPage({
        viewport: { width: 1440, height: 1000 },
        acceptDownloads: true,
      });
      page.setDefaultTimeout(60_000);
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
      try {
        await login(page, baseUrl);
        let app = await openSettings(page, baseUrl);
        // The sidecar, its token, and what a backup covers: the Odoo data of the bus module (a
        // fresh Odoo has no SAM AI module; sam_backup itself is never backed up).
        await app.locator('[name="sam_backup_sidecar_url"] input').fill(sidecarUrl);
        await app.locator('[name="sam_backup_sidecar_token"] input').fill(token);
        await app.locator('[name="sam_backup_components"] input').fill('odoo');
        await app.locator('[name="sam_backup_modules"] input').fill('bus');
        await Promise.all([page.waitForEvent('load'), page.locator('.o_form_button_save').click()]);
        app = await openSettings(page, baseUrl);
        await app.locator('.o_sam_backup_panel[data-loaded="yes"]').waitFor();

        // Export: Odoo's model starts the job on the sidecar, the bar follows it through the orm.
        await app.locator('.o_sam_backup_export').click();
        const bar = app.locator('.o_sam_backup_progress');
        await bar.waitFor();
        const ended = app.locator(
          '.o_sam_backup_progress[data-state="completed"], .o_sam_backup_progress[data-state="failed"]',
        );
        await ended.waitFor({ timeout: 180_000 });
        expect(await bar.getAttribute('data-state'), (await bar.textContent()) ?? '').toBe('completed');
        const row = app.locator('.o_sam_backup_history tr[data-kind="export"][data-state="completed"]');
        await row.waitFor();
        await page.screenshot({ path: join(SHOTS, `${prefix}-export-done.png`) });

        // Download through the addon's streaming route: the very bundle, and it verifies.
        const link = row.locator('a.o_sam_backup_download');
        const name = ((await link.textContent()) ?? '').trim();
        const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
        const file = join(work, 'downloaded.zip');
        await download.saveAs(file);
        const verified = await verifyBundle(file);
        expect(verified.ok, JSON.stringify(verified.problems)).toBe(true);
        expect(sha256(file)).toBe(sha256(join(backups, name)));

        // Upload it back through the addon's chunk routes (CSRF token, the lifted size limit).
        const upload = join(work, 'uploaded-through-odoo.zip');
        await copyFile(file, upload);
        await app.locator('.o_sam_backup_import').click();
        const dialog = page.locator('.o_sam_backup_dialog');
        await dialog.locator('.o_sam_backup_file').setInputFiles(upload);
        await dialog.locator('.o_sam_backup_upload').click();
        await page.waitForSelector('.o_sam_backup_dialog[data-step="preview"]', { timeout: 180_000 });
        expect(sha256(join(backups, 'uploaded-through-odoo.zip'))).toBe(sha256(upload));
        expect(
          await dialog.locator('.o_sam_backup_report_table tr[data-store="Odoo"]').count(),
        ).toBeGreaterThan(0);
        await page.screenshot({ path: join(SHOTS, `${prefix}-restore-preview.png`) });

        // Restore it, confirmed by its name: verified and committed, in the running Odoo.
        await dialog.locator('.o_sam_backup_confirm').fill('uploaded-through-odoo.zip');
        await dialog.locator('.o_sam_backup_restore').click();
        await page.waitForSelector('.o_sam_backup_dialog[data-step="done"]', { timeout: 240_000 });
        await page.screenshot({ path: join(SHOTS, `${prefix}-restore-done.png`) });
        const result = dialog.locator('.o_sam_backup_restore_result');
        expect(await result.getAttribute('class'), (await result.textContent()) ?? '').toContain(
          'alert-success',
        );
        expect(await dialog.locator('.o_sam_backup_verification li').first().textContent()).toMatch(
          /Odoo: (\d+) of \1 tables verified after the restore, committed/,
        );
        // The job history survived the restore (sam_backup is not in the bundle).
        await dialog.locator('.o_sam_backup_dialog_done').click();
        await app.locator('.o_sam_backup_history tr[data-kind="restore"][data-state="completed"]').waitFor();
        expect(await app.locator('.o_sam_backup_history tr[data-kind="export"]').count()).toBe(1);
        expect(pageErrors).toEqual([]);
        expect(await page.locator('.o_error_dialog, .o_dialog_error').count()).toBe(0);
      } catch (error) {
        await page.screenshot({ path: join(SHOTS, `${prefix}-chain-failure.png`) }).catch(() => undefined);
        throw error;
      } finally {
        await page.close();
        http.close();
        await jobs.close(true);
      }
    }, 600_000);

    it('uninstalls (button_immediate_uninstall): its table and views are gone', async () => {
      await browser?.close();
      browser = undefined;
      await stopServer();
      const { code, log } = await odoo(
        'uninstall',
        ['shell', ...dbArgs()],
        [
          "env['ir.module.module'].search([('name', '=', 'sam_backup')]).button_immediate_uninstall()",
          'env.cr.commit()',
          '',
        ].join('\n'),
      );
      expect(problems(log).map(brief), `${prefix}-uninstall.log`).toEqual([]);
      expect(code).toBe(0);
      const [mod] = await adminQuery<{ state: string }>(
        "SELECT state FROM ir_module_module WHERE name = 'sam_backup'",
        db,
      );
      expect(mod?.state).toBe('uninstalled');
      const [table] = await adminQuery<{ t: string | null }>(
        "SELECT to_regclass('sam_backup_job')::text AS t",
        db,
      );
      expect(table?.t).toBeNull();
      const views = await adminQuery("SELECT id FROM ir_ui_view WHERE model = 'sam.backup.job'", db);
      expect(views).toEqual([]);
    }, 240_000);
  });
}
