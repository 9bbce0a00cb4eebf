/*  wb_registry - the model registry and the endpoint records of a workspace

    The SQL of the tables migration 5 of wb_store creates: models, model
    aliases and their history, endpoints, deployments, the request log.
    Rows come back as JSON objects whose members are the columns (JSON text
    columns parsed).
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_registry.h"
#include "base/wb_util.h"

#define S_KEY_BYTES 32          //  random bytes per endpoint key

//  ---- SQL helpers ----

static sqlite3_stmt *
s_prepare (wb_store_t *store, const char *sql, wb_error_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (wb_store_db (store), sql, -1, &stmt, NULL) != SQLITE_OK) {
        wb_error_set (err, "workspace %s: a query failed: %s", wb_store_path (store),
                      sqlite3_errmsg (wb_store_db (store)));
        return NULL;
    }
    return stmt;
}

static int
s_sql_error (wb_store_t *store, wb_error_t *err, const char *what)
{
    return wb_error_set (err, "workspace %s: %s failed: %s", wb_store_path (store), what,
                         sqlite3_errmsg (wb_store_db (store)));
}

static void
s_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, index);
}

//  Run a statement that returns no rows; finalizes it. 0 or -1.
static int
s_done (wb_store_t *store, sqlite3_stmt *stmt, const char *what, wb_error_t *err)
{
    if (!stmt)
        return -1;
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: s_sql_error (store, err, what);
    sqlite3_finalize (stmt);
    return rc;
}

//  The current row as an object; columns whose names are in json_columns
//  (a space-separated list) are parsed as JSON text.
static json_t *
s_row (sqlite3_stmt *stmt, const char *json_columns)
{
    json_t *row = json_object ();
    int count = sqlite3_column_count (stmt);
    for (int i = 0; i < count; i++) {
        const char *name = sqlite3_column_name (stmt, i);
        json_t *value;
        switch (sqlite3_column_type (stmt, i)) {
            case SQLITE_INTEGER:
                value = json_integer (sqlite3_column_int64 (stmt, i));
                break;
            case SQLITE_FLOAT:
                value = json_real (sqlite3_column_double (stmt, i));
                break;
            case SQLITE_NULL:
                value = json_null ();
                break;
            default: {
                const char *text = (const char *) sqlite3_column_text (stmt, i);
                value = NULL;
                size_t size = strlen (name);
                const char *hit = json_columns? strstr (json_columns, name): NULL;
                if (hit && (hit == json_columns || hit [-1] == ' ')
                && (hit [size] == 0 || hit [size] == ' '))
                    value = json_loads (text, JSON_DECODE_ANY, NULL);
                if (!value)
                    value = json_string (text);
            }
        }
        json_object_set_new (row, name, value);
    }
    return row;
}

//  Every row of stmt as an array; finalizes it. NULL with err.
static json_t *
s_rows (wb_store_t *store, sqlite3_stmt *stmt, const char *json_columns, wb_error_t *err)
{
    if (!stmt)
        return NULL;
    json_t *rows = json_array ();
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        json_array_append_new (rows, s_row (stmt, json_columns));
    if (rc != SQLITE_DONE) {
        s_sql_error (store, err, "reading the registry");
        json_decref (rows);
        rows = NULL;
    }
    sqlite3_finalize (stmt);
    return rows;
}

//  Names of models, aliases, endpoints and deployments: a letter or
//  digit, then letters, digits, '-', '_', '.'; at most 64 bytes.
static int
s_check_name (const char *name, const char *what, wb_error_t *err)
{
    size_t size = name? strlen (name): 0;
    bool ok = size > 0 && size <= 63 && isalnum ((unsigned char) name [0]);
    for (size_t i = 0; ok && i < size; i++)
        ok = isalnum ((unsigned char) name [i]) || strchr ("-_.", name [i]);
    if (!ok)
        return wb_error_set (err, "'%s' is not a valid %s name: use letters, digits, "
                             "'-', '_' and '.', starting with a letter or digit (at most 63)",
                             name? name: "", what);
    return 0;
}

//  ---- Models ----

int64_t
wb_registry_model_register (wb_store_t *store, const wb_model_spec_t *spec, wb_error_t *err)
{
    assert (store && spec && spec->run);
    if (s_check_name (spec->name, "model", err))
        return -1;
    const char *path = spec->path? spec->path: "outputs/model.json";
    json_t *run = wb_store_run_get (store, spec->run, err);
    if (!run)
        return -1;
    const char *hash = NULL;
    size_t index;
    json_t *artifact;
    json_array_foreach (json_object_get (run, "artifacts"), index, artifact)
        if (streq (json_string_value (json_object_get (artifact, "path")), path))
            hash = json_string_value (json_object_get (artifact, "hash"));
    if (!hash) {
        wb_error_set (err, "run %s has no artifact '%s': train a model first, or give "
                      "--path with one of its artifacts (%%artifacts %s lists them)",
                      spec->run, path, spec->run);
        json_decref (run);
        return -1;
    }
    //  What kind of model it is, when it is a Workbench model file
    char *data = wb_store_artifact_read (store, run, path, NULL);
    json_t *model = data? json_loads (data, 0, NULL): NULL;
    free (data);
    const char *format = json_string_value (json_object_get (model, "format"));
    bool ours = format && streq (format, "workbench-model");
    //  Metrics: the run's latest values; datasets: the versions it read
    json_t *metrics = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (run, "metrics"), key, value)
        json_object_set (metrics, key, json_object_get (value, "value"));
    json_t *datasets = json_array ();
    json_t *edge;
    json_array_foreach (json_object_get (run, "lineage"), index, edge)
        if (streq (json_string_value (json_object_get (edge, "direction")), "input"))
            json_array_append_new (datasets, json_pack ("{s:O, s:O}",
                "name", json_object_get (edge, "name"),
                "version", json_object_get (edge, "version")));
    char *tags = spec->tags? json_dumps (spec->tags, JSON_COMPACT | JSON_SORT_KEYS): wb_strdup ("{}");
    char *metrics_text = json_dumps (metrics, JSON_COMPACT);
    char *datasets_text = json_dumps (datasets, JSON_COMPACT);
    int64_t version = -1;
    if (wb_store_begin (store, err) == 0) {
        sqlite3_stmt *stmt = s_prepare (store,
            "INSERT INTO models (name, version, run, path, hash, kind, task, tags,"
            " description, metrics, datasets, created)"
            " SELECT ?1, coalesce (max (version), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
            " ?10, ?11 FROM models WHERE name = ?1 RETURNING version", err);
        if (stmt) {
            s_bind_text (stmt, 1, spec->name);
            s_bind_text (stmt, 2, spec->run);
            s_bind_text (stmt, 3, path);
            s_bind_text (stmt, 4, hash);
            s_bind_text (stmt, 5, ours? json_string_value (json_object_get (model, "kind")): NULL);
            s_bind_text (stmt, 6, ours? json_string_value (json_object_get (model, "task")): NULL);
            s_bind_text (stmt, 7, tags);
            s_bind_text (stmt, 8, spec->description);
            s_bind_text (stmt, 9, metrics_text);
            s_bind_text (stmt, 10, datasets_text);
            sqlite3_bind_double (stmt, 11, wb_time_now ());
            if (sqlite3_step (stmt) == SQLITE_ROW)
                version = sqlite3_column_int64 (stmt, 0);
            else
                s_sql_error (store, err, "registering the model");
            sqlite3_finalize (stmt);
        }
        json_t *detail = json_pack ("{s:s, s:I, s:s}", "name", spec->name,
                                    "version", (json_int_t) version, "path", path);
        if (version > 0
        && (wb_store_lineage (store, spec->run, "output", "model", spec->name, version, err)
        ||  wb_store_event (store, "model.register", spec->run, detail, err)
        ||  wb_store_commit (store, err)))
            version = -1;
        json_decref (detail);
        if (version < 0)
            wb_store_rollback (store);
    }
    free (tags);
    free (metrics_text);
    free (datasets_text);
    json_decref (metrics);
    json_decref (datasets);
    json_decref (model);
    json_decref (run);
    return version;
}

static const char *s_model_columns =
    "SELECT name, version, run, path, hash, kind, task, tags, description, metrics,"
    " datasets, status, created, archived FROM models";

//  The aliases pointing at each version of rows (an array of models)
static void
s_add_aliases (wb_store_t *store, json_t *rows)
{
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        json_t *aliases = json_array ();
        sqlite3_stmt *stmt = s_prepare (store,
            "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias", NULL);
        if (stmt) {
            s_bind_text (stmt, 1, json_string_value (json_object_get (row, "name")));
            sqlite3_bind_int64 (stmt, 2, json_integer_value (json_object_get (row, "version")));
            while (sqlite3_step (stmt) == SQLITE_ROW)
                json_array_append_new (aliases, json_string ((const char *) sqlite3_column_text (stmt, 0)));
            sqlite3_finalize (stmt);
        }
        json_object_set_new (row, "aliases", aliases);
    }
}

json_t *
wb_registry_model_get (wb_store_t *store, const char *ref, wb_error_t *err)
{
    assert (store && ref);
    char *name = wb_strdup (ref);
    char *colon = strchr (name, ':'), *at = strchr (name, '@');
    char *sql;
    int64_t version = 0;
    if (colon) {
        *colon = 0;
        char *end;
        version = strtoll (colon + 1, &end, 10);
        if (*end || version <= 0) {
            wb_error_set (err, "'%s' is not a model reference: use NAME, NAME:VERSION "
                          "(a whole number) or NAME@ALIAS", ref);
            free (name);
            return NULL;
        }
        sql = wb_sprintf ("%s WHERE name = ?1 AND version = ?2", s_model_columns);
    }
    else
    if (at) {
        *at = 0;
        sql = wb_sprintf ("%s WHERE name = ?1 AND version = (SELECT version FROM model_aliases"
                          " WHERE name = ?1 AND alias = ?3)", s_model_columns);
    }
    else
        sql = wb_sprintf ("%s WHERE name = ?1 AND status = 'active'"
                          " ORDER BY version DESC LIMIT 1", s_model_columns);
    sqlite3_stmt *stmt = s_prepare (store, sql, err);
    free (sql);
    if (stmt) {
        s_bind_text (stmt, 1, name);
        sqlite3_bind_int64 (stmt, 2, version);
        s_bind_text (stmt, 3, at? at + 1: NULL);
    }
    json_t *rows = s_rows (store, stmt, "tags metrics datasets", err);
    json_t *model = NULL;
    if (rows && json_array_size (rows) == 1) {
        s_add_aliases (store, rows);
        model = json_incref (json_array_get (rows, 0));
    }
    else
    if (rows) {
        json_t *any = wb_registry_model_versions (store, name, NULL);
        if (json_array_size (any) == 0)
            wb_error_set (err, "no model named '%s': %%model list shows the registered "
                          "models, %%model register NAME --run RUN adds one", name);
        else
        if (colon)
            wb_error_set (err, "model '%s' has no version %lld (it has %zu)", name,
                          (long long) version, json_array_size (any));
        else
        if (at)
            wb_error_set (err, "model '%s' has no alias '%s': set it with %%model alias "
                          "%s:VERSION %s", name, at + 1, name, at + 1);
        else
            wb_error_set (err, "every version of model '%s' is archived: name one "
                          "as %s:VERSION", name, name);
        json_decref (any);
    }
    json_decref (rows);
    free (name);
    return model;
}

json_t *
wb_registry_models (wb_store_t *store, bool archived, wb_error_t *err)
{
    char *sql = wb_sprintf (
        "SELECT m.name, m.version, m.run, m.kind, m.task, m.tags, m.description,"
        " m.metrics, m.status, m.created,"
        " (SELECT count (*) FROM models v WHERE v.name = m.name) AS versions"
        " FROM models m WHERE m.version = (SELECT max (version) FROM models v"
        " WHERE v.name = m.name%s) ORDER BY m.name",
        archived? "": " AND v.status = 'active'");
    json_t *rows = s_rows (store, s_prepare (store, sql, err), "tags metrics", err);
    free (sql);
    if (rows)
        s_add_aliases (store, rows);
    return rows;
}

json_t *
wb_registry_model_versions (wb_store_t *store, const char *name, wb_error_t *err)
{
    char *sql = wb_sprintf ("%s WHERE name = ? ORDER BY version", s_model_columns);
    sqlite3_stmt *stmt = s_prepare (store, sql, err);
    free (sql);
    if (stmt)
        s_bind_text (stmt, 1, name);
    json_t *rows = s_rows (store, stmt, "tags metrics datasets", err);
    if (rows)
        s_add_aliases (store, rows);
    return rows;
}

//  A version that exists and is not archived: 0, or -1 with err
static int
s_active_version (wb_store_t *store, const char *name, int64_t version, wb_error_t *err)
{
    char ref [160];
    snprintf (ref, sizeof (ref), "%s:%lld", name, (long long) version);
    json_t *model = wb_registry_model_get (store, ref, err);
    if (!model)
        return -1;
    bool archived = streq (json_string_value (json_object_get (model, "status")), "archived");
    json_decref (model);
    if (archived)
        return wb_error_set (err, "model %s is archived: it cannot be aliased or deployed", ref);
    return 0;
}

int
wb_registry_model_alias (wb_store_t *store, const char *name, int64_t version,
                         const char *alias, wb_error_t *err)
{
    if (s_check_name (alias, "alias", err))
        return -1;
    char *end;
    strtoll (alias, &end, 10);
    if (*end == 0)
        return wb_error_set (err, "alias '%s' is a number, which reads as a version: "
                             "choose a name such as production", alias);
    if (wb_store_begin (store, err))
        return -1;
    if (s_active_version (store, name, version, err)) {
        wb_store_rollback (store);
        return -1;
    }
    double now = wb_time_now ();
    sqlite3_stmt *stmt = s_prepare (store,
        "INSERT INTO model_alias_history (name, alias, version, previous, time)"
        " VALUES (?1, ?2, ?3, (SELECT version FROM model_aliases WHERE name = ?1"
        " AND alias = ?2), ?4)", err);
    if (stmt) {
        s_bind_text (stmt, 1, name);
        s_bind_text (stmt, 2, alias);
        sqlite3_bind_int64 (stmt, 3, version);
        sqlite3_bind_double (stmt, 4, now);
    }
    int rc = s_done (store, stmt, "recording the alias", err);
    stmt = rc? NULL: s_prepare (store,
        "INSERT INTO model_aliases (name, alias, version, time) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version,"
        " time = excluded.time", err);
    if (stmt) {
        s_bind_text (stmt, 1, name);
        s_bind_text (stmt, 2, alias);
        sqlite3_bind_int64 (stmt, 3, version);
        sqlite3_bind_double (stmt, 4, now);
    }
    json_t *detail = json_pack ("{s:s, s:I, s:s}", "name", name, "version",
                                (json_int_t) version, "alias", alias);
    rc = rc || s_done (store, stmt, "setting the alias", err)
            || wb_store_event (store, "model.alias", name, detail, err)
            || wb_store_commit (store, err);
    json_decref (detail);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

json_t *
wb_registry_alias_history (wb_store_t *store, const char *name, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store,
        "SELECT alias, version, previous, time FROM model_alias_history WHERE name = ?"
        " ORDER BY time, id", err);
    if (stmt)
        s_bind_text (stmt, 1, name);
    return s_rows (store, stmt, NULL, err);
}

int64_t
wb_registry_alias_at (wb_store_t *store, const char *name, const char *alias, double when,
                      wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store,
        "SELECT version FROM model_alias_history WHERE name = ? AND alias = ?"
        " AND time <= ? ORDER BY time DESC, id DESC LIMIT 1", err);
    if (!stmt)
        return -1;
    s_bind_text (stmt, 1, name);
    s_bind_text (stmt, 2, alias);
    sqlite3_bind_double (stmt, 3, when);
    int64_t version = 0;
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        version = sqlite3_column_int64 (stmt, 0);
    else
    if (rc != SQLITE_DONE)
        version = s_sql_error (store, err, "reading the alias history");
    sqlite3_finalize (stmt);
    return version;
}

int
wb_registry_model_archive (wb_store_t *store, const char *name, int64_t version,
                           wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    if (s_active_version (store, name, version, err)) {
        wb_store_rollback (store);
        return -1;
    }
    //  A version an endpoint serves stays: archive it after moving traffic off
    sqlite3_stmt *stmt = s_prepare (store,
        "SELECT endpoint, name FROM deployments WHERE model = ? AND version = ? LIMIT 1", err);
    int rc = stmt? 0: -1;
    if (stmt) {
        s_bind_text (stmt, 1, name);
        sqlite3_bind_int64 (stmt, 2, version);
        if (sqlite3_step (stmt) == SQLITE_ROW)
            rc = wb_error_set (err, "model %s:%lld is deployed (endpoint %s, deployment %s): "
                               "deploy another version there first", name, (long long) version,
                               sqlite3_column_text (stmt, 0), sqlite3_column_text (stmt, 1));
        sqlite3_finalize (stmt);
    }
    stmt = rc? NULL: s_prepare (store,
        "UPDATE models SET status = 'archived', archived = ? WHERE name = ? AND version = ?", err);
    if (stmt) {
        sqlite3_bind_double (stmt, 1, wb_time_now ());
        s_bind_text (stmt, 2, name);
        sqlite3_bind_int64 (stmt, 3, version);
    }
    json_t *detail = json_pack ("{s:s, s:I}", "name", name, "version", (json_int_t) version);
    rc = rc || s_done (store, stmt, "archiving the model", err)
            || wb_store_event (store, "model.archive", name, detail, err)
            || wb_store_commit (store, err);
    json_decref (detail);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

//  ---- Endpoints ----

//  A fresh key: 32 random bytes, base64url without padding (43 characters),
//  and the hash it is kept as
static void
s_new_key (char *key, size_t size, char hash [WB_KEY_HASH_TEXT])
{
    unsigned char bytes [S_KEY_BYTES];
    randombytes_buf (bytes, sizeof (bytes));
    sodium_bin2base64 (key, size, bytes, sizeof (bytes),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (bytes, sizeof (bytes));
    wb_key_hash (key, strlen (key), hash);
}

int
wb_registry_endpoint_create (wb_store_t *store, const char *name, const char *auth,
                             wb_keys_t *made, wb_error_t *err)
{
    if (s_check_name (name, "endpoint", err))
        return -1;
    if (!streq (auth, "key") && !streq (auth, "none"))
        return wb_error_set (err, "--auth must be key or none, not '%s'", auth);
    wb_keys_t keys;
    char hash1 [WB_KEY_HASH_TEXT], hash2 [WB_KEY_HASH_TEXT];
    s_new_key (keys.key [0], sizeof (keys.key [0]), hash1);
    s_new_key (keys.key [1], sizeof (keys.key [1]), hash2);
    sqlite3_stmt *stmt = s_prepare (store,
        "INSERT INTO endpoints (name, auth, key1, key2, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?)", err);
    int rc = SQLITE_ERROR;
    if (stmt) {
        double now = wb_time_now ();
        s_bind_text (stmt, 1, name);
        s_bind_text (stmt, 2, auth);
        s_bind_text (stmt, 3, hash1);
        s_bind_text (stmt, 4, hash2);
        sqlite3_bind_double (stmt, 5, now);
        sqlite3_bind_double (stmt, 6, now);
        rc = sqlite3_step (stmt);
        sqlite3_finalize (stmt);
    }
    if (rc == SQLITE_DONE && made)
        *made = keys;
    sodium_memzero (&keys, sizeof (keys));
    if (!stmt)
        return -1;
    if (rc == SQLITE_CONSTRAINT)
        return wb_error_set (err, "endpoint '%s' exists already", name);
    if (rc != SQLITE_DONE)
        return s_sql_error (store, err, "creating the endpoint");
    return 0;
}

static json_t *
s_endpoints (wb_store_t *store, const char *name, wb_error_t *err)
{
    char *sql = wb_sprintf (
        "SELECT name, auth, key1, key2, port, pid, pid_start, host, generation, loaded,"
        " error, created, updated, coalesce (log_rows, %d) AS log_rows,"
        " coalesce (log_days, %d.0) AS log_days FROM endpoints %s",
        WB_REGISTRY_LOG_ROWS, WB_REGISTRY_LOG_DAYS, name? "WHERE name = ?": "ORDER BY name");
    sqlite3_stmt *stmt = s_prepare (store, sql, err);
    free (sql);
    if (stmt && name)
        s_bind_text (stmt, 1, name);
    json_t *rows = s_rows (store, stmt, NULL, err);
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        json_object_set_new (row, "key_hashes", json_pack ("[OO]", json_object_get (row, "key1"),
                                                           json_object_get (row, "key2")));
        json_object_del (row, "key1");
        json_object_del (row, "key2");
        stmt = s_prepare (store,
            "SELECT d.name, d.model, d.version, d.traffic, d.mirror, m.hash, m.kind, m.task,"
            " d.created, d.updated FROM deployments d LEFT JOIN models m"
            " ON m.name = d.model AND m.version = d.version WHERE d.endpoint = ? ORDER BY d.name",
            NULL);
        if (stmt)
            s_bind_text (stmt, 1, json_string_value (json_object_get (row, "name")));
        json_t *deployments = s_rows (store, stmt, NULL, NULL);
        json_object_set_new (row, "deployments", deployments? deployments: json_array ());
    }
    return rows;
}

json_t *
wb_registry_endpoint_get (wb_store_t *store, const char *name, wb_error_t *err)
{
    json_t *rows = s_endpoints (store, name, err);
    json_t *endpoint = json_incref (json_array_get (rows, 0));
    if (rows && !endpoint)
        wb_error_set (err, "no endpoint named '%s': %%endpoint list shows them, %%deploy "
                      "MODEL --endpoint %s creates it", name, name);
    json_decref (rows);
    return endpoint;
}

json_t *
wb_registry_endpoints (wb_store_t *store, wb_error_t *err)
{
    return s_endpoints (store, NULL, err);
}

bool
wb_registry_endpoint_alive (json_t *endpoint)
{
    pid_t pid = (pid_t) json_integer_value (json_object_get (endpoint, "pid"));
    int64_t start = json_integer_value (json_object_get (endpoint, "pid_start"));
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    const char *where = json_string_value (json_object_get (endpoint, "host"));
    return pid > 0 && where && streq (where, host) && start > 0
        && wb_store_process_start (pid) == start;
}

static int
s_bump (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store,
        "UPDATE endpoints SET generation = generation + 1, updated = ? WHERE name = ?", err);
    if (stmt) {
        sqlite3_bind_double (stmt, 1, wb_time_now ());
        s_bind_text (stmt, 2, endpoint);
    }
    return s_done (store, stmt, "updating the endpoint", err);
}

//  Set one deployment's traffic share
static int
s_set_share (wb_store_t *store, const char *endpoint, const char *deployment,
             const char *column, int percent, wb_error_t *err)
{
    char *sql = wb_sprintf ("UPDATE deployments SET %s = ?, updated = ? WHERE endpoint = ?"
                            " AND name = ?", column);
    sqlite3_stmt *stmt = s_prepare (store, sql, err);
    free (sql);
    if (stmt) {
        sqlite3_bind_int (stmt, 1, percent);
        sqlite3_bind_double (stmt, 2, wb_time_now ());
        s_bind_text (stmt, 3, endpoint);
        s_bind_text (stmt, 4, deployment);
    }
    return s_done (store, stmt, "setting the traffic", err);
}

int
wb_registry_deploy (wb_store_t *store, const char *endpoint, const char *deployment,
                    const char *model, int64_t version, int traffic, wb_error_t *err)
{
    if (s_check_name (deployment, "deployment", err))
        return -1;
    if (traffic > 100)
        return wb_error_set (err, "--traffic is a percentage: 0 to 100, not %d", traffic);
    if (wb_store_begin (store, err))
        return -1;
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    int rc = record? s_active_version (store, model, version, err): -1;
    json_t *deployments = json_object_get (record, "deployments");
    json_t *existing = NULL;
    size_t index;
    json_t *row;
    json_array_foreach (deployments, index, row)
        if (streq (json_string_value (json_object_get (row, "name")), deployment))
            existing = row;
    if (rc == 0 && traffic < 0)
        traffic = existing? (int) json_integer_value (json_object_get (existing, "traffic")):
                  json_array_size (deployments) == 0? 100: 0;
    sqlite3_stmt *stmt = rc? NULL: s_prepare (store,
        "INSERT INTO deployments (endpoint, name, model, version, traffic, created, updated)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (endpoint, name) DO UPDATE SET"
        " model = excluded.model, version = excluded.version, traffic = excluded.traffic,"
        " updated = excluded.updated", err);
    if (stmt) {
        s_bind_text (stmt, 1, endpoint);
        s_bind_text (stmt, 2, deployment);
        s_bind_text (stmt, 3, model);
        sqlite3_bind_int64 (stmt, 4, version);
        sqlite3_bind_int (stmt, 5, traffic);
        sqlite3_bind_double (stmt, 6, wb_time_now ());
    }
    rc = rc || s_done (store, stmt, "deploying", err);
    //  The others share what is left, in proportion to what they had
    int others = 0, left = 100 - traffic, given = 0;
    const char *largest = NULL;
    int largest_share = -1;
    json_array_foreach (deployments, index, row)
        if (!streq (json_string_value (json_object_get (row, "name")), deployment))
            others += (int) json_integer_value (json_object_get (row, "traffic"));
    json_array_foreach (deployments, index, row) {
        const char *name = json_string_value (json_object_get (row, "name"));
        if (rc || streq (name, deployment))
            continue;
        int share = (int) json_integer_value (json_object_get (row, "traffic"));
        int now = others > 0? share * left / others: 0;
        given += now;
        if (share > largest_share) {
            largest_share = share;
            largest = name;
        }
        rc = s_set_share (store, endpoint, name, "traffic", now, err);
    }
    if (rc == 0 && largest && others > 0 && given < left) {
        json_array_foreach (deployments, index, row)
            if (streq (json_string_value (json_object_get (row, "name")), largest))
                rc = s_set_share (store, endpoint, largest, "traffic",
                    (int) ((int64_t) json_integer_value (json_object_get (row, "traffic"))
                    * left / others) + left - given, err);
    }
    json_t *detail = json_pack ("{s:s, s:s, s:I, s:i}", "deployment", deployment,
                                "model", model, "version", (json_int_t) version,
                                "traffic", traffic);
    rc = rc || s_bump (store, endpoint, err)
            || wb_store_event (store, "endpoint.deploy", endpoint, detail, err)
            || wb_store_commit (store, err);
    json_decref (detail);
    json_decref (record);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

//  Check that every key of shares names a deployment and holds 0..100
static int
s_check_shares (json_t *record, json_t *shares, const char *what, wb_error_t *err)
{
    const char *key;
    json_t *value;
    json_object_foreach (shares, key, value) {
        bool found = false;
        size_t index;
        json_t *row;
        json_array_foreach (json_object_get (record, "deployments"), index, row)
            found = found || streq (json_string_value (json_object_get (row, "name")), key);
        if (!found)
            return wb_error_set (err, "endpoint %s has no deployment '%s'",
                                 json_string_value (json_object_get (record, "name")), key);
        if (!json_is_integer (value) || json_integer_value (value) < 0
        ||  json_integer_value (value) > 100)
            return wb_error_set (err, "the %s of '%s' must be a whole percentage, 0 to 100",
                                 what, key);
    }
    return 0;
}

int
wb_registry_traffic (wb_store_t *store, const char *endpoint, json_t *split, wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    int rc = record? s_check_shares (record, split, "traffic", err): -1;
    json_int_t sum = 0;
    const char *key;
    json_t *value;
    json_object_foreach (split, key, value)
        sum += json_integer_value (value);
    if (rc == 0 && sum != 100)
        rc = wb_error_set (err, "the traffic shares add up to %lld, not 100", (long long) sum);
    size_t index;
    json_t *row;
    json_array_foreach (json_object_get (record, "deployments"), index, row) {
        const char *name = json_string_value (json_object_get (row, "name"));
        rc = rc || s_set_share (store, endpoint, name, "traffic",
                                (int) json_integer_value (json_object_get (split, name)), err);
    }
    rc = rc || s_bump (store, endpoint, err)
            || wb_store_event (store, "endpoint.traffic", endpoint, split, err)
            || wb_store_commit (store, err);
    json_decref (record);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_mirror (wb_store_t *store, const char *endpoint, json_t *shares, wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    int rc = record? s_check_shares (record, shares, "mirror share", err): -1;
    const char *key;
    json_t *value;
    json_object_foreach (shares, key, value)
        rc = rc || s_set_share (store, endpoint, key, "mirror", (int) json_integer_value (value), err);
    rc = rc || s_bump (store, endpoint, err)
            || wb_store_event (store, "endpoint.mirror", endpoint, shares, err)
            || wb_store_commit (store, err);
    json_decref (record);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_keys_regenerate (wb_store_t *store, const char *endpoint, int which,
                             wb_keys_t *made, wb_error_t *err)
{
    assert (which >= 0 && which <= 2);
    wb_keys_t keys;
    char hash1 [WB_KEY_HASH_TEXT], hash2 [WB_KEY_HASH_TEXT];
    s_new_key (keys.key [0], sizeof (keys.key [0]), hash1);
    s_new_key (keys.key [1], sizeof (keys.key [1]), hash2);
    sqlite3_stmt *stmt = s_prepare (store,
        "UPDATE endpoints SET key1 = CASE WHEN ?1 IN (0, 1) THEN ?2 ELSE key1 END,"
        " key2 = CASE WHEN ?1 IN (0, 2) THEN ?3 ELSE key2 END,"
        " generation = generation + 1, updated = ?4 WHERE name = ?5", err);
    if (stmt) {
        sqlite3_bind_int (stmt, 1, which);
        s_bind_text (stmt, 2, hash1);
        s_bind_text (stmt, 3, hash2);
        sqlite3_bind_double (stmt, 4, wb_time_now ());
        s_bind_text (stmt, 5, endpoint);
    }
    int rc = s_done (store, stmt, "regenerating the keys", err);
    if (rc == 0 && sqlite3_changes (wb_store_db (store)) == 0)
        rc = wb_error_set (err, "no endpoint named '%s'", endpoint);
    if (rc == 0 && made) {
        *made = keys;
        for (int k = 0; k < 2; k++)
            if (which && which != k + 1)
                made->key [k][0] = 0;
    }
    sodium_memzero (&keys, sizeof (keys));
    return rc;
}

int
wb_registry_retention (wb_store_t *store, const char *endpoint, int64_t rows, double days,
                       wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store,
        "UPDATE endpoints SET"
        " log_rows = CASE WHEN ?1 > 0 THEN ?1 WHEN ?1 < 0 THEN NULL ELSE log_rows END,"
        " log_days = CASE WHEN ?2 > 0 THEN ?2 WHEN ?2 < 0 THEN NULL ELSE log_days END,"
        " generation = generation + 1, updated = ?3 WHERE name = ?4", err);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, rows);
        sqlite3_bind_double (stmt, 2, days);
        sqlite3_bind_double (stmt, 3, wb_time_now ());
        s_bind_text (stmt, 4, endpoint);
    }
    int rc = s_done (store, stmt, "setting the retention", err);
    if (rc == 0 && sqlite3_changes (wb_store_db (store)) == 0)
        rc = wb_error_set (err, "no endpoint named '%s'", endpoint);
    return rc;
}

int
wb_registry_endpoint_delete (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    static const char *sql [] = {
        "DELETE FROM deployments WHERE endpoint = ?", "DELETE FROM requests WHERE endpoint = ?",
        "DELETE FROM endpoints WHERE name = ?", NULL
    };
    int rc = 0;
    for (int i = 0; sql [i] && rc == 0; i++) {
        sqlite3_stmt *stmt = s_prepare (store, sql [i], err);
        if (stmt)
            s_bind_text (stmt, 1, endpoint);
        rc = s_done (store, stmt, "deleting the endpoint", err);
    }
    if (rc == 0 && sqlite3_changes (wb_store_db (store)) == 0)
        rc = wb_error_set (err, "no endpoint named '%s'", endpoint);
    rc = rc || wb_store_event (store, "endpoint.delete", endpoint, NULL, err)
            || wb_store_commit (store, err);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_endpoint_process (wb_store_t *store, const char *endpoint, pid_t pid, int port,
                              wb_error_t *err)
{
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    sqlite3_stmt *stmt = s_prepare (store,
        "UPDATE endpoints SET pid = ?, pid_start = ?, host = ?, port = coalesce (?, port),"
        " updated = ? WHERE name = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_int (stmt, 1, (int) pid);
    sqlite3_bind_int64 (stmt, 2, pid > 0? wb_store_process_start (pid): 0);
    s_bind_text (stmt, 3, host);
    if (port > 0)
        sqlite3_bind_int (stmt, 4, port);
    else
        sqlite3_bind_null (stmt, 4);
    sqlite3_bind_double (stmt, 5, wb_time_now ());
    s_bind_text (stmt, 6, endpoint);
    return s_done (store, stmt, "recording the server", err);
}

int
wb_registry_endpoint_loaded (wb_store_t *store, const char *endpoint, int64_t generation,
                             const char *error, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store,
        "UPDATE endpoints SET loaded = ?, error = ? WHERE name = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, generation);
    s_bind_text (stmt, 2, error);
    s_bind_text (stmt, 3, endpoint);
    return s_done (store, stmt, "recording the server's state", err);
}

int64_t
wb_registry_endpoint_generation (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store, "SELECT generation FROM endpoints WHERE name = ?", err);
    if (!stmt)
        return -1;
    s_bind_text (stmt, 1, endpoint);
    int64_t generation = -1;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        generation = sqlite3_column_int64 (stmt, 0);
    else
        wb_error_set (err, "no endpoint named '%s'", endpoint);
    sqlite3_finalize (stmt);
    return generation;
}

//  ---- Request log ----

int
wb_registry_requests_add (wb_store_t *store, const char *endpoint,
                          const wb_request_t *requests, size_t count, wb_error_t *err)
{
    if (count == 0)
        return 0;
    if (wb_store_begin (store, err))
        return -1;
    sqlite3_stmt *stmt = s_prepare (store,
        "INSERT INTO requests (endpoint, deployment, time, latency, status, mirrored, rows,"
        " input, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
    int rc = stmt? 0: -1;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const wb_request_t *r = &requests [i];
        s_bind_text (stmt, 1, endpoint);
        s_bind_text (stmt, 2, r->deployment [0]? r->deployment: NULL);
        sqlite3_bind_double (stmt, 3, r->time);
        sqlite3_bind_double (stmt, 4, r->latency);
        sqlite3_bind_int (stmt, 5, r->status);
        sqlite3_bind_int (stmt, 6, r->mirrored);
        sqlite3_bind_int (stmt, 7, r->rows);
        s_bind_text (stmt, 8, r->input);
        s_bind_text (stmt, 9, r->output);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = s_sql_error (store, err, "logging requests");
        sqlite3_reset (stmt);
    }
    sqlite3_finalize (stmt);
    if (rc == 0 && wb_store_commit (store, err))
        rc = -1;
    if (rc)
        wb_store_rollback (store);
    return rc;
}

int64_t
wb_registry_requests_prune (wb_store_t *store, const char *endpoint, int64_t rows,
                            double days, int64_t most, wb_error_t *err)
{
    assert (rows > 0 && days > 0 && most > 0);
    //  What goes: older than the age limit, or older than the rows-th newest
    //  row (by time, then id; both walk the (endpoint, time) index)
    sqlite3_stmt *stmt = s_prepare (store,
        "WITH edge AS (SELECT time, id FROM requests WHERE endpoint = ?1"
        "  ORDER BY time DESC, id DESC LIMIT 1 OFFSET ?3 - 1)"
        " DELETE FROM requests WHERE id IN (SELECT r.id FROM requests r"
        "  LEFT JOIN edge e ON 1 WHERE r.endpoint = ?1 AND (r.time < ?2"
        "  OR r.time < e.time OR (r.time = e.time AND r.id < e.id))"
        "  ORDER BY r.time, r.id LIMIT ?4)", err);
    if (!stmt)
        return -1;
    s_bind_text (stmt, 1, endpoint);
    sqlite3_bind_double (stmt, 2, wb_time_now () - days * 86400);
    sqlite3_bind_int64 (stmt, 3, rows);
    sqlite3_bind_int64 (stmt, 4, most);
    if (s_done (store, stmt, "trimming the request log", err))
        return -1;
    return sqlite3_changes64 (wb_store_db (store));
}

json_t *
wb_registry_requests (wb_store_t *store, const char *endpoint, size_t limit, wb_error_t *err)
{
    sqlite3_stmt *stmt = s_prepare (store,
        "SELECT time, deployment, status, latency, rows, mirrored, input, output"
        " FROM requests WHERE endpoint = ? ORDER BY id DESC LIMIT ?", err);
    if (stmt) {
        s_bind_text (stmt, 1, endpoint);
        sqlite3_bind_int64 (stmt, 2, limit? (int64_t) limit: -1);
    }
    return s_rows (store, stmt, NULL, err);
}

static int
s_double_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

//  Close one bucket: its latency percentiles
static void
s_bucket_close (json_t *bucket, double *latencies, size_t count)
{
    if (!bucket)
        return;
    qsort (latencies, count, sizeof (double), s_double_cmp);
    double sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += latencies [i];
    size_t p50 = count? (count - 1) / 2: 0, p99 = count? (size_t) ceil (count * 0.99) - 1: 0;
    json_object_set_new (bucket, "p50", json_real (count? latencies [p50]: 0));
    json_object_set_new (bucket, "p99", json_real (count? latencies [p99]: 0));
    json_object_set_new (bucket, "mean", json_real (count? sum / count: 0));
}

json_t *
wb_registry_request_stats (wb_store_t *store, const char *endpoint, double span,
                           double bucket, wb_error_t *err)
{
    assert (bucket > 0);
    sqlite3_stmt *stmt = s_prepare (store,
        "SELECT CAST (time / ?1 AS INTEGER) AS b, coalesce (deployment, ''), latency, status"
        " FROM requests WHERE endpoint = ?2 AND time >= ?3 AND mirrored = 0"
        " ORDER BY b, 2", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_double (stmt, 1, bucket);
    s_bind_text (stmt, 2, endpoint);
    sqlite3_bind_double (stmt, 3, wb_time_now () - span);
    json_t *result = json_array ();
    json_t *current = NULL;
    int64_t current_b = -1;
    char current_d [64] = "";
    size_t count = 0, room = 0;
    double *latencies = NULL;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64 (stmt, 0);
        const char *deployment = (const char *) sqlite3_column_text (stmt, 1);
        if (!current || b != current_b || !streq (deployment, current_d)) {
            s_bucket_close (current, latencies, count);
            count = 0;
            current_b = b;
            snprintf (current_d, sizeof (current_d), "%s", deployment);
            current = json_pack ("{s:f, s:s, s:i, s:i}", "time", b * bucket,
                                 "deployment", deployment, "count", 0, "errors", 0);
            json_array_append_new (result, current);
        }
        if (count == room) {
            room = room? room * 2: 256;
            latencies = wb_realloc (latencies, room * sizeof (double));
        }
        latencies [count++] = sqlite3_column_double (stmt, 2);
        json_object_set_new (current, "count", json_integer ((json_int_t) count));
        if (sqlite3_column_int (stmt, 3) >= 400)
            json_object_set_new (current, "errors", json_integer (
                json_integer_value (json_object_get (current, "errors")) + 1));
    }
    s_bucket_close (current, latencies, count);
    free (latencies);
    sqlite3_finalize (stmt);
    return result;
}

//  ---- Self-test ----

//  @selftest
void
wb_registry_test (bool verbose)
{
    (void) verbose;
    char folder [] = "/tmp/wb-registry-test-XXXXXX";
    assert (mkdtemp (folder));
    wb_error_t err;
    wb_store_t *store = wb_store_open (folder, true, &err);
    assert (store);
    //  A run with a model artifact and a dataset it read
    char run [16];
    wb_run_spec_t spec = { .name = "fit", .kind = "train" };
    assert (wb_store_run_create (store, &spec, run, &err) == 0);
    const char *model_file = "{\"format\":\"workbench-model\",\"kind\":\"linear\",\"task\":\"regression\"}";
    assert (wb_store_artifact_data (store, run, "outputs/model.json", model_file,
                                    strlen (model_file), &err) == 0);
    wb_metric_t point = { "rmse", 0, 0.5, 0 };
    assert (wb_store_log (store, run, &point, 1, &err) == 0);
    assert (wb_store_lineage (store, run, "input", "dataset", "houses", 3, &err) == 0);
    //  Versions count up; the version keeps run, metrics, datasets
    wb_model_spec_t model = { "houses", run, NULL, NULL, "first" };
    assert (wb_registry_model_register (store, &model, &err) == 1);
    assert (wb_registry_model_register (store, &model, &err) == 2);
    json_t *got = wb_registry_model_get (store, "houses", &err);
    assert (got && json_integer_value (json_object_get (got, "version")) == 2);
    assert (streq (json_string_value (json_object_get (got, "kind")), "linear"));
    assert (json_real_value (json_object_get (json_object_get (got, "metrics"), "rmse")) == 0.5);
    assert (json_integer_value (json_object_get (json_array_get (
        json_object_get (got, "datasets"), 0), "version")) == 3);
    json_decref (got);
    json_t *ran = wb_store_run_get (store, run, &err);
    assert (json_array_size (json_object_get (ran, "lineage")) == 3);   //  1 in, 2 out
    json_decref (ran);
    //  Bad names and references
    model.name = "bad name";
    assert (wb_registry_model_register (store, &model, &err) == -1);
    assert (strstr (err.text, "not a valid model name"));
    model.name = "houses";
    model.path = "nope.json";
    assert (wb_registry_model_register (store, &model, &err) == -1);
    assert (strstr (err.text, "no artifact 'nope.json'"));
    assert (!wb_registry_model_get (store, "houses:9", &err));
    assert (strstr (err.text, "no version 9"));
    assert (!wb_registry_model_get (store, "nothing", &err));
    assert (strstr (err.text, "no model named 'nothing'"));
    //  Aliases move, and the history answers "which version, when"
    assert (wb_registry_model_alias (store, "houses", 1, "production", &err) == 0);
    double between = wb_time_now ();
    usleep (2000);
    assert (wb_registry_model_alias (store, "houses", 2, "production", &err) == 0);
    got = wb_registry_model_get (store, "houses@production", &err);
    assert (got && json_integer_value (json_object_get (got, "version")) == 2);
    json_decref (got);
    assert (wb_registry_alias_at (store, "houses", "production", between, &err) == 1);
    assert (wb_registry_alias_at (store, "houses", "production", wb_time_now (), &err) == 2);
    assert (wb_registry_alias_at (store, "houses", "production", 1000, &err) == 0);
    json_t *history = wb_registry_alias_history (store, "houses", &err);
    assert (json_array_size (history) == 2);
    assert (json_integer_value (json_object_get (json_array_get (history, 1), "previous")) == 1);
    json_decref (history);
    //  Endpoints: keys, deploy, traffic that sums to 100
    wb_keys_t made;
    assert (wb_registry_endpoint_create (store, "ep", "key", &made, &err) == 0);
    assert (wb_registry_endpoint_create (store, "ep", "key", NULL, &err) == -1);
    assert (strstr (err.text, "exists already"));
    assert (wb_registry_deploy (store, "ep", "blue", "houses", 1, -1, &err) == 0);
    assert (wb_registry_deploy (store, "ep", "green", "houses", 2, 10, &err) == 0);
    json_t *ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (ep);
    //  The keys are handed back once; only their hashes are kept
    assert (strlen (made.key [0]) == 43 && strlen (made.key [1]) == 43);
    assert (!streq (made.key [0], made.key [1]));
    json_t *keys = json_object_get (ep, "key_hashes");
    char hash [WB_KEY_HASH_TEXT];
    wb_key_hash (made.key [0], strlen (made.key [0]), hash);
    assert (streq (json_string_value (json_array_get (keys, 0)), hash));
    assert (!json_object_get (ep, "keys"));
    sqlite3_stmt *stmt = s_prepare (store, "SELECT count (*) FROM endpoints WHERE"
                                    " instr (key1 || key2, ?1) OR instr (key1 || key2, ?2)", NULL);
    s_bind_text (stmt, 1, made.key [0]);
    s_bind_text (stmt, 2, made.key [1]);
    assert (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int (stmt, 0) == 0);
    sqlite3_finalize (stmt);
    assert (json_integer_value (json_object_get (ep, "log_rows")) == WB_REGISTRY_LOG_ROWS);
    json_t *blue = json_array_get (json_object_get (ep, "deployments"), 0);
    json_t *green = json_array_get (json_object_get (ep, "deployments"), 1);
    assert (json_integer_value (json_object_get (blue, "traffic")) == 90);
    assert (json_integer_value (json_object_get (green, "traffic")) == 10);
    assert (json_integer_value (json_object_get (ep, "generation")) == 3);
    json_decref (ep);
    json_t *split = json_pack ("{s:i, s:i}", "blue", 60, "green", 30);
    assert (wb_registry_traffic (store, "ep", split, &err) == -1);
    assert (strstr (err.text, "add up to 90"));
    json_object_set_new (split, "red", json_integer (10));
    assert (wb_registry_traffic (store, "ep", split, &err) == -1);
    assert (strstr (err.text, "no deployment 'red'"));
    json_object_del (split, "red");
    json_object_set_new (split, "green", json_integer (40));
    assert (wb_registry_traffic (store, "ep", split, &err) == 0);
    json_decref (split);
    //  A deployed version cannot be archived; an archived one not deployed
    assert (wb_registry_model_archive (store, "houses", 2, &err) == -1);
    assert (strstr (err.text, "is deployed"));
    model.path = NULL;
    assert (wb_registry_model_register (store, &model, &err) == 3);
    assert (wb_registry_model_archive (store, "houses", 3, &err) == 0);
    assert (wb_registry_deploy (store, "ep", "blue", "houses", 3, -1, &err) == -1);
    assert (strstr (err.text, "archived"));
    got = wb_registry_model_get (store, "houses", &err);
    assert (json_integer_value (json_object_get (got, "version")) == 2);
    json_decref (got);
    //  The server's reports; liveness
    assert (wb_registry_endpoint_process (store, "ep", getpid (), 8123, &err) == 0);
    ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (wb_registry_endpoint_alive (ep));
    assert (json_integer_value (json_object_get (ep, "port")) == 8123);
    json_decref (ep);
    assert (wb_registry_endpoint_process (store, "ep", 0, 0, &err) == 0);
    ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (!wb_registry_endpoint_alive (ep));
    assert (json_integer_value (json_object_get (ep, "port")) == 8123);
    json_decref (ep);
    //  Request log and its statistics
    wb_request_t requests [3] = {
        { wb_time_now (), 1.0, 200, 1, false, "blue", NULL, NULL },
        { wb_time_now (), 3.0, 200, 1, false, "blue", wb_strdup ("[[1]]"), wb_strdup ("[2]") },
        { wb_time_now (), 2.0, 400, 0, false, "blue", NULL, NULL },
    };
    assert (wb_registry_requests_add (store, "ep", requests, 3, &err) == 0);
    free (requests [1].input);
    free (requests [1].output);
    json_t *log = wb_registry_requests (store, "ep", 2, &err);
    assert (json_array_size (log) == 2);
    assert (json_integer_value (json_object_get (json_array_get (log, 0), "status")) == 400);
    json_decref (log);
    json_t *stats = wb_registry_request_stats (store, "ep", 60, 3600, &err);
    assert (json_array_size (stats) >= 1);
    json_t *last = json_array_get (stats, json_array_size (stats) - 1);
    assert (json_integer_value (json_object_get (last, "errors")) >= 0);
    json_decref (stats);
    //  The log's retention: the newest rows, the last days
    for (int i = 0; i < 3; i++)
        requests [i].input = requests [i].output = NULL;
    requests [0].time = wb_time_now () - 40 * 86400;   //  older than 30 days
    assert (wb_registry_requests_add (store, "ep", requests, 3, &err) == 0);
    assert (wb_registry_requests_prune (store, "ep", WB_REGISTRY_LOG_ROWS, WB_REGISTRY_LOG_DAYS,
                                        1000, &err) == 1);
    assert (wb_registry_requests_prune (store, "ep", 2, 30, 1, &err) == 1);
    assert (wb_registry_requests_prune (store, "ep", 2, 30, 100, &err) == 2);
    assert (wb_registry_requests_prune (store, "ep", 2, 30, 100, &err) == 0);
    log = wb_registry_requests (store, "ep", 0, &err);
    assert (json_array_size (log) == 2);
    json_decref (log);
    assert (wb_registry_retention (store, "ep", 500, 0, &err) == 0);
    ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (json_integer_value (json_object_get (ep, "log_rows")) == 500);
    assert (json_number_value (json_object_get (ep, "log_days")) == WB_REGISTRY_LOG_DAYS);
    json_decref (ep);
    assert (wb_registry_retention (store, "nope", 500, 0, &err) == -1);
    //  Keys regenerate (one, the other stays); delete forgets everything
    ep = wb_registry_endpoint_get (store, "ep", &err);
    char *old_hashes = json_dumps (json_object_get (ep, "key_hashes"), 0);
    json_decref (ep);
    wb_keys_t fresh;
    assert (wb_registry_keys_regenerate (store, "ep", 1, &fresh, &err) == 0);
    assert (strlen (fresh.key [0]) == 43 && fresh.key [1][0] == 0);
    assert (!streq (fresh.key [0], made.key [0]));
    ep = wb_registry_endpoint_get (store, "ep", &err);
    json_t *before = json_loads (old_hashes, 0, NULL);
    keys = json_object_get (ep, "key_hashes");
    wb_key_hash (fresh.key [0], strlen (fresh.key [0]), hash);
    assert (streq (json_string_value (json_array_get (keys, 0)), hash));
    assert (json_equal (json_array_get (keys, 1), json_array_get (before, 1)));
    json_decref (before);
    json_decref (ep);
    free (old_hashes);
    assert (wb_registry_endpoint_delete (store, "ep", &err) == 0);
    assert (!wb_registry_endpoint_get (store, "ep", &err));
    assert (wb_registry_endpoint_delete (store, "ep", &err) == -1);
    wb_store_destroy (&store);
    char *command = wb_sprintf ("rm -rf '%s'", folder);
    assert (system (command) == 0);
    free (command);
}
//  @end
