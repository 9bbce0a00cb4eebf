/*  wb_store - the workspace: one folder holding workspace.db (SQLite, WAL)
    and artifacts/ (files by content hash)

    One wb_store_t owns one sqlite3 connection; the SQL of the workspace's
    core tables lives here. Metric points are stored in chunks (one row per
    key per logged batch, the points packed in a blob) so that ingest and
    reading a long history both run at memory speed; metric_latest keeps
    per run and key the latest value, min, max and count for filters and
    tables. Writes use BEGIN IMMEDIATE so that concurrent writers wait on
    the busy timeout instead of failing.
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_store.h"
#include "wb_query.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_BUSY_TIMEOUT  30000   //  ms a writer waits for another
#define S_CHUNK_POINTS  4096    //  most points in one metric chunk
#define S_POINT_SIZE    24      //  bytes per packed point: step, value, time

struct _wb_store_t {
    char *path;                 //  the workspace folder
    char *artifacts;            //  its artifacts/ folder
    sqlite3 *db;                //  workspace.db
    char host [256];            //  this machine's name, for run owners
};

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
    //  connection by s_open); the plain text is overwritten, not left in
    //  free pages (secure_delete). Each endpoint's request log may have a
    //  retention of its own (NULL: the defaults of wb_registry).
    "PRAGMA secure_delete = ON;"
    "UPDATE endpoints SET key1 = wb_key_hash (key1), key2 = wb_key_hash (key2);"
    "PRAGMA secure_delete = OFF;"
    "ALTER TABLE endpoints ADD COLUMN log_rows INTEGER;"
    "ALTER TABLE endpoints ADD COLUMN log_days REAL;",
};
#define S_MIGRATIONS (sizeof (s_migrations) / sizeof (s_migrations [0]))

static int
s_sql_error (wb_store_t *self, wb_error_t *err, const char *what)
{
    return wb_error_set (err, "workspace %s: %s failed: %s", self->path, what,
                         sqlite3_errmsg (self->db));
}

static int
s_exec (wb_store_t *self, const char *sql, wb_error_t *err)
{
    char *message = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        wb_error_set (err, "workspace %s: %s", self->path, message? message: "SQL failed");
        sqlite3_free (message);
        return -1;
    }
    return 0;
}

static sqlite3_stmt *
s_prepare (wb_store_t *self, const char *sql, wb_error_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        s_sql_error (self, err, "a query");
        return NULL;
    }
    return stmt;
}

static int
s_schema_version (wb_store_t *self)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT value FROM meta WHERE key = 'schema'", NULL);
    int version = 0;
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        version = atoi ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    return version;
}

//  Bring the schema to target, one transaction per step.
static int
s_migrate (wb_store_t *self, int target, wb_error_t *err)
{
    if (s_exec (self, "CREATE TABLE IF NOT EXISTS meta ("
                      " key TEXT PRIMARY KEY, value TEXT NOT NULL)", err))
        return -1;
    int version = s_schema_version (self);
    if (version > (int) S_MIGRATIONS)
        return wb_error_set (err, "workspace %s has schema %d, newer than this "
            "Workbench understands (%d): upgrade Workbench to open it",
            self->path, version, (int) S_MIGRATIONS);
    while (version < target) {
        if (wb_store_begin (self, err))
            return -1;
        //  Another process may have migrated while we waited for the lock
        version = s_schema_version (self);
        if (version >= target) {
            wb_store_rollback (self);
            break;
        }
        char *bump = wb_sprintf ("INSERT INTO meta (key, value) VALUES ('schema', '%d')"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", version + 1);
        int rc = s_exec (self, s_migrations [version], err) || s_exec (self, bump, err);
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

//  ---- Opening ----

//  SQL wb_key_hash (text): the hash an endpoint key is kept as (a hash
//  stays as it is; NULL stays NULL). For migration 6.
static void
s_key_hash_sql (sqlite3_context *context, int argc, sqlite3_value **argv)
{
    assert (argc == 1);
    const char *key = (const char *) sqlite3_value_text (argv [0]);
    if (!key || wb_key_is_hash (key)) {
        sqlite3_result_value (context, argv [0]);
        return;
    }
    char hash [WB_KEY_HASH_TEXT];
    wb_key_hash (key, strlen (key), hash);
    sqlite3_result_text (context, hash, -1, SQLITE_TRANSIENT);
}

char *
wb_store_locate (const char *start_dir)
{
    const char *env = getenv ("WORKBENCH_WORKSPACE");
    if (env && *env)
        return wb_strdup (env);
    char *dir = realpath (start_dir, NULL);
    if (!dir)
        dir = wb_strdup (start_dir);
    char *cursor = wb_strdup (dir);
    while (true) {
        char *candidate = wb_sprintf ("%s/.workbench", streq (cursor, "/")? "": cursor);
        struct stat info;
        if (stat (candidate, &info) == 0 && S_ISDIR (info.st_mode)) {
            free (cursor);
            free (dir);
            return candidate;
        }
        free (candidate);
        char *slash = strrchr (cursor, '/');
        if (!slash || streq (cursor, "/"))
            break;
        if (slash == cursor)
            slash [1] = 0;      //  up to "/"
        else
            *slash = 0;
    }
    free (cursor);
    char *result = wb_sprintf ("%s/.workbench", dir);
    free (dir);
    return result;
}

//  mkdir -p
static int
s_mkdir (const char *path, wb_error_t *err)
{
    char *copy = wb_strdup (path);
    for (char *slash = copy + 1; *slash; slash++)
        if (*slash == '/') {
            *slash = 0;
            mkdir (copy, 0755);
            *slash = '/';
        }
    free (copy);
    if (mkdir (path, 0700) && errno != EEXIST)     //  the workspace: its owner's only
        return wb_error_set (err, "cannot create workspace folder '%s': %s", path, strerror (errno));
    return 0;
}

static wb_store_t *
s_open (const char *path, bool create, int target, wb_error_t *err)
{
    assert (path);
    char *db_path = wb_sprintf ("%s/workspace.db", path);
    struct stat info;
    bool exists = stat (db_path, &info) == 0;
    if (!exists && !create) {
        wb_error_set (err, "no workspace at '%s' (no workspace.db): open it with "
                      "%%workspace PATH to create one", path);
        free (db_path);
        return NULL;
    }
    if (sodium_init () < 0) {
        wb_error_set (err, "libsodium could not be initialised");
        free (db_path);
        return NULL;
    }
    wb_store_t *self = wb_calloc (1, sizeof (wb_store_t));
    self->path = wb_strdup (path);
    self->artifacts = wb_sprintf ("%s/artifacts", path);
    if (gethostname (self->host, sizeof (self->host) - 1))
        strcpy (self->host, "localhost");
    if (create && (s_mkdir (path, err) || s_mkdir (self->artifacts, err)))
        goto fail;
    //  The workspace is its owner's only (README: who can read what): a
    //  folder made before that rule is tightened, everything in it once
    struct stat folder;
    if (stat (path, &folder) == 0 && (folder.st_mode & 077)
    &&  wb_path_private (path, true))
        fprintf (stderr, "workbench: cannot make workspace '%s' private: %s\n", path,
                 strerror (errno));
    if (sqlite3_open_v2 (db_path, &self->db, SQLITE_OPEN_READWRITE
            | (create? SQLITE_OPEN_CREATE: 0) | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        wb_error_set (err, "cannot open workspace database '%s': %s", db_path,
                      self->db? sqlite3_errmsg (self->db): "out of memory");
        goto fail;
    }
    //  SQLite gives -wal and -shm the mode of the database file
    for (int i = 0; i < 3; i++) {
        char *file = wb_sprintf ("%s%s", db_path, i == 0? "": i == 1? "-wal": "-shm");
        wb_path_private (file, false);
        free (file);
    }
    sqlite3_create_function (self->db, "wb_key_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                             NULL, s_key_hash_sql, NULL, NULL);
    sqlite3_busy_timeout (self->db, S_BUSY_TIMEOUT);
    if (s_exec (self, "PRAGMA journal_mode = WAL", err)
    ||  s_exec (self, "PRAGMA synchronous = NORMAL", err)
    ||  s_exec (self, "PRAGMA foreign_keys = ON", err))
        goto fail;
    if (s_migrate (self, target, err))
        goto fail;
    free (db_path);
    return self;
fail:
    free (db_path);
    wb_store_destroy (&self);
    return NULL;
}

wb_store_t *
wb_store_open (const char *path, bool create, wb_error_t *err)
{
    wb_store_t *self = s_open (path, create, (int) S_MIGRATIONS, err);
    if (self && wb_store_reap (self, err) < 0)
        wb_store_destroy (&self);
    return self;
}

void
wb_store_destroy (wb_store_t **self_p)
{
    assert (self_p);
    wb_store_t *self = *self_p;
    if (self) {
        if (self->db)
            sqlite3_close_v2 (self->db);
        free (self->path);
        free (self->artifacts);
        free (self);
        *self_p = NULL;
    }
}

const char *
wb_store_path (wb_store_t *self)
{
    return self->path;
}

sqlite3 *
wb_store_db (wb_store_t *self)
{
    return self->db;
}

//  ---- Transactions ----

int
wb_store_begin (wb_store_t *self, wb_error_t *err)
{
    return s_exec (self, "BEGIN IMMEDIATE", err);
}

int
wb_store_commit (wb_store_t *self, wb_error_t *err)
{
    return s_exec (self, "COMMIT", err);
}

void
wb_store_rollback (wb_store_t *self)
{
    if (!sqlite3_get_autocommit (self->db))
        s_exec (self, "ROLLBACK", NULL);
}

//  ---- Small helpers ----

static const char *
s_actor (void)
{
    const char *user = getenv ("USER");
    return user && *user? user: "workbench";
}

static json_t *
s_column_json (sqlite3_stmt *stmt, int column)
{
    switch (sqlite3_column_type (stmt, column)) {
        case SQLITE_INTEGER: return json_integer (sqlite3_column_int64 (stmt, column));
        case SQLITE_FLOAT:   return json_real (sqlite3_column_double (stmt, column));
        case SQLITE_NULL:    return json_null ();
        default:
            //  Text is made valid UTF-8 on write; a workspace written before
            //  that may hold any bytes, and a read must not fail on them
            return wb_utf8_json ((const char *) sqlite3_column_text (stmt, column),
                                 (size_t) sqlite3_column_bytes (stmt, column));
    }
}

//  obj[text of column] = value (stolen), the key made valid UTF-8 as
//  s_column_json makes values: jansson refuses an invalid key, and the
//  value would be lost without a word.
static void
s_set_column_key (json_t *obj, sqlite3_stmt *stmt, int column, json_t *value)
{
    const char *key = (const char *) sqlite3_column_text (stmt, column);
    size_t size = (size_t) sqlite3_column_bytes (stmt, column);
    if (!key)
        key = "";
    if (wb_utf8_valid (key, size) && strlen (key) == size)
        json_object_set_new (obj, key, value);
    else {
        char *valid = wb_utf8_valid_dup (key, size);
        json_object_set_new (obj, valid, value);
        free (valid);
    }
}

//  A text from outside, to be stored: itself when it is valid UTF-8, else
//  a valid copy in *copy_p (U+FFFD for each invalid piece; free it).
//  NULL stays NULL.
static const char *
s_valid (const char *text, char **copy_p)
{
    *copy_p = NULL;
    if (!text || wb_utf8_valid (text, strlen (text)))
        return text;
    *copy_p = wb_utf8_valid_dup (text, strlen (text));
    return *copy_p;
}

//  The seq of a run id; -1 (err) if there is none.
static int64_t
s_run_seq (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT seq FROM runs WHERE id = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
    int64_t seq = -1;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        seq = sqlite3_column_int64 (stmt, 0);
    else
        wb_error_set (err, "no run with id '%s'", id);
    sqlite3_finalize (stmt);
    return seq;
}

static int
s_event (wb_store_t *self, const char *action, const char *subject, json_t *detail,
         wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "INSERT INTO events (time, actor, action, subject, detail)"
                                          " VALUES (?, ?, ?, ?, ?)", err);
    if (!stmt)
        return -1;
    char *text = detail? json_dumps (detail, JSON_COMPACT): NULL;
    char *actor_copy, *subject_copy;
    sqlite3_bind_double (stmt, 1, wb_time_now ());
    sqlite3_bind_text (stmt, 2, s_valid (s_actor (), &actor_copy), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, s_valid (subject, &subject_copy), -1, SQLITE_TRANSIENT);
    free (actor_copy);
    free (subject_copy);
    if (text)
        sqlite3_bind_text (stmt, 5, text, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "logging an event");
    sqlite3_finalize (stmt);
    free (text);
    return rc;
}

int
wb_store_event (wb_store_t *self, const char *action, const char *subject,
                json_t *detail, wb_error_t *err)
{
    return s_event (self, action, subject, detail, err);
}

json_t *
wb_store_events (wb_store_t *self, const char *subject, size_t limit, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT time, actor, action, subject, detail FROM ("
        " SELECT * FROM events WHERE ?1 IS NULL OR subject = ?1"
        " ORDER BY id DESC LIMIT ?2) ORDER BY id", err);
    if (!stmt)
        return NULL;
    if (subject)
        sqlite3_bind_text (stmt, 1, subject, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, limit? (sqlite3_int64) limit: -1);
    json_t *events = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *detail = (const char *) sqlite3_column_text (stmt, 4);
        json_t *parsed = detail? json_loads (detail, 0, NULL): NULL;
        json_array_append_new (events, json_pack ("{s:f, s:o, s:o, s:o, s:o}",
            "time", sqlite3_column_double (stmt, 0),
            "actor", s_column_json (stmt, 1),
            "action", s_column_json (stmt, 2),
            "subject", s_column_json (stmt, 3),
            "detail", parsed? parsed: json_null ()));
    }
    sqlite3_finalize (stmt);
    return events;
}

//  ---- Experiments ----

static int64_t
s_experiment (wb_store_t *self, const char *name, bool create, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT id FROM experiments WHERE name = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    int64_t id = -1;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        id = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    if (id >= 0 || !create) {
        if (id < 0)
            wb_error_set (err, "no experiment named '%s'", name);
        return id;
    }
    stmt = s_prepare (self, "INSERT INTO experiments (name, created) VALUES (?, ?)", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_double (stmt, 2, wb_time_now ());
    if (sqlite3_step (stmt) == SQLITE_DONE)
        id = sqlite3_last_insert_rowid (self->db);
    else
        s_sql_error (self, err, "creating an experiment");
    sqlite3_finalize (stmt);
    if (id >= 0 && s_event (self, "experiment.create", name, NULL, err))
        id = -1;
    return id;
}

int64_t
wb_store_experiment (wb_store_t *self, const char *name, bool create, wb_error_t *err)
{
    if (!name || !*name) {
        wb_error_set (err, "an experiment needs a name");
        return -1;
    }
    char *copy;
    name = s_valid (name, &copy);
    int64_t id;
    if (!create)
        id = s_experiment (self, name, false, err);
    else
    if (wb_store_begin (self, err))
        id = -1;
    else {
        id = s_experiment (self, name, true, err);
        if (id < 0 || wb_store_commit (self, err)) {
            wb_store_rollback (self);
            id = -1;
        }
    }
    free (copy);
    return id;
}

json_t *
wb_store_experiments (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT e.name, e.created, count (r.seq), max (r.created) FROM experiments e"
        " LEFT JOIN runs r ON r.experiment_id = e.id GROUP BY e.id ORDER BY e.name", err);
    if (!stmt)
        return NULL;
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("{s:o, s:f, s:I, s:o}",
            "name", s_column_json (stmt, 0),
            "created", sqlite3_column_double (stmt, 1),
            "runs", (json_int_t) sqlite3_column_int64 (stmt, 2),
            "last_run", s_column_json (stmt, 3)));
    sqlite3_finalize (stmt);
    return list;
}

//  ---- Run owners: is the process still there? ----

//  The start time of process pid (clock ticks since boot, field 22 of
//  /proc/PID/stat), 0 when there is no such process.
static int64_t
s_process_start (pid_t pid)
{
    if (pid <= 0)
        return 0;
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    char *text = wb_file_read (path, NULL);
    if (!text)
        return 0;
    //  The command name is in parentheses and may hold spaces: skip it
    char *cursor = strrchr (text, ')');
    int64_t start = 0;
    if (cursor) {
        cursor += 2;            //  ") " then field 3 (state)
        for (int field = 3; field < 22 && cursor; field++) {
            cursor = strchr (cursor, ' ');
            if (cursor)
                cursor++;
        }
        if (cursor)
            start = strtoll (cursor, NULL, 10);
        //  A zombie process has exited: it no longer owns anything
        char state = *(strrchr (text, ')') + 2);
        if (state == 'Z' || state == 'X')
            start = 0;
    }
    free (text);
    return start;
}

int64_t
wb_store_process_start (pid_t pid)
{
    return s_process_start (pid);
}

static int
s_set_owner (wb_store_t *self, int64_t seq, pid_t owner, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "UPDATE runs SET owner_pid = ?, owner_start = ?, owner_host = ? WHERE seq = ?", err);
    if (!stmt)
        return -1;
    if (owner > 0) {
        sqlite3_bind_int64 (stmt, 1, owner);
        sqlite3_bind_int64 (stmt, 2, s_process_start (owner));
        sqlite3_bind_text (stmt, 3, self->host, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64 (stmt, 4, seq);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "setting a run's owner");
    sqlite3_finalize (stmt);
    return rc;
}

int
wb_store_run_set_owner (wb_store_t *self, const char *id, pid_t owner, wb_error_t *err)
{
    int64_t seq = s_run_seq (self, id, err);
    return seq < 0? -1: s_set_owner (self, seq, owner, err);
}

//  ---- Runs ----

static const char *s_adjectives [] = {
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "eager",
    "fair", "gentle", "glad", "keen", "lucid", "merry", "nimble", "proud",
    "quick", "quiet", "sharp", "steady", "swift", "tidy", "vivid", "warm"
};
static const char *s_nouns [] = {
    "badger", "crane", "dolphin", "falcon", "finch", "fox", "gecko", "heron",
    "ibis", "koala", "lark", "lynx", "marten", "otter", "owl", "panda",
    "puffin", "raven", "robin", "seal", "sparrow", "tern", "wren", "yak"
};

static int
    s_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id, wb_error_t *err);

int
wb_store_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id, wb_error_t *err)
{
    assert (spec && id);
    //  Names and commands may come from anywhere (a shell, a file name):
    //  they are stored as valid UTF-8
    char *copies [4];
    wb_run_spec_t valid = *spec;
    valid.experiment = s_valid (spec->experiment, &copies [0]);
    valid.name = s_valid (spec->name, &copies [1]);
    valid.command = s_valid (spec->command, &copies [2]);
    valid.compute = s_valid (spec->compute, &copies [3]);
    int rc = s_run_create (self, &valid, id, err);
    for (int i = 0; i < 4; i++)
        free (copies [i]);
    return rc;
}

static int
s_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id, wb_error_t *err)
{
    const char *experiment = spec->experiment? spec->experiment: "Default";
    if (!*experiment)
        return wb_error_set (err, "an experiment needs a name");
    if (wb_store_begin (self, err))
        return -1;
    int64_t experiment_id = s_experiment (self, experiment, true, err);
    int64_t parent = -1;
    if (experiment_id < 0)
        goto fail;
    if (spec->parent && (parent = s_run_seq (self, spec->parent, err)) < 0)
        goto fail;

    sqlite3_stmt *stmt = s_prepare (self,
        "INSERT INTO runs (id, experiment_id, name, kind, status, parent, compute,"
        " command, created, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
    if (!stmt)
        goto fail;
    const char *status = spec->status? spec->status: "running";
    double now = wb_time_now ();
    int attempts = 0;
    int rc;
    do {
        //  Random ids; a clash (1 in 4 billion per pair) just draws again
        unsigned char bytes [4];
        randombytes_buf (bytes, sizeof (bytes));
        snprintf (id, 9, "%02x%02x%02x%02x", bytes [0], bytes [1], bytes [2], bytes [3]);
        char *name = spec->name? wb_strdup (spec->name): NULL;
        if (!name) {
            sqlite3_stmt *count = s_prepare (self, "SELECT coalesce (max (seq), 0) + 1 FROM runs", NULL);
            int64_t next = count && sqlite3_step (count) == SQLITE_ROW? sqlite3_column_int64 (count, 0): 1;
            sqlite3_finalize (count);
            name = wb_sprintf ("%s-%s-%lld",
                s_adjectives [bytes [0] % (sizeof (s_adjectives) / sizeof (char *))],
                s_nouns [bytes [1] % (sizeof (s_nouns) / sizeof (char *))], (long long) next);
        }
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 2, experiment_id);
        sqlite3_bind_text (stmt, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 4, spec->kind? spec->kind: "interactive", -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 5, status, -1, SQLITE_STATIC);
        if (parent >= 0)
            sqlite3_bind_int64 (stmt, 6, parent);
        else
            sqlite3_bind_null (stmt, 6);
        sqlite3_bind_text (stmt, 7, spec->compute, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 8, spec->command, -1, SQLITE_STATIC);
        sqlite3_bind_double (stmt, 9, now);
        if (streq (status, "running"))
            sqlite3_bind_double (stmt, 10, now);
        else
            sqlite3_bind_null (stmt, 10);
        rc = sqlite3_step (stmt);
        free (name);
    } while (rc == SQLITE_CONSTRAINT && ++attempts < 10);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        s_sql_error (self, err, "creating a run");
        goto fail;
    }
    int64_t seq = sqlite3_last_insert_rowid (self->db);
    if (spec->owner && s_set_owner (self, seq, spec->owner, err))
        goto fail;
    json_t *detail = json_pack ("{s:s, s:s}", "experiment", experiment, "status", status);
    rc = s_event (self, "run.create", id, detail, err);
    json_decref (detail);
    if (rc || wb_store_commit (self, err))
        goto fail;
    return 0;
fail:
    wb_store_rollback (self);
    return -1;
}

char *
wb_store_run_resolve (wb_store_t *self, const char *ref, wb_error_t *err)
{
    if (!ref || !*ref) {
        wb_error_set (err, "give a run id or name");
        return NULL;
    }
    //  A name first (exact), newest wins; then an id prefix
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT id FROM runs WHERE name = ? ORDER BY created DESC, seq DESC LIMIT 1", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, ref, -1, SQLITE_STATIC);
    char *id = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        id = wb_strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    if (id)
        return id;
    bool hex = strlen (ref) <= 8;
    for (const char *c = ref; *c; c++)
        if (!strchr ("0123456789abcdef", *c))
            hex = false;
    if (!hex) {
        wb_error_set (err, "no run with name or id '%s' (see %%runs)", ref);
        return NULL;
    }
    if (strlen (ref) < 4) {
        wb_error_set (err, "run id '%s' is too short: give at least 4 digits", ref);
        return NULL;
    }
    stmt = s_prepare (self, "SELECT id FROM runs WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 3", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, ref, -1, SQLITE_STATIC);
    int found = 0;
    wb_buf_t *matches = wb_buf_new ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *candidate = (const char *) sqlite3_column_text (stmt, 0);
        if (!found)
            id = wb_strdup (candidate);
        wb_buf_printf (matches, "%s%s", found? ", ": "", candidate);
        found++;
    }
    sqlite3_finalize (stmt);
    if (found == 0)
        wb_error_set (err, "no run with name or id '%s' (see %%runs)", ref);
    else
    if (found > 1) {
        wb_error_set (err, "run id '%s' is ambiguous (%s%s): give more digits",
                      ref, wb_buf_data (matches), found > 2? ", ...": "");
        free (id);
        id = NULL;
    }
    wb_buf_destroy (&matches);
    return id;
}

//  May a run go from status `from` to `to`?
static bool
s_transition_ok (const char *from, const char *to)
{
    static const char *allowed [][2] = {
        { "queued", "starting" }, { "queued", "canceled" }, { "queued", "failed" },
        { "queued", "cancel_requested" },
        { "starting", "running" }, { "starting", "failed" }, { "starting", "canceled" },
        { "starting", "cancel_requested" },
        { "running", "finalizing" }, { "running", "completed" }, { "running", "failed" },
        { "running", "canceled" }, { "running", "cancel_requested" },
        { "cancel_requested", "canceled" }, { "cancel_requested", "failed" },
        { "cancel_requested", "completed" }, { "cancel_requested", "finalizing" },
        { "finalizing", "completed" }, { "finalizing", "failed" }, { "finalizing", "canceled" },
    };
    for (size_t i = 0; i < sizeof (allowed) / sizeof (allowed [0]); i++)
        if (streq (allowed [i][0], from) && streq (allowed [i][1], to))
            return true;
    return false;
}

static bool
s_known_status (const char *status)
{
    static const char *known [] = { "queued", "starting", "running", "finalizing",
        "completed", "failed", "canceled", "cancel_requested" };
    for (size_t i = 0; i < sizeof (known) / sizeof (known [0]); i++)
        if (streq (known [i], status))
            return true;
    return false;
}

//  The status change itself, inside a transaction.
static int
s_run_status (wb_store_t *self, const char *id, const char *status, const char *error,
              wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT status FROM runs WHERE id = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    char *from = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        from = wb_strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    if (!from)
        return wb_error_set (err, "no run with id '%s'", id);
    if (!s_transition_ok (from, status)) {
        wb_error_set (err, "run %s is %s: it cannot become %s", id, from, status);
        free (from);
        return -1;
    }
    stmt = s_prepare (self,
        "UPDATE runs SET status = ?1,"
        " started = CASE WHEN ?1 IN ('running') AND started IS NULL THEN ?2 ELSE started END,"
        " ended = CASE WHEN ?1 IN ('completed', 'failed', 'canceled') THEN ?2 ELSE ended END,"
        " error = coalesce (?3, error) WHERE id = ?4", err);
    if (!stmt) {
        free (from);
        return -1;
    }
    sqlite3_bind_text (stmt, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_double (stmt, 2, wb_time_now ());
    sqlite3_bind_text (stmt, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "changing a run's status");
    sqlite3_finalize (stmt);
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s, s:s, s:s?}", "from", from, "to", status, "error", error);
        rc = s_event (self, "run.status", id, detail, err);
        json_decref (detail);
    }
    free (from);
    return rc;
}

int
wb_store_run_status (wb_store_t *self, const char *id, const char *status,
                     const char *error, wb_error_t *err)
{
    if (!s_known_status (status))
        return wb_error_set (err, "unknown status '%s' (use completed, failed or canceled)", status);
    if (wb_store_begin (self, err))
        return -1;
    //  The error text is often the tail of a program's stderr: any bytes
    char *copy;
    error = s_valid (error, &copy);
    int rc = 0;
    if (s_run_status (self, id, status, error, err) || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        rc = -1;
    }
    free (copy);
    return rc;
}

int
wb_store_run_set (wb_store_t *self, const char *id, const char *field, const char *value,
                  wb_error_t *err)
{
    static const char *fields [] = { "compute", "command", "snapshot", "error", "name", NULL };
    const char **known = fields;
    while (*known && !streq (*known, field))
        known++;
    assert (*known);            //  a programming error otherwise
    char *sql = wb_sprintf ("UPDATE runs SET %s = ? WHERE id = ?", *known);
    sqlite3_stmt *stmt = s_prepare (self, sql, err);
    free (sql);
    if (!stmt)
        return -1;
    char *copy;
    sqlite3_bind_text (stmt, 1, s_valid (value, &copy), -1, SQLITE_TRANSIENT);
    free (copy);
    sqlite3_bind_text (stmt, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "updating a run");
    if (rc == 0 && sqlite3_changes (self->db) == 0)
        rc = wb_error_set (err, "no run with id '%s'", id);
    sqlite3_finalize (stmt);
    return rc;
}

int
wb_store_reap (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT id, owner_pid, owner_start FROM runs WHERE owner_host = ? AND owner_pid > 0"
        " AND status IN ('queued', 'starting', 'running', 'finalizing', 'cancel_requested')", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, self->host, -1, SQLITE_STATIC);
    json_t *dead = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        pid_t pid = (pid_t) sqlite3_column_int64 (stmt, 1);
        int64_t start = sqlite3_column_int64 (stmt, 2);
        int64_t now_start = s_process_start (pid);
        if (now_start == 0 || (start && now_start != start))
            json_array_append_new (dead, json_pack ("{s:o, s:i}",
                "id", s_column_json (stmt, 0), "pid", (int) pid));
    }
    sqlite3_finalize (stmt);
    int reaped = 0;
    size_t index;
    json_t *entry;
    json_array_foreach (dead, index, entry) {
        char *reason = wb_sprintf ("the process running it (pid %d) is gone: it died or was "
            "killed before the run ended", (int) json_integer_value (json_object_get (entry, "pid")));
        if (wb_store_run_status (self, json_string_value (json_object_get (entry, "id")),
                                 "failed", reason, NULL) == 0)
            reaped++;
        free (reason);
    }
    json_decref (dead);
    return reaped;
}

json_t *
wb_store_runs_with_status (wb_store_t *self, const char *status, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT id, owner_pid, owner_host, created FROM runs WHERE status = ? ORDER BY seq", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, status, -1, SQLITE_STATIC);
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("{s:o, s:o, s:o, s:f}",
            "id", s_column_json (stmt, 0),
            "owner", s_column_json (stmt, 1), "host", s_column_json (stmt, 2),
            "created", sqlite3_column_double (stmt, 3)));
    sqlite3_finalize (stmt);
    return list;
}

//  Fill obj[field] with {key: value} from a (run, key, value) table.
static void
s_key_values (wb_store_t *self, const char *table, int64_t seq, json_t *obj, const char *field)
{
    char *sql = wb_sprintf ("SELECT key, value FROM %s WHERE run = ? ORDER BY key", table);
    sqlite3_stmt *stmt = s_prepare (self, sql, NULL);
    free (sql);
    json_t *values = json_object ();
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        while (sqlite3_step (stmt) == SQLITE_ROW)
            s_set_column_key (values, stmt, 0,
                s_column_json (stmt, 1));
        sqlite3_finalize (stmt);
    }
    json_object_set_new (obj, field, values);
}

char *
wb_store_run_state (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT status FROM runs WHERE id = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    char *status = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        status = wb_strdup ((const char *) sqlite3_column_text (stmt, 0));
    else
        wb_error_set (err, "no run with id '%s'", id);
    sqlite3_finalize (stmt);
    return status;
}

bool
wb_store_status_final (const char *status)
{
    return status && (streq (status, "completed") || streq (status, "failed")
                      || streq (status, "canceled"));
}

bool
wb_store_run_owner_alive (wb_store_t *self, const char *id)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT owner_pid, owner_start, owner_host FROM runs WHERE id = ?", NULL);
    if (!stmt)
        return false;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    bool alive = false;
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int64 (stmt, 0) > 0) {
        const char *host = (const char *) sqlite3_column_text (stmt, 2);
        int64_t start = sqlite3_column_int64 (stmt, 1);
        int64_t now_start = s_process_start ((pid_t) sqlite3_column_int64 (stmt, 0));
        //  Another machine's process cannot be looked at: taken as alive
        alive = (host && !streq (host, self->host))
             || (now_start != 0 && (!start || now_start == start));
    }
    sqlite3_finalize (stmt);
    return alive;
}

int
wb_store_run_reopen (wb_store_t *self, const char *id, wb_error_t *err)
{
    char *status = wb_store_run_state (self, id, err);
    if (!status)
        return -1;
    int rc = 0;
    if (!wb_store_status_final (status))
        rc = wb_error_set (err, "run %s is %s: only a run that ended can be reopened", id, status);
    sqlite3_stmt *stmt = rc? NULL: s_prepare (self,
        "UPDATE runs SET status = 'queued', ended = NULL, error = NULL, owner_pid = NULL,"
        " owner_start = NULL, owner_host = NULL"
        " WHERE id = ? AND status IN ('completed', 'failed', 'canceled')", err);
    if (!rc && !stmt)
        rc = -1;
    if (stmt) {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = s_sql_error (self, err, "reopening a run");
        else
        if (sqlite3_changes (self->db) == 0)
            rc = wb_error_set (err, "run %s changed while it was being reopened: try again", id);
        sqlite3_finalize (stmt);
    }
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s}", "was", status);
        rc = s_event (self, "run.reopen", id, detail, err);
        json_decref (detail);
    }
    free (status);
    return rc;
}

json_t *
wb_store_run_get (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT r.seq, r.id, r.name, e.name, r.kind, r.status, p.id, r.compute, r.command,"
        " r.snapshot, r.error, r.created, r.started, r.ended, r.owner_pid"
        " FROM runs r JOIN experiments e ON e.id = r.experiment_id"
        " LEFT JOIN runs p ON p.seq = r.parent WHERE r.id = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step (stmt) != SQLITE_ROW) {
        sqlite3_finalize (stmt);
        wb_error_set (err, "no run with id '%s'", id);
        return NULL;
    }
    int64_t seq = sqlite3_column_int64 (stmt, 0);
    static const char *names [] = { NULL, "id", "name", "experiment", "kind", "status",
        "parent", "compute", "command", "snapshot", "error", "created", "started",
        "ended", "owner" };
    json_t *run = json_object ();
    for (int column = 1; column <= 14; column++)
        json_object_set_new (run, names [column], s_column_json (stmt, column));
    sqlite3_finalize (stmt);

    s_key_values (self, "params", seq, run, "params");
    s_key_values (self, "tags", seq, run, "tags");

    json_t *metrics = json_object ();
    stmt = s_prepare (self, "SELECT key, value, step, time, min, max, count FROM metric_latest"
                            " WHERE run = ? ORDER BY key", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        s_set_column_key (metrics, stmt, 0,
            json_pack ("{s:o, s:I, s:f, s:o, s:o, s:I}",
                "value", s_column_json (stmt, 1),
                "step", (json_int_t) sqlite3_column_int64 (stmt, 2),
                "time", sqlite3_column_double (stmt, 3),
                "min", s_column_json (stmt, 4), "max", s_column_json (stmt, 5),
                "count", (json_int_t) sqlite3_column_int64 (stmt, 6)));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "metrics", metrics);

    json_t *artifacts = json_array ();
    stmt = s_prepare (self, "SELECT path, hash, size FROM artifacts WHERE run = ? ORDER BY path", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (artifacts, json_pack ("{s:o, s:o, s:I}",
            "path", s_column_json (stmt, 0),
            "hash", s_column_json (stmt, 1),
            "size", (json_int_t) sqlite3_column_int64 (stmt, 2)));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "artifacts", artifacts);

    json_t *lineage = json_array ();
    stmt = s_prepare (self, "SELECT direction, kind, name, version FROM lineage WHERE run = ?"
                            " ORDER BY direction, kind, name, version", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (lineage, json_pack ("{s:o, s:o, s:o, s:I}",
            "direction", s_column_json (stmt, 0),
            "kind", s_column_json (stmt, 1),
            "name", s_column_json (stmt, 2),
            "version", (json_int_t) sqlite3_column_int64 (stmt, 3)));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "lineage", lineage);

    json_t *children = json_array ();
    stmt = s_prepare (self, "SELECT id FROM runs WHERE parent = ? ORDER BY seq", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (children, s_column_json (stmt, 0));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "children", children);
    return run;
}

json_t *
wb_store_run_ids (wb_store_t *self)
{
    json_t *list = json_array ();
    sqlite3_stmt *stmt = s_prepare (self, "SELECT id, name FROM runs ORDER BY seq DESC LIMIT 5000", NULL);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("[o, o]",
            s_column_json (stmt, 0),
            s_column_json (stmt, 1)));
    sqlite3_finalize (stmt);
    return list;
}

//  Delete the files under artifacts/ whose hash no row refers to any more.
//  A snapshot's manifest is collected with the files it alone lists.
static void
s_collect (wb_store_t *self, json_t *hashes)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT (SELECT count (*) FROM artifacts WHERE hash = ?1)"
        " + (SELECT count (*) FROM runs WHERE snapshot = ?1)"
        " + (SELECT count (*) FROM snapshot_files WHERE hash = ?1)"
        " + (SELECT count (*) FROM datasets WHERE hash = ?1)", NULL);
    sqlite3_stmt *listed = s_prepare (self,
        "SELECT hash FROM snapshot_files WHERE snapshot = ?", NULL);
    sqlite3_stmt *forget = s_prepare (self,
        "DELETE FROM snapshot_files WHERE snapshot = ?", NULL);
    //  hashes may grow as manifests are collected: walk by index
    for (size_t index = 0; index < json_array_size (hashes); index++) {
        const char *hash = json_string_value (json_array_get (hashes, index));
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_ROW || sqlite3_column_int64 (stmt, 0) != 0)
            continue;
        sqlite3_reset (listed);
        sqlite3_bind_text (listed, 1, hash, -1, SQLITE_STATIC);
        json_t *files = json_array ();
        while (sqlite3_step (listed) == SQLITE_ROW)
            json_array_append_new (files, s_column_json (listed, 0));
        if (json_array_size (files)) {
            sqlite3_reset (forget);
            sqlite3_bind_text (forget, 1, hash, -1, SQLITE_STATIC);
            sqlite3_step (forget);
            json_array_extend (hashes, files);
        }
        json_decref (files);
        char *path = wb_store_blob_path (self, hash);
        unlink (path);
        free (path);
    }
    sqlite3_finalize (stmt);
    sqlite3_finalize (listed);
    sqlite3_finalize (forget);
}

int
wb_store_run_delete (wb_store_t *self, const char *id, wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    int64_t seq = s_run_seq (self, id, err);
    if (seq < 0) {
        wb_store_rollback (self);
        return -1;
    }
    //  The hashes this run held, to collect once it is gone
    json_t *hashes = json_array ();
    sqlite3_stmt *stmt = s_prepare (self, "SELECT hash FROM artifacts WHERE run = ?1"
        " UNION SELECT snapshot FROM runs WHERE seq = ?1 AND snapshot IS NOT NULL", err);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        while (sqlite3_step (stmt) == SQLITE_ROW)
            json_array_append_new (hashes, s_column_json (stmt, 0));
        sqlite3_finalize (stmt);
    }
    static const char *deletes [] = {
        "DELETE FROM params WHERE run = ?", "DELETE FROM tags WHERE run = ?",
        "DELETE FROM metric_chunks WHERE run = ?", "DELETE FROM metric_latest WHERE run = ?",
        "DELETE FROM artifacts WHERE run = ?", "DELETE FROM lineage WHERE run = ?",
        "DELETE FROM jobs WHERE run = ?",
        "UPDATE runs SET parent = NULL WHERE parent = ?", "DELETE FROM runs WHERE seq = ?",
    };
    int rc = stmt? 0: -1;
    for (size_t i = 0; rc == 0 && i < sizeof (deletes) / sizeof (deletes [0]); i++) {
        stmt = s_prepare (self, deletes [i], err);
        if (!stmt) {
            rc = -1;
            break;
        }
        sqlite3_bind_int64 (stmt, 1, seq);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = s_sql_error (self, err, "deleting a run");
        sqlite3_finalize (stmt);
    }
    if (rc == 0)
        rc = s_event (self, "run.delete", id, NULL, err);
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        json_decref (hashes);
        return -1;
    }
    s_collect (self, hashes);
    json_decref (hashes);
    return 0;
}

json_t *
wb_store_runs (wb_store_t *self, const char *experiment, const char *filter,
               const char *sort, size_t limit, wb_error_t *err)
{
    wb_query_t *query = wb_query_new (filter, sort, err);
    if (!query)
        return NULL;
    char *sql = wb_sprintf (
        "SELECT r.seq, r.id, r.name, e.name, r.kind, r.status, r.created, r.started, r.ended,"
        " p.id FROM runs r JOIN experiments e ON e.id = r.experiment_id"
        " LEFT JOIN runs p ON p.seq = r.parent"
        " WHERE (? IS NULL OR e.name = ?) AND (%s) ORDER BY %s LIMIT ?",
        wb_query_where (query), wb_query_order (query));
    sqlite3_stmt *stmt = s_prepare (self, sql, err);
    free (sql);
    if (!stmt) {
        wb_query_destroy (&query);
        return NULL;
    }
    sqlite3_bind_text (stmt, 1, experiment, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, experiment, -1, SQLITE_STATIC);
    int next = wb_query_bind (query, stmt, 3);
    sqlite3_bind_int64 (stmt, next, limit? (sqlite3_int64) limit: -1);

    sqlite3_stmt *params = s_prepare (self, "SELECT key, value FROM params WHERE run = ? ORDER BY key", NULL);
    sqlite3_stmt *metrics = s_prepare (self, "SELECT key, value FROM metric_latest WHERE run = ? ORDER BY key", NULL);
    json_t *runs = json_array ();
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64 (stmt, 0);
        json_t *run = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:f, s:o, s:o, s:o}",
            "id", s_column_json (stmt, 1),
            "name", s_column_json (stmt, 2),
            "experiment", s_column_json (stmt, 3),
            "kind", s_column_json (stmt, 4),
            "status", s_column_json (stmt, 5),
            "created", sqlite3_column_double (stmt, 6),
            "started", s_column_json (stmt, 7),
            "ended", s_column_json (stmt, 8),
            "parent", s_column_json (stmt, 9));
        json_t *values = json_object ();
        sqlite3_reset (params);
        sqlite3_bind_int64 (params, 1, seq);
        while (sqlite3_step (params) == SQLITE_ROW)
            s_set_column_key (values, params, 0,
                                 s_column_json (params, 1));
        json_object_set_new (run, "params", values);
        values = json_object ();
        sqlite3_reset (metrics);
        sqlite3_bind_int64 (metrics, 1, seq);
        while (sqlite3_step (metrics) == SQLITE_ROW)
            s_set_column_key (values, metrics, 0,
                                 s_column_json (metrics, 1));
        json_object_set_new (run, "metrics", values);
        json_array_append_new (runs, run);
    }
    if (rc != SQLITE_DONE) {
        s_sql_error (self, err, "listing runs");
        json_decref (runs);
        runs = NULL;
    }
    sqlite3_finalize (params);
    sqlite3_finalize (metrics);
    sqlite3_finalize (stmt);
    wb_query_destroy (&query);
    return runs;
}

//  ---- Params and tags ----

static char *
s_value_text (json_t *value)
{
    if (json_is_string (value))
        return wb_strdup (json_string_value (value));
    if (json_is_integer (value))
        return wb_sprintf ("%" JSON_INTEGER_FORMAT, json_integer_value (value));
    if (json_is_real (value))
        return wb_sprintf ("%.17g", json_real_value (value));
    if (json_is_boolean (value))
        return wb_strdup (json_is_true (value)? "true": "false");
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int
s_key_values_set (wb_store_t *self, const char *table, const char *id, json_t *values,
                  bool immutable, wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    int64_t seq = s_run_seq (self, id, err);
    if (seq < 0) {
        wb_store_rollback (self);
        return -1;
    }
    char *sql = wb_sprintf ("SELECT value FROM %s WHERE run = ? AND key = ?", table);
    sqlite3_stmt *get = s_prepare (self, sql, err);
    free (sql);
    sql = wb_sprintf ("INSERT INTO %s (run, key, value) VALUES (?, ?, ?)"
                      " ON CONFLICT (run, key) DO UPDATE SET value = excluded.value", table);
    sqlite3_stmt *put = s_prepare (self, sql, err);
    free (sql);
    int rc = get && put? 0: -1;
    const char *key;
    json_t *value;
    json_object_foreach (values, key, value) {
        if (rc)
            break;
        if (!*key) {
            rc = wb_error_set (err, "a %s key cannot be empty", table);
            break;
        }
        char *text = s_value_text (value);
        if (immutable) {
            sqlite3_reset (get);
            sqlite3_bind_int64 (get, 1, seq);
            sqlite3_bind_text (get, 2, key, -1, SQLITE_STATIC);
            if (sqlite3_step (get) == SQLITE_ROW
            &&  !streq ((const char *) sqlite3_column_text (get, 0), text))
                rc = wb_error_set (err, "param '%s' of run %s is already '%s': a param is "
                    "set once per run (log a metric, or start a new run to change it)",
                    key, id, (const char *) sqlite3_column_text (get, 0));
        }
        if (rc == 0) {
            sqlite3_reset (put);
            sqlite3_bind_int64 (put, 1, seq);
            sqlite3_bind_text (put, 2, key, -1, SQLITE_STATIC);
            sqlite3_bind_text (put, 3, text, -1, SQLITE_TRANSIENT);
            if (sqlite3_step (put) != SQLITE_DONE)
                rc = s_sql_error (self, err, "storing a value");
        }
        free (text);
    }
    sqlite3_finalize (get);
    sqlite3_finalize (put);
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    return 0;
}

int
wb_store_params (wb_store_t *self, const char *id, json_t *values, wb_error_t *err)
{
    return s_key_values_set (self, "params", id, values, true, err);
}

int
wb_store_tags (wb_store_t *self, const char *id, json_t *values, wb_error_t *err)
{
    return s_key_values_set (self, "tags", id, values, false, err);
}

//  ---- Metrics ----

static void
s_pack_point (unsigned char *out, int64_t step, double value, double time)
{
    //  Native byte order: a workspace is read on the machine that wrote it
    //  or one like it (x86_64, aarch64: both little-endian)
    memcpy (out, &step, 8);
    memcpy (out + 8, &value, 8);
    memcpy (out + 16, &time, 8);
}

static void
s_unpack_point (const unsigned char *in, int64_t *step, double *value, double *time)
{
    memcpy (step, in, 8);
    memcpy (value, in + 8, 8);
    memcpy (time, in + 16, 8);
}

static int
s_compare_points_by_key (const void *a, const void *b)
{
    const wb_metric_t *pa = *(const wb_metric_t * const *) a;
    const wb_metric_t *pb = *(const wb_metric_t * const *) b;
    int rc = strcmp (pa->key, pb->key);
    if (rc == 0)
        rc = pa < pb? -1: pa > pb;  //  stable: keep the order they came in
    return rc;
}

static bool
s_valid_key (const char *key)
{
    if (!key || !*key || strlen (key) > 250)
        return false;
    for (const unsigned char *c = (const unsigned char *) key; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return false;
    return wb_utf8_valid (key, strlen (key));
}

int
wb_store_log (wb_store_t *self, const char *id, const wb_metric_t *points, size_t count,
              wb_error_t *err)
{
    if (count == 0)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (!s_valid_key (points [i].key))
            return wb_error_set (err, "metric key '%s' is not valid: use 1 to 250 printable "
                                 "characters of UTF-8 text", points [i].key? points [i].key: "");
    //  Group the points by key, keeping their order within a key
    const wb_metric_t **sorted = wb_malloc (count * sizeof (wb_metric_t *));
    for (size_t i = 0; i < count; i++)
        sorted [i] = &points [i];
    qsort (sorted, count, sizeof (wb_metric_t *), s_compare_points_by_key);

    if (wb_store_begin (self, err)) {
        free (sorted);
        return -1;
    }
    int64_t seq = s_run_seq (self, id, err);
    sqlite3_stmt *latest = s_prepare (self,
        "SELECT step FROM metric_latest WHERE run = ? AND key = ?", err);
    sqlite3_stmt *chunk = s_prepare (self,
        "INSERT INTO metric_chunks (run, key, count, points) VALUES (?, ?, ?, ?)", err);
    sqlite3_stmt *upsert = s_prepare (self,
        "INSERT INTO metric_latest (run, key, value, step, time, min, max, count)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (run, key) DO UPDATE SET"
        " value = CASE WHEN excluded.step >= step THEN excluded.value ELSE value END,"
        " time = CASE WHEN excluded.step >= step THEN excluded.time ELSE time END,"
        " step = max (step, excluded.step),"
        " min = CASE WHEN min IS NULL THEN excluded.min WHEN excluded.min IS NULL THEN min"
        "        ELSE min (min, excluded.min) END,"
        " max = CASE WHEN max IS NULL THEN excluded.max WHEN excluded.max IS NULL THEN max"
        "        ELSE max (max, excluded.max) END,"
        " count = count + excluded.count", err);
    int rc = seq >= 0 && latest && chunk && upsert? 0: -1;
    unsigned char *blob = wb_malloc (S_CHUNK_POINTS * S_POINT_SIZE);
    double now = wb_time_now ();
    size_t start = 0;
    while (rc == 0 && start < count) {
        const char *key = sorted [start]->key;
        size_t end = start;
        while (end < count && streq (sorted [end]->key, key))
            end++;
        //  The last step so far, for points logged without one
        int64_t next_step = 0;
        sqlite3_reset (latest);
        sqlite3_bind_int64 (latest, 1, seq);
        sqlite3_bind_text (latest, 2, key, -1, SQLITE_STATIC);
        if (sqlite3_step (latest) == SQLITE_ROW)
            next_step = sqlite3_column_int64 (latest, 0) + 1;
        //  Summary of this key's points, and its chunks
        int64_t top_step = INT64_MIN;
        double top_value = NAN, top_time = 0, low = NAN, high = NAN;
        for (size_t from = start; rc == 0 && from < end; from += S_CHUNK_POINTS) {
            size_t size = end - from < S_CHUNK_POINTS? end - from: S_CHUNK_POINTS;
            for (size_t i = 0; i < size; i++) {
                const wb_metric_t *point = sorted [from + i];
                int64_t step = point->step >= 0? point->step: next_step;
                next_step = step + 1;
                double time = point->time > 0? point->time: now;
                s_pack_point (blob + i * S_POINT_SIZE, step, point->value, time);
                if (step >= top_step) {
                    top_step = step;
                    top_value = point->value;
                    top_time = time;
                }
                if (isfinite (point->value)) {
                    if (isnan (low) || point->value < low)
                        low = point->value;
                    if (isnan (high) || point->value > high)
                        high = point->value;
                }
            }
            sqlite3_reset (chunk);
            sqlite3_bind_int64 (chunk, 1, seq);
            sqlite3_bind_text (chunk, 2, key, -1, SQLITE_STATIC);
            sqlite3_bind_int64 (chunk, 3, (sqlite3_int64) size);
            sqlite3_bind_blob (chunk, 4, blob, (int) (size * S_POINT_SIZE), SQLITE_STATIC);
            if (sqlite3_step (chunk) != SQLITE_DONE)
                rc = s_sql_error (self, err, "storing metrics");
        }
        if (rc == 0) {
            sqlite3_reset (upsert);
            sqlite3_bind_int64 (upsert, 1, seq);
            sqlite3_bind_text (upsert, 2, key, -1, SQLITE_STATIC);
            if (isnan (top_value))
                sqlite3_bind_null (upsert, 3);
            else
                sqlite3_bind_double (upsert, 3, top_value);
            sqlite3_bind_int64 (upsert, 4, top_step);
            sqlite3_bind_double (upsert, 5, top_time);
            if (isnan (low)) {
                sqlite3_bind_null (upsert, 6);
                sqlite3_bind_null (upsert, 7);
            }
            else {
                sqlite3_bind_double (upsert, 6, low);
                sqlite3_bind_double (upsert, 7, high);
            }
            sqlite3_bind_int64 (upsert, 8, (sqlite3_int64) (end - start));
            if (sqlite3_step (upsert) != SQLITE_DONE)
                rc = s_sql_error (self, err, "storing metrics");
        }
        start = end;
    }
    free (blob);
    free (sorted);
    sqlite3_finalize (latest);
    sqlite3_finalize (chunk);
    sqlite3_finalize (upsert);
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    return 0;
}

typedef struct {
    double step;                //  as double, for charts
    double value;               //  the value
    double time;                //  when
    size_t order;               //  arrival order, to keep the sort stable
} s_point_t;

static int
s_compare_points (const void *a, const void *b)
{
    const s_point_t *pa = a, *pb = b;
    if (pa->step != pb->step)
        return pa->step < pb->step? -1: 1;
    return pa->order < pb->order? -1: pa->order > pb->order;
}

int
wb_store_history (wb_store_t *self, const char *id, const char *key, double **steps,
                  double **values, double **times, size_t *count, wb_error_t *err)
{
    *count = 0;
    int64_t seq = s_run_seq (self, id, err);
    if (seq < 0)
        return -1;
    //  Read in one snapshot, even while writers append
    if (s_exec (self, "BEGIN", err))
        return -1;
    sqlite3_stmt *stmt = s_prepare (self, "SELECT count FROM metric_latest WHERE run = ? AND key = ?", err);
    size_t room = 0;
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        sqlite3_bind_text (stmt, 2, key, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW)
            room = (size_t) sqlite3_column_int64 (stmt, 0);
        sqlite3_finalize (stmt);
    }
    s_point_t *points = wb_malloc ((room? room: 1) * sizeof (s_point_t));
    size_t used = 0;
    bool sorted = true;
    stmt = s_prepare (self, "SELECT points FROM metric_chunks WHERE run = ? AND key = ? ORDER BY id", err);
    int rc = stmt? 0: -1;
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        sqlite3_bind_text (stmt, 2, key, -1, SQLITE_STATIC);
        while (sqlite3_step (stmt) == SQLITE_ROW) {
            const unsigned char *blob = sqlite3_column_blob (stmt, 0);
            size_t size = (size_t) sqlite3_column_bytes (stmt, 0) / S_POINT_SIZE;
            if (used + size > room) {
                room = (used + size) * 2;
                points = wb_realloc (points, room * sizeof (s_point_t));
            }
            for (size_t i = 0; i < size; i++) {
                int64_t step;
                s_point_t *point = &points [used];
                s_unpack_point (blob + i * S_POINT_SIZE, &step, &point->value, &point->time);
                point->step = (double) step;
                point->order = used;
                if (used && point->step < points [used - 1].step)
                    sorted = false;
                used++;
            }
        }
        sqlite3_finalize (stmt);
    }
    s_exec (self, "COMMIT", NULL);
    if (rc) {
        free (points);
        return -1;
    }
    if (!sorted)
        qsort (points, used, sizeof (s_point_t), s_compare_points);
    if (steps)
        *steps = wb_malloc ((used? used: 1) * sizeof (double));
    if (values)
        *values = wb_malloc ((used? used: 1) * sizeof (double));
    if (times)
        *times = wb_malloc ((used? used: 1) * sizeof (double));
    for (size_t i = 0; i < used; i++) {
        if (steps)
            (*steps) [i] = points [i].step;
        if (values)
            (*values) [i] = points [i].value;
        if (times)
            (*times) [i] = points [i].time;
    }
    free (points);
    *count = used;
    return 0;
}

json_t *
wb_store_metric_keys (wb_store_t *self, const char *id)
{
    json_t *keys = json_array ();
    int64_t seq = id? s_run_seq (self, id, NULL): 0;
    if (id && seq < 0)
        return keys;
    sqlite3_stmt *stmt = s_prepare (self, id
        ? "SELECT key FROM metric_latest WHERE run = ? ORDER BY key"
        : "SELECT DISTINCT key FROM metric_latest ORDER BY key", NULL);
    if (id)
        sqlite3_bind_int64 (stmt, 1, seq);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (keys, s_column_json (stmt, 0));
    sqlite3_finalize (stmt);
    return keys;
}

//  ---- Content-addressed files ----

int
wb_sha256_file (const char *file, char *hash, wb_error_t *err)
{
    FILE *handle = fopen (file, "rb");
    if (!handle)
        return wb_error_set (err, "cannot read '%s': %s", file, strerror (errno));
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    unsigned char chunk [65536];
    size_t got;
    while ((got = fread (chunk, 1, sizeof (chunk), handle)) > 0)
        crypto_hash_sha256_update (&state, chunk, got);
    bool failed = ferror (handle);
    fclose (handle);
    if (failed)
        return wb_error_set (err, "cannot read '%s': %s", file, strerror (errno));
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&state, digest);
    sodium_bin2hex (hash, 65, digest, sizeof (digest));
    return 0;
}

char *
wb_store_artifact_read (wb_store_t *self, json_t *run, const char *path, size_t *size_p)
{
    size_t index;
    json_t *artifact;
    json_array_foreach (json_object_get (run, "artifacts"), index, artifact) {
        const char *name = json_string_value (json_object_get (artifact, "path"));
        const char *hash = json_string_value (json_object_get (artifact, "hash"));
        if (name && hash && streq (name, path)) {
            char *blob = wb_store_blob_path (self, hash);
            char *data = wb_file_read (blob, size_p);
            free (blob);
            return data;
        }
    }
    return NULL;
}

char *
wb_store_blob_path (wb_store_t *self, const char *hash)
{
    return wb_sprintf ("%s/%.2s/%s", self->artifacts, hash, hash + 2);
}

//  Move or copy the bytes at source (or data) into the store under hash.
static int
s_blob_put (wb_store_t *self, const char *hash, const char *source,
            const void *data, size_t size, wb_error_t *err)
{
    char *path = wb_store_blob_path (self, hash);
    struct stat info;
    if (stat (path, &info) == 0) {
        free (path);
        return 0;               //  the same content is there already
    }
    char *dir = wb_sprintf ("%s/%.2s", self->artifacts, hash);
    mkdir (self->artifacts, 0700);
    if (mkdir (dir, 0700) && errno != EEXIST) {
        wb_error_set (err, "cannot create '%s': %s", dir, strerror (errno));
        free (dir);
        free (path);
        return -1;
    }
    //  Write to a temporary name, then rename: a reader never sees half a file
    char *temp = wb_sprintf ("%s/.tmp-%d-%s", dir, (int) getpid (), hash + 2);
    int rc = 0;
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0? fdopen (fd, "wb"): NULL;
    if (fd >= 0 && !out)
        close (fd);
    if (!out)
        rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
    else {
        if (source) {
            FILE *in = fopen (source, "rb");
            if (!in)
                rc = wb_error_set (err, "cannot read '%s': %s", source, strerror (errno));
            else {
                char chunk [65536];
                size_t got;
                while (rc == 0 && (got = fread (chunk, 1, sizeof (chunk), in)) > 0)
                    if (fwrite (chunk, 1, got, out) != got)
                        rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
                fclose (in);
            }
        }
        else
        if (size && fwrite (data, 1, size, out) != size)
            rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
        if (fclose (out) && rc == 0)
            rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
    }
    if (rc == 0 && rename (temp, path))
        rc = wb_error_set (err, "cannot store '%s': %s", path, strerror (errno));
    if (rc)
        unlink (temp);
    free (temp);
    free (dir);
    free (path);
    return rc;
}

int
wb_store_blob_data (wb_store_t *self, const void *data, size_t size, char *hash,
                    wb_error_t *err)
{
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, data, size);
    sodium_bin2hex (hash, 65, digest, sizeof (digest));
    return s_blob_put (self, hash, NULL, data, size, err);
}

int
wb_store_blob_file (wb_store_t *self, const char *file, char *hash, wb_error_t *err)
{
    if (wb_sha256_file (file, hash, err))
        return -1;
    return s_blob_put (self, hash, file, NULL, 0, err);
}

static int
    s_artifact_put (wb_store_t *self, const char *id, const char *path, const char *hash,
                    int64_t size, wb_error_t *err);

static int
s_artifact_record (wb_store_t *self, const char *id, const char *path, const char *hash,
                   int64_t size, wb_error_t *err)
{
    if (!path || !*path || path [0] == '/' || strstr (path, ".."))
        return wb_error_set (err, "artifact path '%s' must be relative, without '..'",
                             path? path: "");
    //  A file name from a job's outputs may be any bytes: it is recorded
    //  as valid UTF-8 (U+FFFD), the name %artifacts shows and finds
    char *copy;
    path = s_valid (path, &copy);
    int rc = s_artifact_put (self, id, path, hash, size, err);
    free (copy);
    return rc;
}

static int
s_artifact_put (wb_store_t *self, const char *id, const char *path, const char *hash,
                int64_t size, wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    int64_t seq = s_run_seq (self, id, err);
    //  Replacing an artifact: remember the old content, to collect it
    json_t *old = json_array ();
    sqlite3_stmt *stmt = seq < 0? NULL: s_prepare (self,
        "SELECT hash FROM artifacts WHERE run = ? AND path = ?", err);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        sqlite3_bind_text (stmt, 2, path, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW)
            json_array_append_new (old, s_column_json (stmt, 0));
        sqlite3_finalize (stmt);
        stmt = s_prepare (self, "INSERT INTO artifacts (run, path, hash, size, created)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (run, path) DO UPDATE SET"
            " hash = excluded.hash, size = excluded.size, created = excluded.created", err);
    }
    int rc = stmt? 0: -1;
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        sqlite3_bind_text (stmt, 2, path, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, size);
        sqlite3_bind_double (stmt, 5, wb_time_now ());
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = s_sql_error (self, err, "recording an artifact");
        sqlite3_finalize (stmt);
    }
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s, s:s, s:I}", "path", path, "hash", hash, "size", (json_int_t) size);
        rc = s_event (self, "artifact.add", id, detail, err);
        json_decref (detail);
    }
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        json_decref (old);
        return -1;
    }
    s_collect (self, old);
    json_decref (old);
    return 0;
}

int
wb_store_artifact_file (wb_store_t *self, const char *id, const char *path,
                        const char *file, wb_error_t *err)
{
    char hash [65];
    struct stat info;
    if (stat (file, &info) || !S_ISREG (info.st_mode))
        return wb_error_set (err, "cannot store '%s' as an artifact: not a readable file", file);
    if (wb_store_blob_file (self, file, hash, err))
        return -1;
    return s_artifact_record (self, id, path, hash, (int64_t) info.st_size, err);
}

int
wb_store_artifact_data (wb_store_t *self, const char *id, const char *path,
                        const void *data, size_t size, wb_error_t *err)
{
    char hash [65];
    if (wb_store_blob_data (self, data, size, hash, err))
        return -1;
    return s_artifact_record (self, id, path, hash, (int64_t) size, err);
}

//  ---- Jobs and compute targets ----

int
wb_store_job_add (wb_store_t *self, const char *id, const char *target, json_t *spec,
                  wb_error_t *err)
{
    int64_t seq = s_run_seq (self, id, err);
    if (seq < 0)
        return -1;
    sqlite3_stmt *stmt = s_prepare (self, "INSERT INTO jobs (run, target, spec, submitted)"
                                          " VALUES (?, ?, ?, ?)", err);
    if (!stmt)
        return -1;
    char *text = json_dumps (spec, JSON_COMPACT);
    sqlite3_bind_int64 (stmt, 1, seq);
    sqlite3_bind_text (stmt, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double (stmt, 4, wb_time_now ());
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "recording a job");
    sqlite3_finalize (stmt);
    free (text);
    return rc;
}

json_t *
wb_store_job_get (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT j.target, j.spec, j.submitted, j.pid, j.exit_code"
        " FROM jobs j JOIN runs r ON r.seq = j.run WHERE r.id = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    json_t *job = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        json_t *spec = json_loads ((const char *) sqlite3_column_text (stmt, 1), 0, NULL);
        job = json_pack ("{s:o, s:o, s:f, s:o, s:o}",
            "target", s_column_json (stmt, 0),
            "spec", spec? spec: json_object (),
            "submitted", sqlite3_column_double (stmt, 2),
            "pid", s_column_json (stmt, 3), "exit_code", s_column_json (stmt, 4));
    }
    else
        wb_error_set (err, "run %s is not a job", id);
    sqlite3_finalize (stmt);
    return job;
}

int
wb_store_job_claim (wb_store_t *self, const char *id, int max_jobs, pid_t owner,
                    wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT r.status, j.target,"
        " (SELECT count (*) FROM jobs j2 JOIN runs r2 ON r2.seq = j2.run WHERE j2.target = j.target"
        "   AND r2.status IN ('starting', 'running', 'finalizing', 'cancel_requested')),"
        " (SELECT r3.id FROM jobs j3 JOIN runs r3 ON r3.seq = j3.run WHERE j3.target = j.target"
        "   AND r3.status = 'queued' ORDER BY j3.submitted, j3.run LIMIT 1)"
        " FROM jobs j JOIN runs r ON r.seq = j.run WHERE r.id = ?", err);
    int rc = -1;
    if (stmt) {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW) {
            const char *status = (const char *) sqlite3_column_text (stmt, 0);
            int64_t active = sqlite3_column_int64 (stmt, 2);
            const char *oldest = (const char *) sqlite3_column_text (stmt, 3);
            if (!streq (status, "queued"))
                rc = 2;
            else
            if (active < max_jobs && oldest && streq (oldest, id))
                rc = 1;
            else
                rc = 0;
        }
        else
            wb_error_set (err, "run %s is not a job", id);
        sqlite3_finalize (stmt);
    }
    if (rc == 1) {
        int64_t seq = s_run_seq (self, id, err);
        if (seq < 0 || s_run_status (self, id, "starting", NULL, err) || s_set_owner (self, seq, owner, err))
            rc = -1;
    }
    if (rc < 0 || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    return rc;
}

int
wb_store_job_update (wb_store_t *self, const char *id, pid_t pid, int exit_code, wb_error_t *err)
{
    int64_t seq = s_run_seq (self, id, err);
    if (seq < 0)
        return -1;
    sqlite3_stmt *stmt = s_prepare (self, "UPDATE jobs SET pid = coalesce (?, pid),"
                                          " exit_code = ? WHERE run = ?", err);
    if (!stmt)
        return -1;
    if (pid > 0)
        sqlite3_bind_int64 (stmt, 1, pid);
    if (exit_code >= 0)
        sqlite3_bind_int (stmt, 2, exit_code);
    sqlite3_bind_int64 (stmt, 3, seq);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "updating a job");
    sqlite3_finalize (stmt);
    return rc;
}

json_t *
wb_store_compute_get (wb_store_t *self, const char *name, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT name, kind, max_jobs, settings FROM compute"
                                          " WHERE name = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    json_t *target = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        target = json_pack ("{s:o, s:o, s:o, s:o}",
            "name", s_column_json (stmt, 0),
            "kind", s_column_json (stmt, 1),
            "max_jobs", s_column_json (stmt, 2), "settings", s_column_json (stmt, 3));
    else
        wb_error_set (err, "no compute target named '%s' (see %%compute)", name);
    sqlite3_finalize (stmt);
    return target;
}

json_t *
wb_store_computes (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT c.name, c.kind, c.max_jobs,"
        " (SELECT count (*) FROM jobs j JOIN runs r ON r.seq = j.run"
        "   WHERE j.target = c.name AND r.status = 'queued'),"
        " (SELECT count (*) FROM jobs j JOIN runs r ON r.seq = j.run WHERE j.target = c.name"
        "   AND r.status IN ('starting', 'running', 'finalizing', 'cancel_requested'))"
        " FROM compute c ORDER BY c.name", err);
    if (!stmt)
        return NULL;
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("{s:o, s:o, s:o, s:I, s:I}",
            "name", s_column_json (stmt, 0),
            "kind", s_column_json (stmt, 1),
            "max_jobs", s_column_json (stmt, 2),
            "queued", (json_int_t) sqlite3_column_int64 (stmt, 3),
            "running", (json_int_t) sqlite3_column_int64 (stmt, 4)));
    sqlite3_finalize (stmt);
    return list;
}

int
wb_store_compute_set_max (wb_store_t *self, const char *name, int max_jobs, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self, "UPDATE compute SET max_jobs = ? WHERE name = ?", err);
    if (!stmt)
        return -1;
    if (max_jobs > 0)
        sqlite3_bind_int (stmt, 1, max_jobs);
    sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "updating a compute target");
    if (rc == 0 && sqlite3_changes (self->db) == 0)
        rc = wb_error_set (err, "no compute target named '%s' (see %%compute)", name);
    sqlite3_finalize (stmt);
    return rc;
}

//  ---- Snapshots ----

int
wb_store_snapshot_record (wb_store_t *self, const char *manifest, json_t *hashes,
                          wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    sqlite3_stmt *stmt = s_prepare (self, "INSERT OR IGNORE INTO snapshot_files"
                                          " (snapshot, hash) VALUES (?, ?)", err);
    int rc = stmt? 0: -1;
    size_t index;
    json_t *hash;
    json_array_foreach (hashes, index, hash) {
        if (rc)
            break;
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, manifest, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, json_string_value (hash), -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = s_sql_error (self, err, "recording a snapshot");
    }
    sqlite3_finalize (stmt);
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    return 0;
}

bool
wb_store_hash_cached (wb_store_t *self, const char *file, int64_t size, double mtime,
                      char *hash)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT hash FROM file_hashes"
                                          " WHERE path = ? AND size = ? AND mtime = ?", NULL);
    if (!stmt)
        return false;
    sqlite3_bind_text (stmt, 1, file, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, size);
    sqlite3_bind_double (stmt, 3, mtime);
    bool found = sqlite3_step (stmt) == SQLITE_ROW;
    if (found)
        snprintf (hash, 65, "%s", (const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    return found;
}

void
wb_store_hash_remember (wb_store_t *self, const char *file, int64_t size, double mtime,
                        const char *hash)
{
    sqlite3_stmt *stmt = s_prepare (self, "INSERT INTO file_hashes (path, size, mtime, hash)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
        " mtime = excluded.mtime, hash = excluded.hash", NULL);
    if (!stmt)
        return;
    sqlite3_bind_text (stmt, 1, file, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, size);
    sqlite3_bind_double (stmt, 3, mtime);
    sqlite3_bind_text (stmt, 4, hash, -1, SQLITE_STATIC);
    sqlite3_step (stmt);
    sqlite3_finalize (stmt);
}

//  ---- Lineage ----

int
wb_store_lineage (wb_store_t *self, const char *id, const char *direction,
                  const char *kind, const char *name, int64_t version, wb_error_t *err)
{
    assert (streq (direction, "input") || streq (direction, "output"));
    int64_t seq = s_run_seq (self, id, err);
    if (seq < 0)
        return -1;
    sqlite3_stmt *stmt = s_prepare (self, "INSERT OR IGNORE INTO lineage"
        " (run, direction, kind, name, version) VALUES (?, ?, ?, ?, ?)", err);
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, seq);
    sqlite3_bind_text (stmt, 2, direction, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, version);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (self, err, "recording lineage");
    sqlite3_finalize (stmt);
    return rc;
}

//  ---- Datasets ----

//  The columns of a dataset version, in the order s_dataset_json reads them
#define S_DATASET_COLUMNS \
    "name, version, hash, size, row_count, col_count, description, source, created"

//  A dataset version from a row of S_DATASET_COLUMNS (then, when full,
//  schema and profile): a new JSON object
static json_t *
s_dataset_json (sqlite3_stmt *stmt, bool full)
{
    json_t *record = json_pack ("{s:o, s:I, s:o, s:I, s:I, s:I, s:o, s:o, s:f}",
        "name", s_column_json (stmt, 0),
        "version", (json_int_t) sqlite3_column_int64 (stmt, 1),
        "hash", s_column_json (stmt, 2),
        "size", (json_int_t) sqlite3_column_int64 (stmt, 3),
        "rows", (json_int_t) sqlite3_column_int64 (stmt, 4),
        "cols", (json_int_t) sqlite3_column_int64 (stmt, 5),
        "description", s_column_json (stmt, 6),
        "source", s_column_json (stmt, 7),
        "created", sqlite3_column_double (stmt, 8));
    if (full) {
        const char *names [] = { "schema", "profile" };
        for (int i = 0; i < 2; i++) {
            const char *text = (const char *) sqlite3_column_text (stmt, 9 + i);
            json_t *value = text? json_loads (text, 0, NULL): NULL;
            json_object_set_new (record, names [i], value? value: json_array ());
        }
    }
    return record;
}

int64_t
wb_store_dataset_find (wb_store_t *self, const char *name, const char *hash, wb_error_t *err)
{
    assert (name && hash);
    sqlite3_stmt *stmt = s_prepare (self, "SELECT version FROM datasets"
                                          " WHERE name = ? AND hash = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int64_t version = rc == SQLITE_ROW? sqlite3_column_int64 (stmt, 0): 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        version = s_sql_error (self, err, "looking up a dataset");
    sqlite3_finalize (stmt);
    return version;
}

int64_t
wb_store_dataset_add (wb_store_t *self, const wb_dataset_spec_t *spec, bool *created,
                      wb_error_t *err)
{
    assert (spec && spec->name && spec->hash && spec->schema && spec->profile);
    if (created)
        *created = false;
    //  One write transaction: the check for the same content and the next
    //  version number cannot race with another process registering
    if (wb_store_begin (self, err))
        return -1;
    int64_t version = wb_store_dataset_find (self, spec->name, spec->hash, err);
    if (version != 0) {
        wb_store_rollback (self);
        return version;         //  the same content is there already (or -1)
    }
    sqlite3_stmt *stmt = s_prepare (self, "SELECT coalesce (max (version), 0) + 1"
                                          " FROM datasets WHERE name = ?", err);
    if (stmt) {
        sqlite3_bind_text (stmt, 1, spec->name, -1, SQLITE_STATIC);
        version = sqlite3_step (stmt) == SQLITE_ROW? sqlite3_column_int64 (stmt, 0): -1;
        sqlite3_finalize (stmt);
        stmt = version < 0? NULL: s_prepare (self, "INSERT INTO datasets (name, version,"
            " hash, size, row_count, col_count, schema, profile, description, source, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
    }
    int rc = stmt? 0: -1;
    if (stmt) {
        char *schema = json_dumps (spec->schema, JSON_COMPACT);
        char *profile = json_dumps (spec->profile, JSON_COMPACT);
        sqlite3_bind_text (stmt, 1, spec->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, version);
        sqlite3_bind_text (stmt, 3, spec->hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, spec->size);
        sqlite3_bind_int64 (stmt, 5, spec->rows);
        sqlite3_bind_int64 (stmt, 6, spec->cols);
        sqlite3_bind_text (stmt, 7, schema, -1, free);
        sqlite3_bind_text (stmt, 8, profile, -1, free);
        char *copy;
        sqlite3_bind_text (stmt, 9, s_valid (spec->description, &copy), -1, SQLITE_TRANSIENT);
        free (copy);
        sqlite3_bind_text (stmt, 10, s_valid (spec->source, &copy), -1, SQLITE_TRANSIENT);
        free (copy);
        sqlite3_bind_double (stmt, 11, wb_time_now ());
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = s_sql_error (self, err, "registering a dataset");
        sqlite3_finalize (stmt);
    }
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s, s:I, s:s, s:I, s:I, s:I, s:o?}",
            "name", spec->name, "version", (json_int_t) version, "hash", spec->hash,
            "size", (json_int_t) spec->size, "rows", (json_int_t) spec->rows,
            "cols", (json_int_t) spec->cols, "source",
            spec->source? wb_utf8_json (spec->source, strlen (spec->source)): NULL);
        rc = s_event (self, "dataset.register", spec->name, detail, err);
        json_decref (detail);
    }
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    if (created)
        *created = true;
    return version;
}

json_t *
wb_store_dataset_get (wb_store_t *self, const char *name, int64_t version, wb_error_t *err)
{
    assert (name && version >= 0);
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT " S_DATASET_COLUMNS ", schema, profile,"
        " (SELECT count (*) FROM datasets WHERE name = ?1)"
        " FROM datasets WHERE name = ?1 AND (?2 = 0 OR version = ?2)"
        " ORDER BY version DESC LIMIT 1", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, version);
    json_t *record = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        record = s_dataset_json (stmt, true);
        json_object_set_new (record, "versions", json_integer (sqlite3_column_int64 (stmt, 11)));
    }
    else
    if (version)
        wb_error_set (err, "dataset '%s' has no version %lld", name, (long long) version);
    else
        wb_error_set (err, "no dataset named '%s'", name);
    sqlite3_finalize (stmt);
    return record;
}

json_t *
wb_store_datasets (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT " S_DATASET_COLUMNS ", versions FROM datasets"
        " JOIN (SELECT name AS latest_name, max (version) AS latest, count (*) AS versions"
        "       FROM datasets GROUP BY name)"
        " ON latest_name = name AND latest = version ORDER BY name", err);
    if (!stmt)
        return NULL;
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        json_t *record = s_dataset_json (stmt, false);
        json_object_set_new (record, "versions", json_integer (sqlite3_column_int64 (stmt, 9)));
        json_array_append_new (list, record);
    }
    sqlite3_finalize (stmt);
    return list;
}

json_t *
wb_store_dataset_versions (wb_store_t *self, const char *name, wb_error_t *err)
{
    assert (name);
    sqlite3_stmt *stmt = s_prepare (self, "SELECT " S_DATASET_COLUMNS " FROM datasets"
                                          " WHERE name = ? ORDER BY version", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, s_dataset_json (stmt, false));
    sqlite3_finalize (stmt);
    return list;
}

//  ---- Summary ----

static int64_t
s_folder_size (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    int64_t total = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char *full = wb_sprintf ("%s/%s", path, entry->d_name);
        struct stat info;
        if (lstat (full, &info) == 0)
            total += S_ISDIR (info.st_mode)? s_folder_size (full): (int64_t) info.st_size;
        free (full);
    }
    closedir (dir);
    return total;
}

json_t *
wb_store_summary (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT (SELECT count (*) FROM experiments), (SELECT count (*) FROM runs),"
        " (SELECT coalesce (sum (count), 0) FROM metric_latest),"
        " (SELECT count (*) FROM artifacts), (SELECT count (DISTINCT hash) FROM artifacts)", err);
    if (!stmt)
        return NULL;
    json_t *summary = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        summary = json_pack ("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
            "path", self->path,
            "experiments", (json_int_t) sqlite3_column_int64 (stmt, 0),
            "runs", (json_int_t) sqlite3_column_int64 (stmt, 1),
            "metric_points", (json_int_t) sqlite3_column_int64 (stmt, 2),
            "artifacts", (json_int_t) sqlite3_column_int64 (stmt, 3),
            "artifact_files", (json_int_t) sqlite3_column_int64 (stmt, 4),
            "size", (json_int_t) s_folder_size (self->path),
            "schema", s_schema_version (self));
    sqlite3_finalize (stmt);
    json_t *by_status = json_object ();
    stmt = s_prepare (self, "SELECT status, count (*) FROM runs GROUP BY status ORDER BY status", NULL);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        s_set_column_key (by_status, stmt, 0,
                             json_integer (sqlite3_column_int64 (stmt, 1)));
    sqlite3_finalize (stmt);
    if (summary)
        json_object_set_new (summary, "by_status", by_status);
    else
        json_decref (by_status);
    return summary;
}

//  @selftest
#include <signal.h>
#include <sys/wait.h>

static void
s_test_writer (const char *path, const char *id, int index)
{
    //  One of several processes logging at once: 10,000 points in batches
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, false, &err);
    if (!store)
        _exit (2);
    char key [32];
    snprintf (key, sizeof (key), "writer%d", index);
    wb_metric_t batch [10];
    for (int step = 0; step < 10000; step += 10) {
        for (int i = 0; i < 10; i++)
            batch [i] = (wb_metric_t) { key, step + i, (double) (step + i), 0 };
        if (wb_store_log (store, id, batch, 10, &err)) {
            fprintf (stderr, "writer %d: %s\n", index, err.text);
            _exit (3);
        }
    }
    wb_store_destroy (&store);
    _exit (0);
}

void
wb_store_test (bool verbose)
{
    wb_error_t err;
    char scratch [] = "/tmp/wb-store-XXXXXX";
    assert (mkdtemp (scratch));
    char path [64];             //  on the stack: forked writers inherit no heap
    snprintf (path, sizeof (path), "%s/ws", scratch);

    //  Discovery: nothing above the scratch folder... unless the variable says
    unsetenv ("WORKBENCH_WORKSPACE");
    char *sub = wb_sprintf ("%s/a/b", scratch);
    char *cmd = wb_sprintf ("mkdir -p '%s' '%s/a/.workbench'", sub, scratch);
    assert (system (cmd) == 0);
    free (cmd);
    char *found = wb_store_locate (sub);
    char *expected = wb_sprintf ("%s/a/.workbench", scratch);
    char *real_expected = realpath (scratch, NULL);
    assert (strstr (found, "/a/.workbench") && wb_starts_with (found, real_expected));
    free (found);
    free (expected);
    free (real_expected);
    setenv ("WORKBENCH_WORKSPACE", path, 1);
    found = wb_store_locate (sub);
    assert (streq (found, path));
    free (found);
    unsetenv ("WORKBENCH_WORKSPACE");
    free (sub);

    //  Opening a missing workspace without create fails and says how
    assert (!wb_store_open (path, false, &err));
    assert (strstr (err.text, "no workspace"));

    //  Migration: a workspace at schema 1 with data is upgraded in place
    wb_store_t *store = s_open (path, true, 1, &err);
    assert (store);
    assert (s_schema_version (store) == 1);
    char id [9];
    wb_run_spec_t spec = { "Old", "legacy", NULL, "completed", NULL, NULL, NULL, 0 };
    //  (schema 1 has no lineage table, so create the run by SQL as it was)
    assert (s_exec (store, "INSERT INTO experiments (name, created) VALUES ('Old', 1);"
        "INSERT INTO runs (id, experiment_id, name, status, created) VALUES ('0ld0ld00', 1, 'legacy', 'completed', 1)",
        NULL) == 0);
    wb_store_destroy (&store);
    store = wb_store_open (path, false, &err);
    assert (store);
    assert (s_schema_version (store) == WB_STORE_SCHEMA);
    json_t *run = wb_store_run_get (store, "0ld0ld00", &err);
    assert (run && streq (json_string_value (json_object_get (run, "name")), "legacy"));
    assert (json_array_size (json_object_get (run, "lineage")) == 0);
    json_decref (run);
    (void) spec;

    //  A newer schema is refused, nothing changed
    assert (s_exec (store, "UPDATE meta SET value = '99' WHERE key = 'schema'", NULL) == 0);
    wb_store_t *newer = wb_store_open (path, false, &err);
    assert (!newer && strstr (err.text, "newer"));
    char *restore = wb_sprintf ("UPDATE meta SET value = '%d' WHERE key = 'schema'", WB_STORE_SCHEMA);
    assert (s_exec (store, restore, NULL) == 0);
    free (restore);

    //  Runs: create, resolve by prefix and name, transitions
    wb_run_spec_t first = { "Default", NULL, NULL, NULL, NULL, "local", "python3 train.py", getpid () };
    assert (wb_store_run_create (store, &first, id, &err) == 0);
    assert (strlen (id) == 8);
    char *resolved = wb_store_run_resolve (store, id, &err);
    assert (resolved && streq (resolved, id));
    free (resolved);
    char prefix [5];
    memcpy (prefix, id, 4);
    prefix [4] = 0;
    resolved = wb_store_run_resolve (store, prefix, &err);
    assert (resolved && streq (resolved, id));
    free (resolved);
    assert (!wb_store_run_resolve (store, "zz-nothing", &err));
    assert (strstr (err.text, "no run"));
    assert (!wb_store_run_resolve (store, "ab", &err));
    run = wb_store_run_get (store, id, &err);
    const char *name = json_string_value (json_object_get (run, "name"));
    assert (name && strchr (name, '-'));
    resolved = wb_store_run_resolve (store, name, &err);
    assert (resolved && streq (resolved, id));
    free (resolved);
    assert (streq (json_string_value (json_object_get (run, "status")), "running"));
    json_decref (run);

    //  Params are set once; tags change
    json_t *values = json_pack ("{s:s, s:f, s:i}", "model", "mlp", "lr", 0.01, "layers", 2);
    assert (wb_store_params (store, id, values, &err) == 0);
    assert (wb_store_params (store, id, values, &err) == 0);    //  same values: fine
    json_decref (values);
    values = json_pack ("{s:s}", "model", "linear");
    assert (wb_store_params (store, id, values, &err) == -1);
    assert (strstr (err.text, "param 'model'") && strstr (err.text, "'mlp'"));
    json_decref (values);
    values = json_pack ("{s:s}", "note", "<script>x</script>");
    assert (wb_store_tags (store, id, values, &err) == 0);
    json_decref (values);

    //  Metrics: batches, implicit steps, latest/min/max/count, history order
    wb_metric_t points [] = {
        { "loss", 0, 1.0, 0 }, { "acc", 0, 0.5, 0 }, { "loss", 1, 0.5, 0 },
        { "loss", 2, 0.25, 0 }, { "acc", 1, 0.75, 0 }
    };
    assert (wb_store_log (store, id, points, 5, &err) == 0);
    wb_metric_t more [] = { { "loss", -1, 0.125, 0 }, { "acc", 5, NAN, 0 } };
    assert (wb_store_log (store, id, more, 2, &err) == 0);
    wb_metric_t late [] = { { "loss", 1, 0.4, 0 } };     //  out of order
    assert (wb_store_log (store, id, late, 1, &err) == 0);
    wb_metric_t bad [] = { { "", 0, 1, 0 } };
    assert (wb_store_log (store, id, bad, 1, &err) == -1);
    run = wb_store_run_get (store, id, &err);
    json_t *loss = json_object_get (json_object_get (run, "metrics"), "loss");
    assert (json_real_value (json_object_get (loss, "value")) == 0.125);
    assert (json_integer_value (json_object_get (loss, "step")) == 3);
    assert (json_real_value (json_object_get (loss, "min")) == 0.125);
    assert (json_real_value (json_object_get (loss, "max")) == 1.0);
    assert (json_integer_value (json_object_get (loss, "count")) == 5);
    json_t *acc = json_object_get (json_object_get (run, "metrics"), "acc");
    assert (json_is_null (json_object_get (acc, "value")));     //  NaN latest
    assert (json_real_value (json_object_get (acc, "max")) == 0.75);
    json_decref (run);
    double *steps, *history;
    size_t count;
    assert (wb_store_history (store, id, "loss", &steps, &history, NULL, &count, &err) == 0);
    assert (count == 5);
    double want_steps [] = { 0, 1, 1, 2, 3 };
    double want_values [] = { 1.0, 0.5, 0.4, 0.25, 0.125 };
    for (size_t i = 0; i < count; i++)
        assert (steps [i] == want_steps [i] && history [i] == want_values [i]);
    free (steps);
    free (history);
    json_t *keys = wb_store_metric_keys (store, id);
    assert (json_array_size (keys) == 2);
    json_decref (keys);

    //  Status transitions
    assert (wb_store_run_status (store, id, "queued", NULL, &err) == -1);
    assert (strstr (err.text, "cannot become queued"));
    assert (wb_store_run_status (store, id, "sleeping", NULL, &err) == -1);
    assert (wb_store_run_status (store, id, "completed", NULL, &err) == 0);
    assert (wb_store_run_status (store, id, "running", NULL, &err) == -1);
    assert (wb_store_status_final ("completed") && wb_store_status_final ("canceled")
            && !wb_store_status_final ("cancel_requested") && !wb_store_status_final (NULL));

    //  Owners and reopening: a run that ended goes back to queued
    {
        char again [9];
        wb_run_spec_t spec_again = { NULL, "again", "sweep", NULL, NULL, NULL, NULL, 0 };
        assert (wb_store_run_create (store, &spec_again, again, &err) == 0);
        assert (!wb_store_run_owner_alive (store, again));
        assert (wb_store_run_set_owner (store, again, getpid (), &err) == 0);
        assert (wb_store_run_owner_alive (store, again));
        pid_t child = fork ();
        if (child == 0)
            _exit (0);
        waitpid (child, NULL, 0);
        assert (wb_store_run_set_owner (store, again, child, &err) == 0);
        assert (!wb_store_run_owner_alive (store, again));
        assert (wb_store_run_reopen (store, again, &err) == -1);
        assert (strstr (err.text, "only a run that ended"));
        assert (wb_store_run_status (store, again, "canceled", "stopped", &err) == 0);
        assert (wb_store_run_reopen (store, again, &err) == 0);
        json_t *reopened = wb_store_run_get (store, again, &err);
        assert (streq (json_string_value (json_object_get (reopened, "status")), "queued"));
        assert (json_is_null (json_object_get (reopened, "ended"))
                || !json_object_get (reopened, "ended"));
        assert (!json_is_string (json_object_get (reopened, "error")));
        json_decref (reopened);
        assert (!wb_store_run_owner_alive (store, again));
        json_t *events = wb_store_events (store, again, 0, &err);
        json_t *last = json_array_get (events, json_array_size (events) - 1);
        assert (streq (json_string_value (json_object_get (last, "action")), "run.reopen"));
        json_decref (events);
        assert (wb_store_run_delete (store, again, &err) == 0);
    }

    //  Artifacts: the same content is stored once; delete collects it
    char id2 [9];
    wb_run_spec_t second = { "Other", "second", NULL, NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &second, id2, &err) == 0);
    assert (wb_store_artifact_data (store, id, "model.json", "{\"w\": 1}", 8, &err) == 0);
    assert (wb_store_artifact_data (store, id2, "copy.json", "{\"w\": 1}", 8, &err) == 0);
    assert (wb_store_artifact_data (store, id2, "only.txt", "mine", 4, &err) == 0);
    assert (wb_store_artifact_data (store, id2, "../escape", "x", 1, &err) == -1);
    {
        json_t *holder = wb_store_run_get (store, id2, &err);
        size_t read_size;
        char *content = wb_store_artifact_read (store, holder, "only.txt", &read_size);
        assert (content && read_size == 4 && streq (content, "mine"));
        free (content);
        assert (wb_store_artifact_read (store, holder, "absent.txt", NULL) == NULL);
        json_decref (holder);
    }
    run = wb_store_run_get (store, id2, &err);
    const char *shared = json_string_value (json_object_get (json_array_get (json_object_get (run, "artifacts"), 0), "hash"));
    const char *own = json_string_value (json_object_get (json_array_get (json_object_get (run, "artifacts"), 1), "hash"));
    char *shared_path = wb_store_blob_path (store, shared);
    char *own_path = wb_store_blob_path (store, own);
    json_decref (run);
    assert (access (shared_path, F_OK) == 0 && access (own_path, F_OK) == 0);
    json_t *summary = wb_store_summary (store, &err);
    assert (json_integer_value (json_object_get (summary, "artifacts")) == 3);
    assert (json_integer_value (json_object_get (summary, "artifact_files")) == 2);
    json_decref (summary);
    assert (wb_store_run_delete (store, id2, &err) == 0);
    assert (access (shared_path, F_OK) == 0);       //  still used by the first run
    assert (access (own_path, F_OK) != 0);          //  collected
    free (shared_path);
    free (own_path);
    assert (!wb_store_run_resolve (store, "second", &err));

    //  Filtered listing
    json_t *runs = wb_store_runs (store, NULL, "params.model = 'mlp' and metrics.loss < 0.2", NULL, 0, &err);
    assert (runs && json_array_size (runs) == 1);
    assert (streq (json_string_value (json_object_get (json_array_get (runs, 0), "id")), id));
    json_decref (runs);
    runs = wb_store_runs (store, "Old", NULL, NULL, 0, &err);
    assert (json_array_size (runs) == 1);
    json_decref (runs);
    assert (!wb_store_runs (store, NULL, "metrics.loss <", NULL, 0, &err));

    //  Events recorded the story
    json_t *events = wb_store_events (store, id, 0, &err);
    assert (json_array_size (events) >= 3);
    assert (streq (json_string_value (json_object_get (json_array_get (events, 0), "action")), "run.create"));
    json_decref (events);

    //  Zombies: a run owned by a process that died is failed on open
    char zombie [9];
    wb_store_destroy (&store);
    pid_t child = fork ();
    if (child == 0)
        _exit (0);
    waitpid (child, NULL, 0);
    store = wb_store_open (path, false, &err);
    wb_run_spec_t orphan = { NULL, "orphan", "job", NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &orphan, zombie, &err) == 0);
    assert (s_exec (store, "UPDATE runs SET owner_pid = 999999999, owner_host = (SELECT owner_host FROM runs WHERE owner_host IS NOT NULL LIMIT 1) WHERE name = 'orphan'", NULL) == 0);
    wb_store_destroy (&store);
    store = wb_store_open (path, false, &err);
    run = wb_store_run_get (store, zombie, &err);
    assert (streq (json_string_value (json_object_get (run, "status")), "failed"));
    assert (strstr (json_string_value (json_object_get (run, "error")), "is gone"));
    json_decref (run);

    //  Crash safety: SIGKILL while logging loses nothing committed
    char victim [9];
    int progress [2];
    assert (pipe (progress) == 0);
    child = fork ();
    if (child == 0) {
        close (progress [0]);
        wb_store_t *mine = wb_store_open (path, false, NULL);
        wb_run_spec_t doomed = { NULL, "doomed", NULL, NULL, NULL, NULL, NULL, getpid () };
        char doomed_id [9];
        if (!mine || wb_store_run_create (mine, &doomed, doomed_id, NULL))
            _exit (2);
        if (write (progress [1], doomed_id, 8) != 8)
            _exit (2);
        for (int64_t batch = 0; ; batch++) {
            wb_metric_t row [100];
            for (int i = 0; i < 100; i++)
                row [i] = (wb_metric_t) { "x", batch * 100 + i, (double) i, 0 };
            if (wb_store_log (mine, doomed_id, row, 100, NULL))
                _exit (3);
            if (write (progress [1], &batch, sizeof (batch)) != sizeof (batch))
                _exit (3);
        }
    }
    close (progress [1]);
    assert (read (progress [0], victim, 8) == 8);
    victim [8] = 0;
    int64_t committed = -1, batch;
    double until = wb_time_mono () + 0.3;
    while (wb_time_mono () < until && read (progress [0], &batch, sizeof (batch)) == sizeof (batch))
        committed = batch;
    kill (child, SIGKILL);
    waitpid (child, NULL, 0);
    while (read (progress [0], &batch, sizeof (batch)) == sizeof (batch))
        committed = batch;
    close (progress [0]);
    assert (committed >= 0);
    wb_store_destroy (&store);
    store = wb_store_open (path, false, &err);
    run = wb_store_run_get (store, victim, &err);
    assert (streq (json_string_value (json_object_get (run, "status")), "failed"));
    json_int_t points_kept = json_integer_value (json_object_get (
        json_object_get (json_object_get (run, "metrics"), "x"), "count"));
    assert (points_kept >= (committed + 1) * 100);
    json_decref (run);
    sqlite3_stmt *check = s_prepare (store, "PRAGMA integrity_check", NULL);
    assert (sqlite3_step (check) == SQLITE_ROW);
    assert (streq ((const char *) sqlite3_column_text (check, 0), "ok"));
    sqlite3_finalize (check);
    if (verbose)
        printf ("crash: %lld points kept after SIGKILL\n", (long long) points_kept);

    //  Concurrency: 8 processes x 10,000 points, no row lost, no "locked"
    char shared_run [9];
    wb_run_spec_t target = { NULL, "shared", NULL, NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &target, shared_run, &err) == 0);
    //  The writers open their own connection: none is inherited (a forked
    //  SQLite connection must not be used, and leak checkers see it lost)
    wb_store_destroy (&store);
    pid_t writers [8];
    for (int i = 0; i < 8; i++)
        if ((writers [i] = fork ()) == 0)
            s_test_writer (path, shared_run, i);
    for (int i = 0; i < 8; i++) {
        int status;
        waitpid (writers [i], &status, 0);
        assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    store = wb_store_open (path, false, &err);
    assert (store);
    for (int i = 0; i < 8; i++) {
        char key [32];
        snprintf (key, sizeof (key), "writer%d", i);
        assert (wb_store_history (store, shared_run, key, &steps, NULL, NULL, &count, &err) == 0);
        assert (count == 10000);
        for (size_t j = 0; j < count; j++)
            assert (steps [j] == (double) j);
        free (steps);
    }
    wb_store_destroy (&store);
    assert (store == NULL);

    //  Texts from outside are stored as valid UTF-8, and a workspace that
    //  holds bad bytes from before is read without failing
#   define FFFD "\xef\xbf\xbd"
    store = wb_store_open (path, false, &err);
    assert (store);
    char bad_id [9];
    wb_run_spec_t bad_spec = { "exp\xe9", "caf\xe9", "job", "running", NULL, "local",
                          "cat caf\xe9.txt", 0 };
    assert (wb_store_run_create (store, &bad_spec, bad_id, &err) == 0);
    assert (wb_store_artifact_data (store, bad_id, "out/caf\xe9.txt", "x", 1, &err) == 0);
    assert (wb_store_run_set (store, bad_id, "snapshot", "s\xff", &err) == 0);
    //  an error tail cut inside a character
    assert (wb_store_run_status (store, bad_id, "failed", "exit status 1: \xc3\xa9\xc3", &err) == 0);
    wb_metric_t bad_point = { "loss\xff", 0, 1.0, 1.0 };
    assert (wb_store_log (store, bad_id, &bad_point, 1, &err) == -1);
    assert (strstr (err.text, "UTF-8"));
    json_t *bad_run = wb_store_run_get (store, bad_id, &err);
    assert (bad_run);
    assert (streq (json_string_value (json_object_get (bad_run, "name")), "caf" FFFD));
    assert (streq (json_string_value (json_object_get (bad_run, "experiment")), "exp" FFFD));
    assert (streq (json_string_value (json_object_get (bad_run, "command")), "cat caf" FFFD ".txt"));
    assert (streq (json_string_value (json_object_get (bad_run, "snapshot")), "s" FFFD));
    assert (streq (json_string_value (json_object_get (bad_run, "error")),
                   "exit status 1: \xc3\xa9" FFFD));
    assert (streq (json_string_value (json_object_get (json_array_get (
        json_object_get (bad_run, "artifacts"), 0), "path")), "out/caf" FFFD ".txt"));
    json_decref (bad_run);
    json_t *bad_events = wb_store_events (store, bad_id, 0, &err);
    json_t *last = json_array_get (bad_events, json_array_size (bad_events) - 1);
    assert (streq (json_string_value (json_object_get (json_object_get (last, "detail"), "error")),
                   "exit status 1: \xc3\xa9" FFFD));
    json_decref (bad_events);
    //  Bad bytes written by an older build: every reader copes
    char *raw = wb_sprintf ("UPDATE runs SET name = 'old' || char (233) || x'ff', error = x'41ff42'"
                            " WHERE id = '%s';"
                            "INSERT INTO params (run, key, value) SELECT seq, 'k' || x'ff', x'ff'"
                            " FROM runs WHERE id = '%s';"
                            "INSERT INTO tags (run, key, value) SELECT seq, 'note', 'caf' || x'e9'"
                            " FROM runs WHERE id = '%s'", bad_id, bad_id, bad_id);
    assert (s_exec (store, raw, &err) == 0);
    free (raw);
    bad_run = wb_store_run_get (store, bad_id, &err);
    assert (bad_run);
    assert (streq (json_string_value (json_object_get (bad_run, "name")), "old\xc3\xa9" FFFD));
    assert (streq (json_string_value (json_object_get (bad_run, "error")), "A" FFFD "B"));
    assert (streq (json_string_value (json_object_get (json_object_get (bad_run, "params"),
                                      "k" FFFD)), FFFD));
    assert (streq (json_string_value (json_object_get (json_object_get (bad_run, "tags"),
                                      "note")), "caf" FFFD));
    json_decref (bad_run);
    json_t *listed = wb_store_runs (store, NULL, NULL, NULL, 0, &err);
    assert (listed && json_array_size (listed) > 0);
    json_decref (listed);
    json_t *ids = wb_store_run_ids (store);
    assert (json_array_size (ids) > 0);
    json_decref (ids);
    json_t *experiments = wb_store_experiments (store, &err);
    assert (experiments && json_array_size (experiments) > 0);
    json_decref (experiments);
    wb_store_destroy (&store);
#   undef FFFD

    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
}
//  @end
