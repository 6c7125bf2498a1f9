/**
 * The settings of `export` and `restore`: from the environment, overridden by a `--config` JSON
 * file, overridden by command-line options — validated with zod before any work starts. An error
 * names the setting, where it came from, what is wrong and what to write instead. Database URLs
 * are never echoed with their password.
 */
import { readFile } from 'node:fs/promises';
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
});

const FileSchema = z.strictObject({
  odooDbUrl: z.string().optional(),
  graphDbUrl: z.string().optional(),
  filestore: z.string().optional(),
  modules: z.union([z.string(), z.array(z.string())]).optional(),
  backupDir: z.string().optional(),
  secretColumns: z.union([z.string(), z.array(z.string())]).optional(),
});

export type Settings = z.infer<typeof SettingsSchema>;

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
      `--config ${path}: ${where}: ${issue?.message}; the file takes odooDbUrl, graphDbUrl, filestore, modules, backupDir, secretColumns`,
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
  };
  for (const key of needed) {
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
  return parsed.data;
}

const OPTION: Record<Key, string> = {
  odooDbUrl: 'db-url',
  graphDbUrl: 'graph-db-url',
  filestore: 'filestore',
  modules: 'modules',
  backupDir: 'out',
  secretColumns: 'secret-columns',
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
};
