/**
 * Discovery, purely from Odoo's own metadata (ir_module_module, ir_model, ir_model_data,
 * ir_model_fields) and the PostgreSQL catalog.
 */
import type pg from 'pg';
import { OdooDataError } from './errors.js';
import type { ColumnSpec, RowFilter } from './model-list.js';

export const DEFAULT_MODULE_PATTERNS = ['ai_*', 'sam_*'] as const;
/**
 * Never backed up, whatever the patterns: sam_backup's job history records what was done to the
 * installation — a restore that rolled it back would delete the record of the very restore that is
 * running (and every job since the bundle was made).
 */
export const NEVER_BACKED_UP_MODULES: readonly string[] = ['sam_backup'];
export const SECRET_COLUMN_PATTERN = /password|passwd|api_key|apikey|secret|token|private_key|credential/i;

export interface ForeignKey {
  column: string;
  refTable: string;
  nullable: boolean;
}

export interface PlannedTable {
  table: string;
  model: string | null;
  kind: 'model' | 'extension' | 'relation' | 'subset';
  module: string | null;
  filter: RowFilter | null;
  key: string[];
  columns: ColumnSpec[];
  /** Columns whose names mark them as credentials. */
  secretColumns: string[];
  foreignKeys: ForeignKey[];
  description: string | null;
}

export interface Discovery {
  odooVersion: string;
  modules: Record<string, string>;
  modulePatterns: string[];
  /** Models backed up whole (defined by the chosen modules, regular, with a table). */
  models: string[];
  /** Models the chosen modules only extend. */
  extendedModels: string[];
  tables: PlannedTable[];
  /** Load order (FK order among whole and subset tables, then relations, then extensions). */
  restoreOrder: string[];
  /** Per table: columns loaded NULL first and set in a second pass (self and mutual references). */
  deferredColumns: Record<string, string[]>;
  /** Regular models skipped, with the reason. */
  skipped: Array<{ model: string; reason: string }>;
}

export interface DiscoverOptions {
  /** Module names or patterns with `*` (default `ai_*`, `sam_*`). */
  modules?: readonly string[];
  /** Extra column names (exact, case-insensitive) to treat as secrets. */
  secretColumns?: readonly string[];
}

function patternRegex(patterns: readonly string[]): RegExp {
  const alts = patterns.map((p) =>
    p
      .trim()
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*'),
  );
  return new RegExp(`^(?:${alts.join('|')})$`);
}

const TEXT_TYPES = /^(character varying|character|text|jsonb|json|bytea)\b/;

/**
 * A column holds a credential when its name says so (SECRET_COLUMN_PATTERN or the configured list)
 * and it can hold one: text-like types only (token counts and other numbers are not secrets).
 */
export function isSecretColumn(name: string, pgType: string, extra: readonly string[] = []): boolean {
  if (extra.some((e) => e.toLowerCase() === name.toLowerCase())) return true;
  return SECRET_COLUMN_PATTERN.test(name) && TEXT_TYPES.test(pgType);
}

async function tableExists(db: pg.ClientBase, table: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = $1 AND c.relkind IN ('r','p') AND n.nspname = current_schema()`,
    [table],
  );
  return (r.rowCount ?? 0) > 0;
}

interface CatalogColumn {
  name: string;
  pgType: string;
  notNull: boolean;
}

async function tableColumns(db: pg.ClientBase, table: string): Promise<CatalogColumn[]> {
  const r = await db.query<{ name: string; pg_type: string; not_null: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS pg_type, a.attnotnull AS not_null
     FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [quoteIdent(table)],
  );
  return r.rows.map((x) => ({ name: x.name, pgType: x.pg_type, notNull: x.not_null }));
}

async function primaryKey(db: pg.ClientBase, table: string): Promise<string[]> {
  const r = await db.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
     JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.ord`,
    [quoteIdent(table)],
  );
  return r.rows.map((x) => x.name);
}

