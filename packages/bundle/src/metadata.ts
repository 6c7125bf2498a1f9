import { z } from 'zod';

/** The bundle format version this code writes and the only one it reads (bundle-format.md §4). */
export const FORMAT_VERSION = 1 as const;
export const FORMAT_NAME = 'sam-backup' as const;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lowercase hex');
const count = z.number().int().nonnegative();

/** One entry of the bundle, as listed in metadata.json (bundle-format.md §4.6). */
export const EntryRecordSchema = z.strictObject({
  name: z.string().min(1),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  sha256: sha256Hex,
  compression: z.enum(['deflate', 'store']),
});

/** What one store (component) contributed (bundle-format.md §4.4). */
export const ComponentSchema = z.object({
  /** Entry names or name prefixes (ending with "/") that belong to the component. */
  entries: z.array(z.string()),
  /** Named counts a person reads: models, rows, files, vertices… */
  counts: z.record(z.string(), count),
  /** The component's own content hash, as its section of this specification defines it. */
  contentHash: z.string().optional(),
  /** Anything else the component records; specified by the component's section. */
  details: z.unknown().optional(),
});

export const SourceSchema = z.object({
  odoo: z.object({ version: z.string(), database: z.string().optional() }).optional(),
  modules: z.record(z.string(), z.string()).optional(),
  postgres: z.object({ version: z.string() }).optional(),
  age: z.object({ version: z.string() }).nullable().optional(),
  chroma: z
    .object({ version: z.string(), mode: z.enum(['directory', 'server']) })
    .nullable()
    .optional(),
  hostname: z.string().optional(),
});

export const OptionsSchema = z.object({
  /** Whether credential columns were exported as they are (bundle-format.md §4.5). */
  secretsIncluded: z.boolean(),
  /** What was left out because it holds credentials. */
  secretsOmitted: z.array(z.strictObject({ table: z.string(), column: z.string(), rows: count })),
  encrypted: z.boolean(),
  compression: z.strictObject({
    method: z.enum(['deflate', 'store']),
    level: z.number().int().min(0).max(9),
  }),
  /** How the stores' snapshots were aligned, in words (e.g. "one REPEATABLE READ snapshot"). */
  consistentCut: z.string().optional(),
});

export const MetadataSchema = z.strictObject({
  format: z.literal(FORMAT_NAME),
  formatVersion: z.literal(FORMAT_VERSION),
  createdAt: z.iso.datetime(),
  tool: z.strictObject({ name: z.string(), version: z.string() }),
  source: SourceSchema,
  components: z.record(z.string(), ComponentSchema),
  options: OptionsSchema,
  entries: z.array(EntryRecordSchema),
});

export type EntryRecord = z.infer<typeof EntryRecordSchema>;
export type Component = z.infer<typeof ComponentSchema>;
export type Metadata = z.infer<typeof MetadataSchema>;

/** What a writer's caller gives `finalize`: everything but what the writer itself knows. */
export interface MetadataInput {
  tool: Metadata['tool'];
  source?: Metadata['source'];
  components?: Metadata['components'];
  options?: Partial<Omit<Metadata['options'], 'compression'>>;
}
