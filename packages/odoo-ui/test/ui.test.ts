/**
 * The addon's compiled OWL components in headless Chromium (Debian's chromium, driven by
 * playwright-core), mounted with the real @odoo/owl by the harness page, in front of the real
 * sidecar (BullMQ on Redis, the engine on PostgreSQL and a Chroma directory) through an Odoo
 * stand-in (odoo-standin.ts). Proves: Export → the bar moves within a second of the sidecar and
 * completes → the download link gives the verified bundle; Import → dry-run table → typed
 * confirmation → restore → verification report, the damaged rows back; an upload in chunks that
 * survives a lost connection, a damaged chunk and a page reload (resumed); the sidecar down → one
 * message; the same components on OWL 2.2 (Odoo 17's). Screenshots: test-results/ui/*.png.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyBundle } from '@sam-backup/bundle';
import { createFixture, createGraphFixture, createVectorFixture, dropFixture } from '@sam-backup/fixtures';
import {
  createApp,
  createLogger,
  type JobSystem,
  loadConfig,
  type SidecarConfig,
  startJobs,
} from '@sam-backup/sidecar';
import pg from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandIn, startOdooStandIn } from './odoo-standin.js';

const PG = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const REDIS = process.env.SAM_TEST_REDIS_URL ?? 'redis://127.0.0.1:56379';
const CHROMIUM = process.env.SAM_TEST_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = randomBytes(24).toString('hex');
const tag = randomBytes(3).toString('hex');
const odooDb = `ui_odoo_${tag}`;
const graphDb = `ui_graph_${tag}`;
const shots = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-results', 'ui');
const urlOf = (db: string) => {
  const u = new URL(PG);
  u.pathname = `/${db}`;
  return u.toString();
};

let root = '';
let cfg: SidecarConfig;
let jobs: JobSystem;
let sidecarServer: Server;
let standIn: StandIn;
let browser: Browser;

async function query<T = Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

async function openPage(base: string, owl: '2.8' | '2.2' = '2.8'): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[browser] ${m.text()}`);
  });
  await page.goto(`${base}/?owl=${owl}`);
  await page.waitForFunction(() => (window as unknown as { __mounted?: boolean }).__mounted === true);
  await page.locator('.o_sam_backup_panel[data-loaded="yes"]').waitFor();
  return page;
}

interface Seen {
  job: number;
  phase: string;
  done: number;
  state: string;
  t: number;
}
const lagSamples: Record<string, number[]> = {};

/**
 * The progress lag: for every progress update the stand-in read from the sidecar, the time from
 * the sidecar's own timestamp of it (`progressAt`) to the page showing that value (the harness's
 * MutationObserver). Updates the sidecar replaced before the next poll are not shown and not
 * counted. The figures of every page so far go to test-results/ui/progress-lag.json.
 */
