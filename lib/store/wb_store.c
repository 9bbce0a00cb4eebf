/*  wb_store - the workspace: one folder holding workspace.db (SQLite, WAL)
    and artifacts/ (files by content hash)

    One wb_store_t owns one sqlite3 connection; the SQL of the workspace's
    core tables lives in wb_store*.c, one part each (see wb_store_int.h).
    This part opens a workspace, runs transactions and holds the helpers
    every part uses: statements, columns as JSON, texts made valid UTF-8,
    run ids and the event log. Writes use BEGIN IMMEDIATE so that
    concurrent writers wait on the busy timeout instead of failing.
*/
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_store_int.h"
#include "base/wb_fs.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_BUSY_TIMEOUT  30000   //  ms a writer waits for another

//  ---- SQL helpers ----

int
wb_store__sql_error (wb_store_t *self, wb_error_t *err, const char *what)
{
    return wb_error_set (err, "workspace %s: %s failed: %s", self->path, what,
                         sqlite3_errmsg (self->db));
}

int
wb_store__exec (wb_store_t *self, const char *sql, wb_error_t *err)
{
    char *message = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        wb_error_set (err, "workspace %s: %s", self->path, message? message: "SQL failed");
        sqlite3_free (message);
        return -1;
    }
    return 0;
}

sqlite3_stmt *
wb_store__prepare (wb_store_t *self, const char *sql, wb_error_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        wb_store__sql_error (self, err, "a query");
        return NULL;
    }
    return stmt;
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

//  mkdir -p: folders above the workspace that are missing are made as
//  ordinary ones (0755; a failure shows in the mkdir that follows), the
//  workspace folder itself is its owner's only (0700)
static int
s_mkdir (const char *path, wb_error_t *err)
{
    char *parent = wb_strdup (path);
    char *slash = strrchr (parent, '/');
    if (slash && slash > parent) {
        *slash = 0;
        wb_fs_mkdirs (parent, 0755);
    }
    free (parent);
    if (mkdir (path, 0700) && errno != EEXIST)
        return wb_error_set (err, "cannot create workspace folder '%s': %s", path, strerror (errno));
    return 0;
}

wb_store_t *
wb_store__open (const char *path, bool create, int target, wb_error_t *err)
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
    if (wb_store__exec (self, "PRAGMA journal_mode = WAL", err)
    ||  wb_store__exec (self, "PRAGMA synchronous = NORMAL", err)
    ||  wb_store__exec (self, "PRAGMA foreign_keys = ON", err))
        goto fail;
    if (wb_store__migrate (self, target, err))
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
    wb_store_t *self = wb_store__open (path, create, wb_store__schema_latest (), err);
    if (self && wb_store_reap (self, err) < 0)
        wb_store_destroy (&self);
    return self;
}