async function foreignKeys(db: pg.ClientBase, table: string): Promise<ForeignKey[]> {
  const r = await db.query<{ column: string; ref_table: string; not_null: boolean }>(
    `SELECT a.attname AS column, rc.relname AS ref_table, a.attnotnull AS not_null
     FROM pg_constraint c
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
     JOIN pg_class rc ON rc.oid = c.confrelid
     WHERE c.contype = 'f' AND c.conrelid = $1::regclass AND array_length(c.conkey, 1) = 1
     ORDER BY a.attnum, c.conname`,
    [quoteIdent(table)],
  );
  return r.rows.map((x) => ({ column: x.column, refTable: x.ref_table, nullable: !x.not_null }));
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Field types that never have a column of their own (binary fields are attachments by default). */
const NO_COLUMN_TYPES = new Set(['one2many', 'many2many', 'binary']);

/**
 * The table of a model: the model name with dots as underscores, unless the model sets its own
 * `_table`. Odoo keeps no table name in ir_model, but it comments every table it creates with the
 * model's description (`COMMENT ON TABLE … IS _description`): a table of another name carrying that
 * comment, not the default table of another model, and having a column for every stored field of
 * the model, is the model's table — when exactly one matches. Null when there is none (abstract).
 */
async function modelTable(
  db: pg.ClientBase,
  model: string,
  description: string | null,
  fields: readonly FieldRow[],
  defaultTables: ReadonlySet<string>,
): Promise<string | null> {
  const table = model.replace(/\./g, '_');
  if (await tableExists(db, table)) return table;
  if (!description) return null;
  const candidates = await db.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r','p')
       AND obj_description(c.oid, 'pg_class') = $1 ORDER BY 1`,
    [description],
  );
  const needed = fields.filter((f) => f.store !== false && !NO_COLUMN_TYPES.has(f.ttype)).map((f) => f.name);
  const matches: string[] = [];
  for (const { table: candidate } of candidates.rows) {
    if (defaultTables.has(candidate)) continue;
    const cols = new Set((await tableColumns(db, candidate)).map((c) => c.name));
    if (cols.has('id') && needed.every((n) => cols.has(n))) matches.push(candidate);
  }
  return matches.length === 1 ? (matches[0] as string) : null;
}

interface FieldRow {
  name: string;
  ttype: string;
  relation: string | null;
  label: string | null;
  required: boolean | null;
  store: boolean | null;
  relation_table: string | null;
  column1: string | null;
  column2: string | null;
  module: string | null;
}

async function modelFields(db: pg.ClientBase, model: string): Promise<FieldRow[]> {
  const r = await db.query<FieldRow>(
    `SELECT f.name, f.ttype, f.relation, f.field_description->>'en_US' AS label, f.required, f.store,
            f.relation_table, f.column1, f.column2,
            (SELECT d.module FROM ir_model_data d WHERE d.model = 'ir.model.fields' AND d.res_id = f.id
             ORDER BY d.id LIMIT 1) AS module
     FROM ir_model_fields f WHERE f.model = $1 ORDER BY f.id`,
    [model],
  );
  return r.rows;
}

function columnSpecs(cols: CatalogColumn[], fields: Map<string, FieldRow>): ColumnSpec[] {
  return cols.map((c) => {
    const f = fields.get(c.name);
    return {
      name: c.name,
      pgType: c.pgType,
      notNull: c.notNull,
      odooType: f?.ttype ?? null,
      relation: f?.relation ?? null,
      label: f?.label ?? null,
      required: f?.required === true || c.notNull,
    };
  });
}

/** Reads the chosen modules, their models and every table to carry. Read-only. */
export async function discover(db: pg.ClientBase, opts: DiscoverOptions = {}): Promise<Discovery> {
  const patterns = [...(opts.modules && opts.modules.length > 0 ? opts.modules : DEFAULT_MODULE_PATTERNS)];
  const extraSecrets = opts.secretColumns ?? [];
  const re = patternRegex(patterns);
  const mods = await db.query<{ name: string; latest_version: string | null }>(
    `SELECT name, latest_version FROM ir_module_module WHERE state IN ('installed','to upgrade') ORDER BY name`,
  );
  const modules: Record<string, string> = {};
  for (const m of mods.rows)
    if (re.test(m.name) && !NEVER_BACKED_UP_MODULES.includes(m.name))
      modules[m.name] = m.latest_version ?? '';
  const chosen = new Set(Object.keys(modules));
  if (chosen.size === 0) {
    throw new OdooDataError(
      'NO_MODULES',
      `no installed Odoo module matches ${patterns.join(', ')}: the database has ` +
        `${mods.rows.map((m) => m.name).join(', ') || 'no installed module'}; name installed modules (e.g. ai_brain) or patterns`,
    );
  }
  const base = mods.rows.find((m) => m.name === 'base');
  const odooVersion = base?.latest_version ?? '';

  const owners = await db.query<{
    model: string;
    module: string;
    transient: boolean | null;
    info: string | null;
  }>(
    `SELECT DISTINCT ON (d.res_id) m.model, d.module, m.transient, m.name->>'en_US' AS info
     FROM ir_model_data d JOIN ir_model m ON m.id = d.res_id
     WHERE d.model = 'ir.model' ORDER BY d.res_id, d.id`,
  );
  const touched = await db.query<{ model: string }>(
    `SELECT DISTINCT m.model FROM ir_model_data d JOIN ir_model m ON m.id = d.res_id
     WHERE d.model = 'ir.model' AND d.module = ANY($1)`,
    [[...chosen]],
  );
  const touchedSet = new Set(touched.rows.map((r) => r.model));

  const tables: PlannedTable[] = [];
  const skipped: Discovery['skipped'] = [];
  const models: string[] = [];
  const extendedModels: string[] = [];
  const relTables = new Map<string, PlannedTable>();
  const addRelation = async (f: FieldRow, module: string | null) => {
    const rel = f.relation_table;
    if (!rel || relTables.has(rel) || !(await tableExists(db, rel))) return;
    const cols = await tableColumns(db, rel);
    let key = await primaryKey(db, rel);
    if (key.length === 0) key = cols.map((c) => c.name);
    const t: PlannedTable = {
      table: rel,
      model: null,
      kind: 'relation',
      module,
      filter: null,
      key,
      columns: columnSpecs(cols, new Map()),
      secretColumns: [],
      foreignKeys: await foreignKeys(db, rel),
      description: `many2many ${f.name}`,
    };
    relTables.set(rel, t);
  };

  const ordered = [...owners.rows].sort((a, b) => a.model.localeCompare(b.model));
  const defaultTables = new Set(owners.rows.map((o) => o.model.replace(/\./g, '_')));
  const binaryFields: Array<[string, string]> = [];
  for (const o of ordered) {
    const ownedHere = chosen.has(o.module);
    if (!ownedHere && !touchedSet.has(o.model)) continue;
    if (ownedHere) {
      if (o.transient) {
        skipped.push({ model: o.model, reason: 'transient (wizard) model' });
        continue;
      }
      const fields = await modelFields(db, o.model);
      const table = await modelTable(db, o.model, o.info, fields, defaultTables);
      if (table === null) {
        skipped.push({
          model: o.model,
          reason: `abstract model (no table ${o.model.replace(/\./g, '_')}, none commented "${o.info ?? ''}")`,
        });
        continue;
      }
      const byName = new Map(fields.map((f) => [f.name, f]));
      const cols = await tableColumns(db, table);
      models.push(o.model);
      tables.push({
        table,
        model: o.model,
        kind: 'model',
        module: o.module,
        filter: null,
        key: ['id'],
        columns: columnSpecs(cols, byName),
        secretColumns: cols.filter((c) => isSecretColumn(c.name, c.pgType, extraSecrets)).map((c) => c.name),
        foreignKeys: await foreignKeys(db, table),
        description: o.info,
      });
      for (const f of fields) {
        if (f.ttype === 'many2many' && f.store !== false) await addRelation(f, o.module);
      }
    } else {
      if (o.transient) continue;
      const fields = await modelFields(db, o.model);
      const table = await modelTable(db, o.model, o.info, fields, defaultTables);
      if (table === null) continue;
      const cols = await tableColumns(db, table);
      const colNames = new Set(cols.map((c) => c.name));
      const added = fields.filter((f) => f.module !== null && chosen.has(f.module) && f.store !== false);
      // Binary fields without a column live in ir_attachment (res_model, res_field).
      for (const f of added) {
        if (f.ttype === 'binary' && !colNames.has(f.name)) binaryFields.push([o.model, f.name]);
      }
      const addedCols = added.filter(
        (f) => colNames.has(f.name) && f.ttype !== 'many2many' && f.ttype !== 'one2many',
      );
      for (const f of added) if (f.ttype === 'many2many') await addRelation(f, f.module);
      if (addedCols.length === 0) continue;
      extendedModels.push(o.model);
      const byName = new Map(fields.map((f) => [f.name, f]));
      const keep = new Set(['id', ...addedCols.map((f) => f.name)]);
      const fks = (await foreignKeys(db, table)).filter((fk) => keep.has(fk.column));
      tables.push({
        table,
        model: o.model,
        kind: 'extension',
        module: addedCols[0]?.module ?? null,
        filter: null,
        key: ['id'],
        columns: columnSpecs(
          cols.filter((c) => keep.has(c.name)),
          byName,
        ),
        secretColumns: cols
          .filter((c) => keep.has(c.name) && isSecretColumn(c.name, c.pgType, extraSecrets))
          .map((c) => c.name),
        foreignKeys: fks,
        description: `columns added by ${[...new Set(addedCols.map((f) => f.module))].join(', ')}`,
      });
    }
  }
  // Relation tables whose other side is a transient model are wizard data: skip them.
  const transient = new Set(owners.rows.filter((o) => o.transient).map((o) => o.model.replace(/\./g, '_')));
  for (const rel of relTables.values()) {
    if (rel.foreignKeys.some((fk) => transient.has(fk.refTable))) continue;
    tables.push(rel);
  }

  // Shared Odoo tables: the rows that belong to the backed-up models.
  const subsets: Array<[string, string, string]> = [
    ['ir_model_data', 'model', 'external ids of the backed-up records'],
    ['ir_attachment', 'res_model', 'attachments of the backed-up records (binary fields included)'],
    ['mail_message', 'model', 'chatter messages of the backed-up records'],
    ['mail_followers', 'res_model', 'followers of the backed-up records'],
  ];
  const modelValues = [...models].sort();
  const subsetFilters = new Map<string, RowFilter>();
  for (const [table, column, description] of subsets) {
    if (!(await tableExists(db, table))) continue;
    const cols = await tableColumns(db, table);
    if (!cols.some((c) => c.name === column) || !cols.some((c) => c.name === 'id')) continue;
    const fields = await modelFields(db, table.replace(/_/g, '.'));
    const filter: RowFilter = { column, values: modelValues };
    if (table === 'ir_attachment' && binaryFields.length > 0 && cols.some((c) => c.name === 'res_field')) {
      filter.pairs = { columns: ['res_model', 'res_field'], values: [...binaryFields].sort() };
    }
    subsetFilters.set(table, filter);
    tables.push({
      table,
      model: table.replace(/_/g, '.'),
      kind: 'subset',
      module: null,
      filter,
      key: ['id'],
      columns: columnSpecs(cols, new Map(fields.map((f) => [f.name, f]))),
      secretColumns: cols.filter((c) => isSecretColumn(c.name, c.pgType, extraSecrets)).map((c) => c.name),
      foreignKeys: await foreignKeys(db, table),
      description,
    });
  }

  // Rows that hang off the backed-up chatter (recipients, attachments, tracking values,
  // notifications, reactions of the messages; subtypes of the followers): every table whose
  // foreign key to mail_message or mail_followers deletes in cascade, i.e. that Odoo itself treats
  // as part of the parent row. They are selected through their parent (RowFilter.parent).
  const planned = new Set(tables.map((t) => t.table));
  for (const parent of CHATTER_PARENTS) {
    const parentFilter = subsetFilters.get(parent);
    if (!parentFilter) continue;
    for (const child of await cascadeChildren(db, parent)) {
      if (planned.has(child.table)) continue;
      planned.add(child.table);
      const cols = await tableColumns(db, child.table);
      let key = await primaryKey(db, child.table);
      const hasId = key.length === 1 && key[0] === 'id';
      if (key.length === 0) key = cols.map((c) => c.name);
      const model = await modelOfTable(db, child.table);
      const fields = model ? await modelFields(db, model) : [];
      tables.push({
        table: child.table,
        model,
        kind: hasId ? 'subset' : 'relation',
        module: null,
        filter: {
          column: child.column,
          values: parentFilter.values,
          parent: { table: parent, column: parentFilter.column },
        },
        key,
        columns: columnSpecs(cols, new Map(fields.map((f) => [f.name, f]))),
        secretColumns: cols.filter((c) => isSecretColumn(c.name, c.pgType, extraSecrets)).map((c) => c.name),
        foreignKeys: await foreignKeys(db, child.table),
        description: `rows of ${parent} belonging to the backed-up records`,
      });
    }
  }

  const { order, deferred } = loadOrder(tables);
  return {
    odooVersion,
    modules,
    modulePatterns: patterns,
    models,
    extendedModels,
    tables,
    restoreOrder: order,
    deferredColumns: deferred,
    skipped,
  };
}

/** Shared chatter tables whose cascade children are carried with them. */
const CHATTER_PARENTS = ['mail_message', 'mail_followers'] as const;

/** Tables with a one-column foreign key to `parent` that deletes in cascade. */
async function cascadeChildren(
  db: pg.ClientBase,
  parent: string,
): Promise<Array<{ table: string; column: string }>> {
  const r = await db.query<{ table: string; column: string }>(
    `SELECT cc.relname AS table, a.attname AS column
     FROM pg_constraint c
     JOIN pg_class cc ON cc.oid = c.conrelid
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
     WHERE c.contype = 'f' AND c.confrelid = $1::regclass AND c.confdeltype = 'c'
       AND array_length(c.conkey, 1) = 1 AND c.conrelid <> c.confrelid
     ORDER BY cc.relname, c.conname`,
    [quoteIdent(parent)],
  );
  const byTable = new Map<string, { table: string; column: string }>();
  for (const x of r.rows) if (!byTable.has(x.table)) byTable.set(x.table, x);
  return [...byTable.values()];
}

/** The model whose default table this is, if any (tables of m2m fields have none). */
async function modelOfTable(db: pg.ClientBase, table: string): Promise<string | null> {
  const r = await db.query<{ model: string }>(
    `SELECT model FROM ir_model WHERE replace(model, '.', '_') = $1 ORDER BY id LIMIT 1`,
    [table],
  );
  return r.rows[0]?.model ?? null;
}

/**
 * FK order among whole and subset tables (Kahn's algorithm). Self references are always loaded in
 * a second pass; when only cycles remain, the first remaining table's references to the remaining
 * tables are deferred too. Relation tables come after, extension tables (UPDATEs) last.
 */
export function loadOrder(tables: readonly PlannedTable[]): {
  order: string[];
  deferred: Record<string, string[]>;
} {
  const rowTables = tables.filter((t) => t.kind === 'model' || t.kind === 'subset');
  const names = new Set(rowTables.map((t) => t.table));
  const deferred: Record<string, string[]> = {};
  const deps = new Map<string, Map<string, string[]>>();
  for (const t of rowTables) {
    const m = new Map<string, string[]>();
    for (const fk of t.foreignKeys) {
      if (!names.has(fk.refTable)) continue;
      if (fk.refTable === t.table) {
        addTo(deferred, t.table, [fk.column]);
        continue;
      }
      const list = m.get(fk.refTable) ?? [];
      list.push(fk.column);
      m.set(fk.refTable, list);
    }
    deps.set(t.table, m);
  }
  const order: string[] = [];
  const remaining = new Set([...names].sort());
  while (remaining.size > 0) {
    let progressed = false;
    for (const t of [...remaining]) {
      const d = deps.get(t) as Map<string, string[]>;
      if ([...d.keys()].every((r) => !remaining.has(r))) {
        order.push(t);
        remaining.delete(t);
        progressed = true;
      }
    }
    if (!progressed) {
      const t = [...remaining][0] as string;
      const d = deps.get(t) as Map<string, string[]>;
      for (const [ref, cols] of d) {
        if (remaining.has(ref)) {
          addTo(deferred, t, cols);
          d.delete(ref);
        }
      }
    }
  }
  for (const t of tables) if (t.kind === 'relation') order.push(t.table);
  for (const t of tables) if (t.kind === 'extension') order.push(t.table);
  return { order, deferred };
}

function addTo(map: Record<string, string[]>, key: string, values: readonly string[]): void {
  const list = map[key] ?? [];
  list.push(...values);
  map[key] = list;
}
