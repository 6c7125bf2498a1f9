/**
 * The settings of `export` and `restore`: from the environment, overridden by a `--config` JSON
 * file, overridden by command-line options — validated with zod before any work starts. An error
 * names the setting, where it came from, what is wrong and what to write instead. Database URLs
 * are never echoed with their password.
 */
import { readFile } from 'node:fs/promises';
import type { Component } from '@sam-backup/engine';
import type { VectorSettings } from '@sam-backup/vectors';
import { z } from 'zod';
import { redactUrl } from './config.js';
import { CliError, EXIT } from './exit-codes.js';

/** Environment variable of each setting (README "Configuration"). */
export const ENV = {
  odooDbUrl: 'SAM_ODOO_DB_URL',
  graphDbUrl: 'SAM_GRAPH_DB_URL',
  filestore: 'SAM_ODOO_FILESTORE',
  modules: 'SAM_ODOO_MODULES',
  backupDir: 'SAM_BACKUP_DIR',
  secretColumns: 'SAM_SECRET_COLUMNS',
  chromaPath: 'SAM_CHROMA_PATH',
  chromaUrl: 'SAM_CHROMA_URL',
  chromaToken: 'SAM_CHROMA_TOKEN',
  chromaPauseHook: 'SAM_CHROMA_PAUSE_HOOK',
  chromaResumeHook: 'SAM_CHROMA_RESUME_HOOK',
  chromaStopHook: 'SAM_CHROMA_STOP_HOOK',
  chromaStartHook: 'SAM_CHROMA_START_HOOK',
} as const;

type Key = keyof typeof ENV;

const postgresUrl = z
  .string()
  .min(1, 'is empty')
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'postgres:' || u.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'is not a PostgreSQL URL: expected postgres://user[:password]@host:port/database');

const list = z.array(z.string().trim().min(1, 'has an empty name')).min(1, 'names nothing');

const SettingsSchema = z.object({
  odooDbUrl: postgresUrl,
  graphDbUrl: postgresUrl,
  filestore: z.string().min(1, 'is empty'),
  modules: list.optional(),
  backupDir: z.string().min(1, 'is empty'),
  secretColumns: z.array(z.string().trim().min(1)).optional(),
  chromaPath: z.string().min(1, 'is empty').optional(),
  chromaUrl: z
    .string()
    .refine((v) => /^https?:\/\/[^/]+/.test(v), 'is not an http(s) URL: expected e.g. http://127.0.0.1:8000')
    .optional(),
  chromaToken: z.string().optional(),
  chromaPauseHook: z.string().min(1).optional(),
  chromaResumeHook: z.string().min(1).optional(),
  chromaStopHook: z.string().min(1).optional(),
  chromaStartHook: z.string().min(1).optional(),
});

const FileSchema = z.strictObject({
  odooDbUrl: z.string().optional(),
  graphDbUrl: z.string().optional(),
  filestore: z.string().optional(),
  modules: z.union([z.string(), z.array(z.string())]).optional(),
  backupDir: z.string().optional(),
  secretColumns: z.union([z.string(), z.array(z.string())]).optional(),
  chromaPath: z.string().optional(),
  chromaUrl: z.string().optional(),
  chromaToken: z.string().optional(),
  chromaPauseHook: z.string().optional(),
  chromaResumeHook: z.string().optional(),
  chromaStopHook: z.string().optional(),
  chromaStartHook: z.string().optional(),
});

/** The resolved settings, and which of them were given (the others hold placeholders). */
export type Settings = z.infer<typeof SettingsSchema> & { present: ReadonlySet<string> };

type Raw = Partial<Record<Key, string | string[]>>;

function splitList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = Array.isArray(v) ? v : v.split(',');
  return items.map((s) => s.trim()).filter((s) => s.length > 0);
}

