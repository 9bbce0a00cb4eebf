/*  wb_store_schema - the workspace's schema and its migrations

    Part of wb_store (see wb_store_int.h). A workspace records its schema
    version in the meta table; opening one brings it to the latest, one
    transaction per step, so that an older workspace is upgraded in place
    and a newer one is refused.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "wb_store_int.h"
#include "base/wb_util.h"

//  ---- Schema and migrations ----
//
//  Each entry upgrades the schema from version i to i + 1. Never edit a
//  released entry: add a new one.

static const char *s_migrations [] = {
    //  1: experiments, runs, params, tags, metrics, artifacts, events
    "CREATE TABLE experiments ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);"
    "CREATE TABLE runs ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  experiment_id INTEGER NOT NULL REFERENCES experiments (id),"
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL DEFAULT 'interactive',"
    "  status TEXT NOT NULL,"
    "  parent INTEGER REFERENCES runs (seq),"
    "  compute TEXT, command TEXT, snapshot TEXT, error TEXT,"
    "  created REAL NOT NULL, started REAL, ended REAL,"
    "  owner_pid INTEGER, owner_start INTEGER, owner_host TEXT);"
    "CREATE INDEX runs_experiment ON runs (experiment_id, created);"
    "CREATE INDEX runs_status ON runs (status);"
    "CREATE INDEX runs_name ON runs (name);"
    "CREATE TABLE params ("
    "  run INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (run, key)) WITHOUT ROWID;"
    "CREATE TABLE tags ("
    "  run INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (run, key)) WITHOUT ROWID;"
    "CREATE TABLE metric_chunks ("
    "  id INTEGER PRIMARY KEY, run INTEGER NOT NULL, key TEXT NOT NULL,"
    "  count INTEGER NOT NULL, points BLOB NOT NULL);"
    "CREATE INDEX metric_chunks_run ON metric_chunks (run, key, id);"
    "CREATE TABLE metric_latest ("
    "  run INTEGER NOT NULL, key TEXT NOT NULL, value REAL, step INTEGER NOT NULL,"
    "  time REAL NOT NULL, min REAL, max REAL, count INTEGER NOT NULL,"
    "  PRIMARY KEY (run, key)) WITHOUT ROWID;"
    "CREATE TABLE artifacts ("
    "  run INTEGER NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,"
    "  size INTEGER NOT NULL, created REAL NOT NULL,"
    "  PRIMARY KEY (run, path)) WITHOUT ROWID;"
    "CREATE INDEX artifacts_hash ON artifacts (hash);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY, time REAL NOT NULL, actor TEXT NOT NULL,"
    "  action TEXT NOT NULL, subject TEXT, detail TEXT);",

    //  2: lineage (datasets read, models written), events by subject
    "CREATE TABLE lineage ("
    "  run INTEGER NOT NULL, direction TEXT NOT NULL, kind TEXT NOT NULL,"
    "  name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  PRIMARY KEY (run, direction, kind, name, version)) WITHOUT ROWID;"
    "CREATE INDEX events_subject ON events (subject, id);",

    //  3: jobs on compute targets; the targets and their limits; a cache of
    //  file hashes for code snapshots (path, size, mtime -> sha256)
    "CREATE TABLE compute ("
    "  name TEXT PRIMARY KEY, kind TEXT NOT NULL, max_jobs INTEGER,"
    "  settings TEXT, created REAL NOT NULL);"
    "INSERT INTO compute (name, kind, max_jobs, created) VALUES ('local', 'local', NULL, 0);"
    "CREATE TABLE jobs ("
    "  run INTEGER PRIMARY KEY, target TEXT NOT NULL, spec TEXT NOT NULL,"
    "  submitted REAL NOT NULL, pid INTEGER, exit_code INTEGER, workdir TEXT);"
    "CREATE INDEX jobs_target ON jobs (target, submitted);"
    "CREATE TABLE file_hashes ("
    "  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime REAL NOT NULL,"
    "  hash TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE snapshot_files ("
    "  snapshot TEXT NOT NULL, hash TEXT NOT NULL,"
    "  PRIMARY KEY (snapshot, hash)) WITHOUT ROWID;"
    "CREATE INDEX snapshot_files_hash ON snapshot_files (hash);",

    //  4: datasets, one row per version: the CSV's content hash (the file
    //  is kept in the content store), its shape, schema and profile (JSON)
    "CREATE TABLE datasets ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  hash TEXT NOT NULL, size INTEGER NOT NULL,"
    "  row_count INTEGER NOT NULL, col_count INTEGER NOT NULL,"
    "  schema TEXT NOT NULL, profile TEXT NOT NULL, description TEXT, source TEXT,"
    "  created REAL NOT NULL,"
    "  UNIQUE (name, version), UNIQUE (name, hash));"
    "CREATE INDEX datasets_hash ON datasets (hash);",

    //  5: the model registry (versions per name, with their run, artifact,
    //  tags, metrics and dataset lineage; aliases and every move of one),
    //  endpoints (their serving process, port, keys), their deployments
    //  (model version, traffic and mirror shares) and the request log
    "CREATE TABLE models ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  run TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,"
    "  kind TEXT, task TEXT, tags TEXT NOT NULL DEFAULT '{}', description TEXT,"
    "  metrics TEXT, datasets TEXT, status TEXT NOT NULL DEFAULT 'active',"
    "  created REAL NOT NULL, archived REAL,"
    "  UNIQUE (name, version));"
    "CREATE TABLE model_aliases ("
    "  name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,"
    "  time REAL NOT NULL, PRIMARY KEY (name, alias)) WITHOUT ROWID;"
    "CREATE TABLE model_alias_history ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, alias TEXT NOT NULL,"
    "  version INTEGER NOT NULL, previous INTEGER, time REAL NOT NULL);"
    "CREATE INDEX model_alias_history_name ON model_alias_history (name, alias, time);"
    "CREATE TABLE endpoints ("
    "  name TEXT PRIMARY KEY, auth TEXT NOT NULL DEFAULT 'key', key1 TEXT, key2 TEXT,"
    "  port INTEGER, pid INTEGER, pid_start INTEGER, host TEXT,"
    "  generation INTEGER NOT NULL DEFAULT 1, loaded INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT, created REAL NOT NULL, updated REAL NOT NULL);"
    "CREATE TABLE deployments ("
    "  endpoint TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL,"
    "  version INTEGER NOT NULL, traffic INTEGER NOT NULL DEFAULT 0,"
    "  mirror INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL,"
    "  PRIMARY KEY (endpoint, name)) WITHOUT ROWID;"
    "CREATE TABLE requests ("
    "  id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, deployment TEXT,"
    "  time REAL NOT NULL, latency REAL NOT NULL, status INTEGER NOT NULL,"
    "  mirrored INTEGER NOT NULL DEFAULT 0, rows INTEGER, input TEXT, output TEXT);"
    "CREATE INDEX requests_endpoint ON requests (endpoint, time);",

    //  6: endpoint keys are kept as hashes (wb_key_hash, registered on the
    //  connection by wb_store__open); the plain text is overwritten, not left in
    //  free pages (secure_delete). Each endpoint's request log may have a
    //  retention of its own (NULL: the defaults of wb_registry).
    "PRAGMA secure_delete = ON;"
    "UPDATE endpoints SET key1 = wb_key_hash (key1), key2 = wb_key_hash (key2);"
    "PRAGMA secure_delete = OFF;"
    "ALTER TABLE endpoints ADD COLUMN log_rows INTEGER;"
    "ALTER TABLE endpoints ADD COLUMN log_days REAL;",

    //  7: a model version of any flavor (workbench: a model.json; sklearn,
    //  mlflow, python: a user's own model, scored by Python workers): the
    //  Python it needs, its scoring script (a path in the version's folder,
    //  models/NAME/VERSION), and what the worker said loading it (columns,
    //  classes, probabilities, batching). A deployment's serving settings
    //  (workers, batching, request timeout) as JSON.
    "ALTER TABLE models ADD COLUMN flavor TEXT NOT NULL DEFAULT 'workbench';"
    "ALTER TABLE models ADD COLUMN python TEXT;"
    "ALTER TABLE models ADD COLUMN scorer TEXT;"
    "ALTER TABLE models ADD COLUMN facts TEXT;"
    "ALTER TABLE deployments ADD COLUMN settings TEXT;",
};
#define S_MIGRATIONS (sizeof (s_migrations) / sizeof (s_migrations [0]))

int
wb_store__schema_latest (void)
{
    return (int) S_MIGRATIONS;
}

int
wb_store__schema_version (wb_store_t *self)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT value FROM meta WHERE key = 'schema'", NULL);
    int version = 0;
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        version = atoi ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    return version;
}

//  Bring the schema to target, one transaction per step.
int
wb_store__migrate (wb_store_t *self, int target, wb_error_t *err)
{
    if (wb_store__exec (self, "CREATE TABLE IF NOT EXISTS meta ("
                              " key TEXT PRIMARY KEY, value TEXT NOT NULL)", err))
        return -1;
    int version = wb_store__schema_version (self);
    if (version > (int) S_MIGRATIONS)
        return wb_error_set (err, "workspace %s has schema %d, newer than this "
            "Workbench understands (%d): upgrade Workbench to open it",
            self->path, version, (int) S_MIGRATIONS);
    while (version < target) {
        if (wb_store_begin (self, err))
            return -1;
        //  Another process may have migrated while we waited for the lock
        version = wb_store__schema_version (self);
        if (version >= target) {
            wb_store_rollback (self);
            break;
        }
        char *bump = wb_sprintf ("INSERT INTO meta (key, value) VALUES ('schema', '%d')"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", version + 1);
        int rc = wb_store__exec (self, s_migrations [version], err) || wb_store__exec (self, bump, err);
        free (bump);
        if (rc) {
            wb_store_rollback (self);
            return -1;
        }
        if (wb_store_commit (self, err))
            return -1;
        version++;
    }
    return 0;
}

//  @selftest

void
wb_store_schema_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    char scratch [] = "/tmp/wb-store-XXXXXX";
    char path [64];
    wb_store__test_scratch (scratch, path, sizeof (path));

    //  Migration: a workspace at schema 1 with data is upgraded in place
    wb_store_t *store = wb_store__open (path, true, 1, &err);
    assert (store);
    assert (wb_store__schema_version (store) == 1);
    //  (schema 1 has no lineage table, so create the run by SQL as it was)
    assert (wb_store__exec (store, "INSERT INTO experiments (name, created) VALUES ('Old', 1);"
        "INSERT INTO runs (id, experiment_id, name, status, created) VALUES ('0ld0ld00', 1, 'legacy', 'completed', 1)",
        NULL) == 0);
    wb_store_destroy (&store);
    store = wb_store_open (path, false, &err);
    assert (store);
    assert (wb_store__schema_version (store) == WB_STORE_SCHEMA);
    json_t *run = wb_store_run_get (store, "0ld0ld00", &err);
    assert (run && streq (json_string_value (json_object_get (run, "name")), "legacy"));
    assert (json_array_size (json_object_get (run, "lineage")) == 0);
    json_decref (run);

    //  A newer schema is refused, nothing changed
    assert (wb_store__exec (store, "UPDATE meta SET value = '99' WHERE key = 'schema'", NULL) == 0);
    wb_store_t *newer = wb_store_open (path, false, &err);
    assert (!newer && strstr (err.text, "newer"));
    char *restore = wb_sprintf ("UPDATE meta SET value = '%d' WHERE key = 'schema'", WB_STORE_SCHEMA);
    assert (wb_store__exec (store, restore, NULL) == 0);
    free (restore);
    wb_store_destroy (&store);
    wb_store__test_remove (scratch);
}
//  @end
