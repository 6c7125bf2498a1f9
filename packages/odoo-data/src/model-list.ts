/** The shape of `odoo_data/model_list.json` (format version 1): everything a restore needs. */
import { z } from 'zod';

export const MODEL_LIST_FORMAT = 'sam-backup/odoo-model-list' as const;
export const MODEL_LIST_VERSION = 1 as const;

export const ColumnSpecSchema = z.object({
  name: z.string(),
  /** format_type() of the column, e.g. `character varying`, `timestamp without time zone`. */
  pgType: z.string(),
  notNull: z.boolean(),
  /** ir_model_fields.ttype, or null when Odoo has no field for the column. */
  odooType: z.string().nullable(),
  relation: z.string().nullable(),
  label: z.string().nullable(),
  required: z.boolean(),
});

/** Distinct referenced ids as inclusive ranges [from, to], ascending. */
export const OutsideRefSchema = z.object({
  column: z.string(),
  table: z.string(),
  ids: z.array(z.tuple([z.number().int(), z.number().int()])),
  nullable: z.boolean(),
});

/**
 * Which rows of a shared table belong to the backup (bundle-format.md §7.1, "Row filters"):
 * `column` (as text) is one of `values`, or the (`pairs.columns`) pair is one of `pairs.values`
 * (attachments of binary fields the chosen modules added to models they only extend); with
 * `parent`, `column` references `parent.table`'s id and the row belongs when that parent row's
 * `parent.column` is one of `values` (chatter rows hanging off the backed-up messages and followers).
 */
export const RowFilterSchema = z.object({
  column: z.string(),
  values: z.array(z.string()),
  pairs: z
    .object({
      columns: z.tuple([z.string(), z.string()]),
      values: z.array(z.tuple([z.string(), z.string()])),
    })
    .optional(),
  parent: z.object({ table: z.string(), column: z.string() }).optional(),
});
export type RowFilter = z.infer<typeof RowFilterSchema>;

export const TableSpecSchema = z.object({
  table: z.string(),
  /** The Odoo model whose rows the table holds; null for many2many relation tables. */
  model: z.string().nullable(),
  /**
   * model: a model the chosen modules define, backed up whole;
   * extension: id + the columns the chosen modules added to a model they only extend (UPDATE only);
   * relation: a many2many relation table, backed up whole;
   * subset: the rows of a shared Odoo table (ir_model_data, ir_attachment, mail_*) that belong to
   * the backed-up models, selected by `filter`.
   */
  kind: z.enum(['model', 'extension', 'relation', 'subset']),
  module: z.string().nullable(),
  filter: RowFilterSchema.nullable(),
  /** Columns identifying a row, and the order of rows (ORDER BY). */
  key: z.array(z.string()),
  columns: z.array(ColumnSpecSchema),
  /** Columns exported as NULL because they hold credentials. */
  blanked: z.array(z.string()),
  sheets: z.array(z.string()),
  rows: z.number().int().nonnegative(),
  contentHash: z.string(),
  outsideRefs: z.array(OutsideRefSchema),
  /** Entry holding the whole values of cells cut at 32,767 characters (JSON lines), or null. */
  overflow: z.object({ entry: z.string(), cells: z.number().int() }).nullable(),
  description: z.string().nullable(),
});

export const ModelListSchema = z.object({
  format: z.literal(MODEL_LIST_FORMAT),
  formatVersion: z.literal(MODEL_LIST_VERSION),
  odooVersion: z.string(),
  modules: z.record(z.string(), z.string()),
  modulePatterns: z.array(z.string()),
  /** Tables in the order a restore loads them (deletes run in the reverse order). */
  restoreOrder: z.array(z.string()),
  /** Per table: columns loaded NULL first and set in a second pass (self and mutual references). */
  deferredColumns: z.record(z.string(), z.array(z.string())),
  tables: z.array(TableSpecSchema),
  /** Sheet name → table. */
  sheets: z.record(z.string(), z.string()),
  filestore: z.object({ files: z.number().int(), bytes: z.number().int() }),
  secretsIncluded: z.boolean(),
  hashAlgorithm: z.literal('sha256-copy-text-v1'),
});

export type ColumnSpec = z.infer<typeof ColumnSpecSchema>;
export type OutsideRef = z.infer<typeof OutsideRefSchema>;
export type TableSpec = z.infer<typeof TableSpecSchema>;
export type ModelList = z.infer<typeof ModelListSchema>;