async function readConfigFile(path: string): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `--config ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the path of a JSON settings file`,
      EXIT.usage,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--config ${path}: is not JSON (${(err as Error).message})`, EXIT.usage);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    throw new CliError(
      `--config ${path}: ${where}: ${issue?.message}; the file takes ${Object.keys(ENV).join(', ')}`,
      EXIT.usage,
    );
  }
  return parsed.data;
}

/**
 * Resolves the settings `needed` by a command: environment < config file < options.
 * `needed` lists the settings that must be present (others may be missing).
 */
export async function loadSettings(
  opts: { config?: string; options: Raw; env: NodeJS.ProcessEnv },
  needed: readonly Key[],
): Promise<Settings> {
  const fromEnv: Raw = {};
  for (const key of Object.keys(ENV) as Key[]) {
    const v = opts.env[ENV[key]];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const fromFile = opts.config ? await readConfigFile(opts.config) : {};
  const source = (key: Key): string =>
    opts.options[key] !== undefined
      ? `option --${OPTION[key]}`
      : fromFile[key] !== undefined
        ? `${key} in ${opts.config}`
        : ENV[key];
  const pick = (key: Key) => opts.options[key] ?? fromFile[key] ?? fromEnv[key];
  const raw = {
    odooDbUrl: pick('odooDbUrl'),
    graphDbUrl: pick('graphDbUrl'),
    filestore: pick('filestore'),
    modules: splitList(pick('modules')),
    backupDir: pick('backupDir'),
    secretColumns: splitList(pick('secretColumns')),
    chromaPath: pick('chromaPath') as string | undefined,
    chromaUrl: pick('chromaUrl') as string | undefined,
    chromaToken: pick('chromaToken') as string | undefined,
    chromaPauseHook: pick('chromaPauseHook') as string | undefined,
    chromaResumeHook: pick('chromaResumeHook') as string | undefined,
    chromaStopHook: pick('chromaStopHook') as string | undefined,
    chromaStartHook: pick('chromaStartHook') as string | undefined,
  };
  if (needed.includes('chromaPath') || needed.includes('chromaUrl')) {
    if (raw.chromaPath === undefined && raw.chromaUrl === undefined) {
      throw new CliError(
        `neither SAM_CHROMA_PATH nor SAM_CHROMA_URL is set: ${HELP.chromaPath}, or ${HELP.chromaUrl} (or set chromaPath / chromaUrl in --config FILE)`,
        EXIT.usage,
      );
    }
    if (raw.chromaPath !== undefined && raw.chromaUrl !== undefined) {
      throw new CliError(
        `both ${source('chromaPath')} and ${source('chromaUrl')} are set: Chroma is either a persist directory or a server — keep one`,
        EXIT.usage,
      );
    }
  }
  for (const key of needed) {
    if (key === 'chromaPath' || key === 'chromaUrl') continue;
    if (raw[key] === undefined) {
      throw new CliError(`${ENV[key]} is not set: ${HELP[key]} (or set ${key} in --config FILE)`, EXIT.usage);
    }
  }
  // Settings a command does not need get a harmless value so the schema checks only the rest.
  const filled = {
    ...raw,
    odooDbUrl: raw.odooDbUrl ?? 'postgres://unused@127.0.0.1/unused',
    graphDbUrl: raw.graphDbUrl ?? 'postgres://unused@127.0.0.1/unused',
    filestore: raw.filestore ?? '.',
    backupDir: raw.backupDir ?? '.',
  };
  const parsed = SettingsSchema.safeParse(filled);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] as Key;
    const value =
      key === 'odooDbUrl' || key === 'graphDbUrl' ? redactUrl(String(raw[key])) : JSON.stringify(raw[key]);
    throw new CliError(`${source(key)} ${value} ${issue?.message}; ${HELP[key]}`, EXIT.usage);
  }
  const present = new Set(
    Object.entries(raw)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k),
  );
  return { ...parsed.data, present };
}

const OPTION: Record<Key, string> = {
  odooDbUrl: 'db-url',
  graphDbUrl: 'graph-db-url',
  filestore: 'filestore',
  modules: 'modules',
  backupDir: 'out',
  secretColumns: 'secret-columns',
  chromaPath: 'chroma-path',
  chromaUrl: 'chroma-url',
  chromaToken: 'chroma-token',
  chromaPauseHook: 'chroma-pause-hook',
  chromaResumeHook: 'chroma-resume-hook',
  chromaStopHook: 'chroma-stop-hook',
  chromaStartHook: 'chroma-start-hook',
};

const HELP: Record<Key, string> = {
  odooDbUrl: "give the Odoo database's PostgreSQL URL, e.g. postgres://odoo@127.0.0.1:5432/odoo",
  graphDbUrl:
    "give the graph database's PostgreSQL superuser URL, e.g. postgres://postgres@127.0.0.1:5432/sam_ai_memory",
  filestore:
    "give the Odoo database's filestore folder, e.g. /var/lib/odoo/.local/share/Odoo/filestore/<database>",
  modules: 'give module names or patterns separated by commas, e.g. ai_*,sam_*',
  backupDir: 'give the folder where bundles are written, e.g. /var/backups/sam',
  secretColumns: 'give column names separated by commas',
  chromaPath: "give Chroma's persist directory, e.g. /srv/sam/chroma_data (SAM_CHROMA_PATH)",
  chromaUrl: "give the Chroma server's URL, e.g. http://127.0.0.1:8000 (SAM_CHROMA_URL)",
  chromaToken: 'give the bearer token of the Chroma server',
  chromaPauseHook: 'give a command or URL that pauses the writers to Chroma',
  chromaResumeHook: 'give a command or URL that resumes the writers to Chroma',
  chromaStopHook: 'give a command or URL that stops the Chroma that serves the directory',
  chromaStartHook: 'give a command or URL that starts it again',
};

/** The vector settings of the engine, from the resolved settings (null when none is set). */
export function vectorSettings(s: Settings): VectorSettings | null {
  if (s.chromaUrl)
    return { mode: 'server', url: s.chromaUrl, ...(s.chromaToken ? { token: s.chromaToken } : {}) };
  if (s.chromaPath) {
    return {
      mode: 'directory',
      path: s.chromaPath,
      ...(s.chromaPauseHook ? { pauseHook: s.chromaPauseHook } : {}),
      ...(s.chromaResumeHook ? { resumeHook: s.chromaResumeHook } : {}),
      ...(s.chromaStopHook ? { stopHook: s.chromaStopHook } : {}),
      ...(s.chromaStartHook ? { startHook: s.chromaStartHook } : {}),
    };
  }
  return null;
}

/** The components whose settings are present (what `export` takes when --components is not given). */
export function configuredComponents(s: Settings): Component[] {
  const out: Component[] = [];
  if (s.present.has('odooDbUrl')) out.push('odoo');
  if (s.present.has('graphDbUrl')) out.push('graph');
  if (s.present.has('chromaPath') || s.present.has('chromaUrl')) out.push('vectors');
  return out;
}