wb_store_t *
wb_store_open_readonly (const char *path, wb_error_t *err)
{
    char *db_path = wb_sprintf ("%s/workspace.db", path);
    wb_store_t *self = wb_calloc (1, sizeof (wb_store_t));
    self->path = wb_strdup (path);
    self->artifacts = wb_sprintf ("%s/artifacts", path);
    if (gethostname (self->host, sizeof (self->host) - 1))
        strcpy (self->host, "localhost");
    if (sqlite3_open_v2 (db_path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                         NULL) != SQLITE_OK) {
        wb_error_set (err, "cannot open workspace database '%s': %s", db_path,
                      self->db? sqlite3_errmsg (self->db): "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout (self->db, S_BUSY_TIMEOUT);
    //  Only a workspace of this schema is read: an older one is upgraded by
    //  whoever opens it to write, never here
    int version = wb_store__schema_version (self);
    if (version != wb_store__schema_latest ()) {
        wb_error_set (err, "workspace %s has schema %d, not %d: open it with %%workspace "
                      "to upgrade it", path, version, wb_store__schema_latest ());
        goto fail;
    }
    free (db_path);
    return self;
fail:
    free (db_path);
    wb_store_destroy (&self);
    return NULL;
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
    return wb_store__exec (self, "BEGIN IMMEDIATE", err);
}

int
wb_store_commit (wb_store_t *self, wb_error_t *err)
{
    return wb_store__exec (self, "COMMIT", err);
}

void
wb_store_rollback (wb_store_t *self)
{
    if (!sqlite3_get_autocommit (self->db))
        wb_store__exec (self, "ROLLBACK", NULL);
}

//  ---- Small helpers ----

static const char *
s_actor (void)
{
    const char *user = getenv ("USER");
    return user && *user? user: "workbench";
}

json_t *
wb_store__column_json (sqlite3_stmt *stmt, int column)
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
//  wb_store__column_json makes values: jansson refuses an invalid key, and the
//  value would be lost without a word.
void
wb_store__set_column_key (json_t *obj, sqlite3_stmt *stmt, int column, json_t *value)
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
const char *
wb_store__valid (const char *text, char **copy_p)
{
    *copy_p = NULL;
    if (!text || wb_utf8_valid (text, strlen (text)))
        return text;
    *copy_p = wb_utf8_valid_dup (text, strlen (text));
    return *copy_p;
}

//  The seq of a run id; -1 (err) if there is none.
int64_t
wb_store__run_seq (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT seq FROM runs WHERE id = ?", err);
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

int
wb_store__event (wb_store_t *self, const char *action, const char *subject,
                 json_t *detail, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "INSERT INTO events (time, actor, action, subject, detail)"
                                                  " VALUES (?, ?, ?, ?, ?)", err);
    if (!stmt)
        return -1;
    char *text = detail? json_dumps (detail, JSON_COMPACT): NULL;
    char *actor_copy, *subject_copy;
    sqlite3_bind_double (stmt, 1, wb_time_now ());
    sqlite3_bind_text (stmt, 2, wb_store__valid (s_actor (), &actor_copy), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, wb_store__valid (subject, &subject_copy), -1, SQLITE_TRANSIENT);
    free (actor_copy);
    free (subject_copy);
    if (text)
        sqlite3_bind_text (stmt, 5, text, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "logging an event");
    sqlite3_finalize (stmt);
    free (text);
    return rc;
}

int
wb_store_event (wb_store_t *self, const char *action, const char *subject,
                json_t *detail, wb_error_t *err)
{
    return wb_store__event (self, action, subject, detail, err);
}

json_t *
wb_store_events (wb_store_t *self, const char *subject, size_t limit, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
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
            "actor", wb_store__column_json (stmt, 1),
            "action", wb_store__column_json (stmt, 2),
            "subject", wb_store__column_json (stmt, 3),
            "detail", parsed? parsed: json_null ()));
    }
    sqlite3_finalize (stmt);
    return events;
}

//  @selftest

void
wb_store__test_scratch (char *scratch, char *path, size_t size)
{
    assert (mkdtemp (scratch));
    snprintf (path, size, "%s/ws", scratch);
}

wb_store_t *
wb_store__test_open (char *scratch, char *path, size_t size, char *id)
{
    if (scratch)
        wb_store__test_scratch (scratch, path, size);
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, true, &err);
    assert (store);
    if (id) {
        wb_run_spec_t first = { "Default", NULL, NULL, NULL, NULL, "local",
                                "python3 train.py", getpid () };
        assert (wb_store_run_create (store, &first, id, &err) == 0);
    }
    return store;
}

void
wb_store__test_remove (const char *scratch)
{
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
}

void
wb_store_test (bool verbose)
{
    wb_error_t err;
    char scratch [] = "/tmp/wb-store-XXXXXX";
    char path [64];
    wb_store__test_scratch (scratch, path, sizeof (path));

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

    //  Events recorded the story
    char id [9];
    wb_store_t *store = wb_store__test_open (NULL, path, sizeof (path), id);
    assert (wb_store_artifact_data (store, id, "model.json", "{\"w\": 1}", 8, &err) == 0);
    assert (wb_store_run_status (store, id, "completed", NULL, &err) == 0);
    json_t *events = wb_store_events (store, id, 0, &err);
    assert (json_array_size (events) >= 3);
    assert (streq (json_string_value (json_object_get (json_array_get (events, 0), "action")), "run.create"));
    json_decref (events);

    //  Read only (completion): the run is there, a write is refused, and
    //  while the writer's connection is open its WAL is read too
    wb_store_t *reader = wb_store_open_readonly (path, &err);
    assert (reader);
    json_t *seen = wb_store_run_get (reader, id, &err);
    assert (seen && streq (json_string_value (json_object_get (seen, "status")), "completed"));
    json_decref (seen);
    assert (wb_store_run_status (reader, id, "failed", NULL, &err) == -1);
    wb_store_destroy (&reader);
    char *nowhere = wb_sprintf ("%s/none", scratch);
    assert (!wb_store_open_readonly (nowhere, &err));
    assert (access (nowhere, F_OK) == -1);      //  nothing was created
    free (nowhere);
    wb_store_destroy (&store);

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
    assert (wb_store__exec (store, raw, &err) == 0);
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

    wb_store__test_remove (scratch);

    wb_store_schema_test (verbose);
    wb_store_runs_test (verbose);
    wb_store_list_test (verbose);
    wb_store_metrics_test (verbose);
    wb_store_blobs_test (verbose);
}
//  @end
