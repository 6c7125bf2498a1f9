/**
 * The sidecar's configuration, from the environment, validated at start (zod): a wrong or missing
 * value stops the start with one message naming the variable and the fix. Credentials stay in
 * configuration: they are never logged (see log.ts) nor returned by any route.
 */
import { z } from 'zod';

const postgresUrl = z
  .string()
  .refine(
    (v) => /^postgres(ql)?:\/\//.test(v),
    'is not a PostgreSQL URL (postgres://user[:password]@host:port/db)',
  );

const Schema = z.object({
  SAM_SIDECAR_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters (a random token: openssl rand -hex 32)'),
  SAM_SIDECAR_HOST: z.string().default('127.0.0.1'),
  SAM_SIDECAR_PORT: z.coerce.number().int().min(0).max(65535).default(8765),
  SAM_SIDECAR_REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), 'is not a Redis URL (redis://host:port)')
    .default('redis://127.0.0.1:6379'),
  SAM_SIDECAR_QUEUE: z
    .string()
    .regex(/^[\w-]+$/)
    .default('sam-backup'),
  /** How long a worker's lock on a running job lasts; BullMQ re-runs a job whose lock lapsed. */
  SAM_SIDECAR_LOCK_MS: z.coerce.number().int().min(1000).default(120_000),
  /** First retry delay of a failed export (doubles each attempt). */
  SAM_SIDECAR_BACKOFF_MS: z.coerce.number().int().min(0).default(5_000),
  SAM_SIDECAR_KEEP_BUNDLES: z.coerce.number().int().min(1).default(10),
  SAM_SIDECAR_KEEP_DAYS: z.coerce.number().int().min(1).default(30),
  SAM_SIDECAR_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(50 * 2 ** 30),
  SAM_BACKUP_DIR: z.string().min(1),
  SAM_ODOO_DB_URL: postgresUrl.optional(),
  SAM_ODOO_FILESTORE: z.string().min(1).optional(),
  SAM_ODOO_MODULES: z.string().optional(),
  SAM_GRAPH_DB_URL: postgresUrl.optional(),
  SAM_CHROMA_PATH: z.string().min(1).optional(),
  SAM_CHROMA_URL: z
    .string()
    .refine((v) => /^https?:\/\//.test(v), 'is not an http(s) URL')
    .optional(),
  SAM_CHROMA_TOKEN: z.string().optional(),
});

export type SidecarConfig = z.infer<typeof Schema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SidecarConfig {
  const given = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('SAM_') && v !== ''));
  const parsed = Schema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? '?');
    throw new ConfigError(
      `${name} ${issue?.code === 'invalid_type' && given[name] === undefined ? 'is not set' : issue?.message}: set it in the sidecar's environment (see packages/sidecar/README.md)`,
    );
  }
  const c = parsed.data;
  if (c.SAM_ODOO_DB_URL && !c.SAM_ODOO_FILESTORE) {
    throw new ConfigError(
      'SAM_ODOO_FILESTORE is not set: give the Odoo database filestore folder along with SAM_ODOO_DB_URL',
    );
  }
  if (c.SAM_CHROMA_PATH && c.SAM_CHROMA_URL) {
    throw new ConfigError(
      'both SAM_CHROMA_PATH and SAM_CHROMA_URL are set: Chroma is either a persist directory or a server — keep one',
    );
  }
  return c;
}

/** The components this installation has settings for. */
export function configuredComponents(c: SidecarConfig): Array<'odoo' | 'graph' | 'vectors'> {
  return [
    ...(c.SAM_ODOO_DB_URL ? (['odoo'] as const) : []),
    ...(c.SAM_GRAPH_DB_URL ? (['graph'] as const) : []),
    ...(c.SAM_CHROMA_PATH || c.SAM_CHROMA_URL ? (['vectors'] as const) : []),
  ];
}