async function progressLag(page: Page, what: string) {
  const seen = await page.evaluate(() => (window as unknown as { __samSeen: Seen[] }).__samSeen);
  const lags: number[] = [];
  for (const p of standIn.progressLog) {
    // The first time the page showed this job in this phase with this count, after the sidecar had it.
    const shown = seen.find(
      (s) => s.job === p.job && s.phase === p.phase && s.done === p.done && s.t >= p.progressAt,
    );
    if (shown) lags.push(shown.t - p.progressAt);
  }
  lagSamples[what] = lags.sort((a, b) => a - b);
  const stats = (l: number[]) => ({
    samples: l.length,
    medianMs: l[Math.floor(l.length / 2)] ?? null,
    p95Ms: l[Math.min(l.length - 1, Math.floor(0.95 * l.length))] ?? null,
    maxMs: l.at(-1) ?? null,
  });
  const all = Object.values(lagSamples)
    .flat()
    .sort((a, b) => a - b);
  const report = {
    pollMs: 500,
    all: stats(all),
    ...Object.fromEntries(Object.entries(lagSamples).map(([k, l]) => [k, stats(l)])),
  };
  await writeFile(join(shots, 'progress-lag.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`progress lag sidecar → page (${what}): ${JSON.stringify(stats(lags))}`);
  return { samples: lags.length, p95Ms: stats(lags).p95Ms ?? Number.POSITIVE_INFINITY };
}

const pageErrors = (page: Page) =>
  page.evaluate(() => (window as unknown as { __errors: string[] }).__errors);

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium)`);
  await mkdir(shots, { recursive: true });
  root = await mkdtemp(join(tmpdir(), 'sam-ui-'));
  await createFixture({
    adminUrl: PG,
    database: odooDb,
    filestoreDir: join(root, 'filestore'),
    scale: 0.1,
    seed: 11,
  });
  await createGraphFixture({ adminUrl: PG, database: graphDb, scale: 0.1, dropExisting: true });
  await createVectorFixture({ path: join(root, 'chroma_data'), scale: 0.1 });
  cfg = loadConfig({
    SAM_SIDECAR_TOKEN: TOKEN,
    SAM_SIDECAR_REDIS_URL: REDIS,
    SAM_SIDECAR_QUEUE: `sam-backup-ui-${tag}`,
    SAM_BACKUP_DIR: join(root, 'backups'),
    SAM_ODOO_DB_URL: urlOf(odooDb),
    SAM_ODOO_FILESTORE: join(root, 'filestore'),
    SAM_GRAPH_DB_URL: urlOf(graphDb),
    SAM_CHROMA_PATH: join(root, 'chroma_data'),
  });
  const log = createLogger('silent');
  jobs = startJobs(cfg, log);
  await new Promise<void>((resolve) => {
    sidecarServer = createApp(cfg, jobs, log).listen(0, '127.0.0.1', () => resolve());
  });
  const port = (sidecarServer.address() as { port: number }).port;
  // Small chunks, so a bundle of a few MiB is sent in several.
  standIn = await startOdooStandIn({
    sidecarUrl: `http://127.0.0.1:${port}`,
    token: TOKEN,
    chunkSize: 256 * 1024,
  });
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
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await standIn?.close();
  sidecarServer?.close();
  await jobs?.close(true);
  await dropFixture({ adminUrl: PG, database: odooDb, filestoreDir: join(root, 'filestore') }).catch(
    () => undefined,
  );
  await query(PG, `DROP DATABASE IF EXISTS ${graphDb} WITH (FORCE)`).catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('sam_backup OWL components in headless Chromium', () => {
  let bundleName = '';
  let bundleFile = '';

  it('Export: the bar follows the sidecar within a second, completes, and the download link gives the verified bundle', async () => {
    const page = await openPage(standIn.url);
    await page.screenshot({ animations: 'disabled', path: join(shots, '1-panel-empty.png') });
    await page.locator('.o_sam_backup_export').click();
    await page.locator('.o_sam_backup_progress').waitFor();
    // Mid-way, once the sidecar has reported some progress.
    await page.waitForFunction(() => {
      const el = document.querySelector('.o_sam_backup_progress') as HTMLElement | null;
      return !!el && el.dataset.state === 'active' && Number(el.dataset.done) > 0;
    });
    await page.screenshot({ animations: 'disabled', path: join(shots, '2-export-progress.png') });
    const row = page.locator('.o_sam_backup_history tr[data-kind="export"][data-state="completed"]');
    await row.waitFor({ timeout: 180_000 });
    await page.locator('.o_notification.alert-success').waitFor();
    await page.screenshot({ animations: 'disabled', path: join(shots, '3-export-done.png') });

    // The bar moved: several distinct values, ending completed.
    const seen = await page.evaluate(
      () =>
        (window as unknown as { __samSeen: Array<{ job: number; done: number; state: string; t: number }> })
          .__samSeen,
    );
    const exportJob = seen[0]?.job as number;
    const mine = seen.filter((s) => s.job === exportJob);
    expect(new Set(mine.map((s) => s.done)).size).toBeGreaterThanOrEqual(3);
    expect(mine.at(-1)?.state).toBe('completed');

    const figures = await progressLag(page, 'export');
    expect(figures.samples).toBeGreaterThanOrEqual(3);
    expect(figures.p95Ms).toBeLessThan(1000);

    // The download link streams the bundle through the addon's route; it verifies.
    const link = row.locator('a.o_sam_backup_download');
    bundleName = (await link.textContent())?.trim() ?? '';
    expect(bundleName).toMatch(/\.zip$/);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    bundleFile = join(root, 'downloaded.zip');
    await download.saveAs(bundleFile);
    const verified = await verifyBundle(bundleFile);
    expect(verified.ok, JSON.stringify(verified.problems)).toBe(true);
    const sha = createHash('sha256')
      .update(await readFile(bundleFile))
      .digest('hex');
    const expected = (await readFile(join(cfg.SAM_BACKUP_DIR, `${bundleName}.sha256`), 'utf8')).slice(0, 64);
    expect(sha).toBe(expected);
    expect(await pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('Import: dry-run table, typed confirmation, restore, verification report — the damaged rows are back', async () => {
    expect(bundleName).not.toBe('');
    const before = await query<{ n: string }>(urlOf(odooDb), 'SELECT count(*) AS n FROM ai_message');
    await query(
      urlOf(odooDb),
      'DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id LIMIT 7)',
    );

    const page = await openPage(standIn.url);
    await page.locator('.o_sam_backup_import').click();
    const dialog = page.locator('.o_sam_backup_dialog');
    await dialog.locator(`tr[data-bundle="${bundleName}"] .o_sam_backup_choose`).click();
    await page.waitForSelector('.o_sam_backup_dialog[data-step="preview"]', { timeout: 180_000 });
    const messageRow = dialog.locator(
      '.o_sam_backup_report_table tr[data-store="Odoo"][data-name="ai.message"]',
    );
    await expect.poll(() => messageRow.locator('.o_sam_backup_insert').textContent()).toBe('7');
    expect(await dialog.locator('.o_sam_backup_report_table tr[data-store="Graph"]').count()).toBeGreaterThan(
      0,
    );
    expect(
      await dialog.locator('.o_sam_backup_report_table tr[data-store="Vectors"]').count(),
    ).toBeGreaterThan(0);
    await page.screenshot({
      animations: 'disabled',
      path: join(shots, '4-restore-preview.png'),
      fullPage: true,
    });

    // Nothing changed by the dry run.
    expect((await query<{ n: string }>(urlOf(odooDb), 'SELECT count(*) AS n FROM ai_message'))[0]?.n).toBe(
      String(Number(before[0]?.n) - 7),
    );
    // The restore needs the bundle's name typed exactly.
    const restore = dialog.locator('.o_sam_backup_restore');
    await dialog.locator('.o_sam_backup_confirm').fill('restore');
    await expect.poll(() => restore.isDisabled()).toBe(true);
    await dialog.locator('.o_sam_backup_confirm').fill(bundleName);
    await expect.poll(() => restore.isDisabled()).toBe(false);
    await restore.click();
    await page.waitForSelector('.o_sam_backup_dialog[data-step="restore"]');
    await dialog.locator('.o_sam_backup_progress').waitFor();
    await page.screenshot({ animations: 'disabled', path: join(shots, '5-restore-progress.png') });
    await page.waitForSelector('.o_sam_backup_dialog[data-step="done"]', { timeout: 240_000 });
    await page.screenshot({
      animations: 'disabled',
      path: join(shots, '6-restore-done.png'),
      fullPage: true,
    });
    // The dry run's and the restore's progress, followed by the dialog's bars.
    const lag = await progressLag(page, 'dry run + restore');
    expect(lag.samples).toBeGreaterThanOrEqual(3);
    expect(lag.p95Ms).toBeLessThan(1000);
    const result = dialog.locator('.o_sam_backup_restore_result');
    expect(await result.getAttribute('class')).toContain('alert-success');
    const verification = await dialog.locator('.o_sam_backup_verification li').allTextContents();
    expect(verification.join('\n')).toMatch(/Odoo: (\d+) of \1 tables verified/);
    expect(verification.join('\n')).toMatch(/Graph: .* verified/);
    expect(verification.join('\n')).toMatch(/Vectors: .* verified/);
    expect(await dialog.locator('.o_sam_backup_verified', { hasText: 'NO' }).count()).toBe(0);
    expect((await query<{ n: string }>(urlOf(odooDb), 'SELECT count(*) AS n FROM ai_message'))[0]?.n).toBe(
      before[0]?.n,
    );

    await dialog.locator('.o_sam_backup_dialog_done').click();
    await page.locator('.o_sam_backup_history tr[data-kind="restore"][data-state="completed"]').waitFor();
    expect(await pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('Upload in chunks: a lost connection and a damaged chunk are sent again; after a reload the upload resumes', async () => {
    expect(bundleFile).not.toBe('');
    const size = (await readFile(bundleFile)).length;
    const chunks = Math.ceil(size / (256 * 1024));
    expect(chunks).toBeGreaterThanOrEqual(4);
    // Upload under another name, so the sidecar gets a new file.
    const file = join(root, 'uploaded-from-browser.zip');
    await writeFile(file, await readFile(bundleFile));

    // 1. Chunk 3 is held (the request never ends): reload the page while it hangs.
    standIn.faults.holdChunk.add(3);
    const page = await openPage(standIn.url);
    await page.locator('.o_sam_backup_import').click();
    await page.locator('.o_sam_backup_file').setInputFiles(file);
    await page.locator('.o_sam_backup_upload').click();
    await page.waitForSelector('.o_sam_backup_dialog[data-step="upload"]');
    await expect
      .poll(() => [...standIn.chunkAttempts.values()].flat().includes(3), { timeout: 30_000 })
      .toBe(true);
    const uploadId = [...standIn.chunkAttempts.keys()].at(-1) as string;
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { __mounted?: boolean }).__mounted === true);

    // 2. Chosen again: only the missing chunks go; chunk 4's connection drops and chunk 5 arrives
    //    damaged on their first attempts — both are sent again.
    standIn.faults.dropChunk.add(4);
    standIn.faults.damageChunk.add(5);
    await page.locator('.o_sam_backup_import').click();
    await page.locator('.o_sam_backup_file').setInputFiles(file);
    await page.locator('.o_sam_backup_upload').click();
    await page.locator('.o_sam_backup_dialog', { hasText: 'resumed: 3 parts were already sent' }).waitFor();
    await page.screenshot({ animations: 'disabled', path: join(shots, '8-upload-resumed.png') });
    await page.waitForSelector(
      '.o_sam_backup_dialog[data-step="dry-run"], .o_sam_backup_dialog[data-step="preview"]',
      {
        timeout: 120_000,
      },
    );
    const attempts = standIn.chunkAttempts.get(uploadId) as number[];
    // 0,1,2 once; 3 held then sent again; 4 and 5 twice; every other chunk once.
    expect(attempts.filter((n) => n < 3)).toEqual([0, 1, 2]);
    expect(attempts.filter((n) => n === 3)).toHaveLength(2);
    expect(attempts.filter((n) => n === 4)).toHaveLength(2);
    expect(attempts.filter((n) => n === 5)).toHaveLength(2);
    for (let n = 6; n < chunks; n++) expect(attempts.filter((x) => x === n)).toHaveLength(1);
    await page.waitForSelector('.o_sam_backup_dialog[data-step="preview"]', { timeout: 180_000 });
    expect(await page.locator('.o_sam_backup_report_table tr[data-store="Odoo"]').count()).toBeGreaterThan(5);
    const uploaded = join(cfg.SAM_BACKUP_DIR, 'uploaded-from-browser.zip');
    expect(
      createHash('sha256')
        .update(await readFile(uploaded))
        .digest('hex'),
    ).toBe(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    );
    expect(await pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('A reload re-attaches the bar to the running export; Cancel stops it and leaves no partial bundle', async () => {
    const bundlesBefore = (await readdir(cfg.SAM_BACKUP_DIR)).filter((f) => f.endsWith('.zip')).sort();
    let page = await openPage(standIn.url);
    await page.locator('.o_sam_backup_export').click();
    const bar = page.locator('.o_sam_backup_progress[data-state="active"]');
    await bar.waitFor();
    const job = await bar.getAttribute('data-job');
    await page.close();
    page = await openPage(standIn.url);
    // The new page finds the job still running and follows it, with the buttons disabled.
    const again = page.locator(`.o_sam_backup_progress[data-job="${job}"]`);
    await again.waitFor();
    expect(await page.locator('.o_sam_backup_export').isDisabled()).toBe(true);
    await page.locator('.o_sam_backup_progress[data-state="active"]').waitFor();
    await page.locator('.o_sam_backup_cancel').click();
    await page
      .locator(`.o_sam_backup_progress[data-job="${job}"][data-state="cancelled"]`)
      .waitFor({ timeout: 60_000 });
    await page.screenshot({ animations: 'disabled', path: join(shots, '7-export-cancelled.png') });
    await expect.poll(() => page.locator('.o_sam_backup_export').isDisabled()).toBe(false);
    const bundlesAfter = (await readdir(cfg.SAM_BACKUP_DIR)).filter((f) => f.endsWith('.zip')).sort();
    expect(bundlesAfter).toEqual(bundlesBefore);
    // The writer's temporary file (.<name>.partial-…) is gone too.
    expect((await readdir(cfg.SAM_BACKUP_DIR)).filter((f) => f.includes('partial'))).toEqual([]);
    expect(await pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('OWL 2.2 (the version of Odoo 17): the panel, its history and the restore preview render', async () => {
    const page = await openPage(standIn.url, '2.2');
    expect(
      await page.locator('.o_sam_backup_history tr[data-kind="export"] a.o_sam_backup_download').count(),
    ).toBe(1);
    await page.locator('.o_sam_backup_import').click();
    await page.locator(`.o_sam_backup_dialog tr[data-bundle="${bundleName}"] .o_sam_backup_choose`).click();
    await page.waitForSelector('.o_sam_backup_dialog[data-step="preview"]', { timeout: 180_000 });
    expect(await page.locator('.o_sam_backup_report_table tbody tr').count()).toBeGreaterThan(5);
    expect(await page.locator('.o_sam_backup_restore').count()).toBe(1);
    await page.screenshot({ animations: 'disabled', path: join(shots, '9-owl-2.2-preview.png') });
    // The same preview when the sidecar reports too little disk: refused, no Restore button.
    standIn.faults.diskShort = true;
    try {
      await page.locator('.o_sam_backup_back').click();
      await page.locator(`.o_sam_backup_dialog tr[data-bundle="${bundleName}"] .o_sam_backup_choose`).click();
      await page.waitForSelector('.o_sam_backup_dialog[data-step="preview"]', { timeout: 180_000 });
      await page.screenshot({ animations: 'disabled', path: join(shots, '10-disk-short.png') });
      expect(await page.locator('.o_sam_backup_refusals').textContent()).toMatch(
        /Not enough disk: backup folder/,
      );
      expect(await page.locator('.o_sam_backup_restore').count()).toBe(0);
      expect(await page.locator('.o_sam_backup_disk tr.table-danger').count()).toBe(1);
    } finally {
      standIn.faults.diskShort = false;
    }
    expect(await pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('The sidecar down: the panel says so in one sentence, and Export shows the reason instead of an error', async () => {
    const dead = await startOdooStandIn({ sidecarUrl: 'http://127.0.0.1:9', token: TOKEN });
    try {
      const page = await openPage(dead.url);
      await page.locator('.o_sam_backup_export').click();
      const alert = page.locator('.o_sam_backup_error');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(
        /backup service at http:\/\/127\.0\.0\.1:9 cannot be reached .*: start the sidecar/,
      );
      expect(await alert.textContent()).not.toMatch(/Traceback|at .*\.ts:/);
      await page.screenshot({ animations: 'disabled', path: join(shots, '11-sidecar-down.png') });
      expect(await pageErrors(page)).toEqual([]);
      await page.close();
    } finally {
      await dead.close();
    }
  });
});
