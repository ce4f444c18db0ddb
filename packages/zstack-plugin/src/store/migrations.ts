/**
 * Schema migrations, run by kysely's Migrator at open (it keeps its own table of applied
 * migrations and a lock, in both databases). A migration never changes once released:
 * a change is a new one.
 */
import { type ColumnDefinitionBuilder, type Kysely, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import { FENCED_TABLES } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

// biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema of its own time, not today's Tables.
type AnyDb = Kysely<any>;

function init(dialect: Dialect): Migration {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('fts_lease')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('token', 'integer', (c) => c.notNull())
        .addColumn('expires_at', sql.raw(real), (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .execute();
      await db
        .insertInto('fts_lease')
        .values({ id: 1, holder: '', token: 0, expires_at: 0, url: '' })
        .execute();
      await db.schema
        .createTable('hosts')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('capacity_vms', 'integer', (c) => c.notNull())
        .addColumn('capacity_memory_mib', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('vms')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('memory_mib', 'integer', (c) => c.notNull())
        .addColumn('desired', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('intents')
        .addColumn('vm_id', 'text', (c) => c.primaryKey())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('engine', 'text', (c) => c.notNull())
        .addColumn('build', 'text', (c) => c.notNull())
        .addColumn('placement', 'text', (c) => c.notNull())
        .addColumn('epoch_us', 'integer')
        .addColumn('reprotect', 'text', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('statuses')
        .addColumn('vm_id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('detail', 'text')
        .addColumn('primary_host', 'text')
        .addColumn('secondary_host', 'text')
        .addColumn('epoch_us', 'integer')
        .addColumn('figures', 'text', (c) => c.notNull())
        .addColumn('last_change_at', 'text', (c) => c.notNull())
        .addColumn('observed_generation', 'integer', (c) => c.notNull())
        .addColumn('record', 'text')
        .execute();
      const auto = (c: ColumnDefinitionBuilder) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
      await db.schema
        .createTable('events')
        .addColumn('id', sql.raw(serial), auto)
        .addColumn('vm_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_vm').on('events').columns(['vm_id', 'id']).execute();
      await db.schema
        .createTable('steps')
        .addColumn('id', sql.raw(serial), auto)
        .addColumn('vm_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('fence', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('steps_vm').on('steps').columns(['vm_id', 'id']).execute();
      await db.schema.createIndex('steps_state').on('steps').columns(['state']).execute();
      await db.schema
        .createTable('requests')
        .addColumn('id', sql.raw(serial), auto)
        .addColumn('vm_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('step_id', 'integer')
        .addColumn('error', 'text')
        .execute();
      await fencing(db, dialect);
    },
  };
}

/**
 * Every write to the fenced tables must carry the current lease token, checked by the
 * database itself, so that a leader that lost its lease (paused, partitioned, slow) can
 * write nothing, whatever its own code believes.
 *
 * PostgreSQL: a statement trigger compares the transaction's `fts.fence` setting with the
 * lease row, read FOR SHARE: a takeover (an UPDATE of that row) waits for fenced writes in
 * flight, and a write after it sees the new token. SQLite: a row trigger compares the
 * connection's `fts_fence()` function (registered by the store) with the lease row; SQLite
 * runs one write transaction at a time, so the check and the write are atomic.
 */
async function fencing(db: AnyDb, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`
      CREATE FUNCTION fts_fence() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        want integer;
        claimed text := current_setting('fts.fence', true);
      BEGIN
        SELECT token INTO want FROM fts_lease WHERE id = 1 FOR SHARE;
        IF claimed IS NULL OR claimed = '' OR claimed::integer <> want THEN
          RAISE EXCEPTION 'FTS_FENCED: write fenced with token % but the lease token is %',
            coalesce(nullif(claimed, ''), '(none)'), want
            USING ERRCODE = 'FTS01';
        END IF;
        RETURN NULL;
      END $$`.execute(db);
    for (const table of FENCED_TABLES) {
      await sql
        .raw(
          `CREATE TRIGGER ${table}_fence BEFORE INSERT OR UPDATE OR DELETE ON ${table} ` +
            'FOR EACH STATEMENT EXECUTE FUNCTION fts_fence()',
        )
        .execute(db);
    }
    return;
  }
  for (const table of FENCED_TABLES) {
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      await sql
        .raw(
          `CREATE TRIGGER ${table}_fence_${op.toLowerCase()} BEFORE ${op} ON ${table} BEGIN ` +
            "SELECT RAISE(ABORT, 'FTS_FENCED') WHERE fts_fence() IS NOT (SELECT token FROM fts_lease WHERE id = 1); END",
        )
        .execute(db);
    }
  }
}

export function migrations(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return { '0001_init': init(dialect) };
    },
  };
}
