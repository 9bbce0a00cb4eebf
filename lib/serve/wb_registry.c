/*  wb_registry - the model registry and the endpoint records of a workspace

    The SQL of the tables migration 5 of wb_store creates: models, model
    aliases and their history, endpoints, deployments, the request log.
    Rows come back as JSON objects whose members are the columns (JSON text
    columns parsed).

    This file: the SQL helpers the parts share, and the models. The
    endpoints are wb_registry_endpoints.c, the request log
    wb_registry_log.c (wb_registry_int.h).
*/
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_registry_int.h"
#include <errno.h>
#include <sys/stat.h>
#include "base/wb_fs.h"
#include "base/wb_proc.h"
#include "base/wb_util.h"

//  ---- SQL helpers ----

sqlite3_stmt *
wb_registry__prepare (wb_store_t *store, const char *sql, wb_error_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (wb_store_db (store), sql, -1, &stmt, NULL) != SQLITE_OK) {
        wb_error_set (err, "workspace %s: a query failed: %s", wb_store_path (store),
                      sqlite3_errmsg (wb_store_db (store)));
        return NULL;
    }
    return stmt;
}

int
wb_registry__sql_error (wb_store_t *store, wb_error_t *err, const char *what)
{
    return wb_error_set (err, "workspace %s: %s failed: %s", wb_store_path (store), what,
                         sqlite3_errmsg (wb_store_db (store)));
}

void
wb_registry__bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, index);
}

//  Run a statement that returns no rows; finalizes it. 0 or -1.
int
wb_registry__done (wb_store_t *store, sqlite3_stmt *stmt, const char *what, wb_error_t *err)
{
    if (!stmt)
        return -1;
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_registry__sql_error (store, err, what);
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
json_t *
wb_registry__rows (wb_store_t *store, sqlite3_stmt *stmt, const char *json_columns, wb_error_t *err)
{
    if (!stmt)
        return NULL;
    json_t *rows = json_array ();
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        json_array_append_new (rows, s_row (stmt, json_columns));
    if (rc != SQLITE_DONE) {
        wb_registry__sql_error (store, err, "reading the registry");
        json_decref (rows);
        rows = NULL;
    }
    sqlite3_finalize (stmt);
    return rows;
}

//  Names of models, aliases, endpoints and deployments: a letter or
//  digit, then letters, digits, '-', '_', '.'; at most 64 bytes.
int
wb_registry__check_name (const char *name, const char *what, wb_error_t *err)
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

//  The flavors a version may be
static bool
s_flavor_known (const char *flavor)
{
    return streq (flavor, "workbench") || streq (flavor, "sklearn")
        || streq (flavor, "mlflow") || streq (flavor, "python");
}

//  Is the file at path a Workbench model file? *model_p gets it parsed.
static bool
s_is_ours (const char *path, json_t **model_p)
{
    char *data = wb_fs_read (path, NULL, NULL);
    json_t *model = data? json_loads (data, 0, NULL): NULL;
    free (data);
    const char *format = json_string_value (json_object_get (model, "format"));
    bool ours = format && streq (format, "workbench-model");
    if (!ours) {
        json_decref (model);
        model = NULL;
    }
    *model_p = model;
    return ours;
}

//  The staged version: its flavor found and checked, the facts the worker
//  gave (NULL for workbench), kind and task for the listing. 0 or -1.
static int
s_stage_flavor (wb_store_t *store, const wb_model_spec_t *spec, const char *staging,
                const char *file, char **flavor_p, char **python_p, char **scorer_p,
                json_t **facts_p, char **kind_p, char **task_p, char **detail, wb_error_t *err)
{
    char *model_path = wb_sprintf ("%s/%s", staging, file);
    struct stat info;
    bool is_file = stat (model_path, &info) == 0 && S_ISREG (info.st_mode);
    json_t *model = NULL;
    bool ours = is_file && s_is_ours (model_path, &model);
    int rc = 0;
    if (ours && spec->flavor && !streq (spec->flavor, "workbench"))
        rc = wb_error_set (err, "%s is a Workbench model file (flavor workbench), not %s: "
                           "leave out --flavor", file, spec->flavor);
    else
    if (ours && spec->scorer)
        rc = wb_error_set (err, "%s is a Workbench model file, scored without a script: "
                           "leave out --scorer", file);
    else
    if (ours) {
        *flavor_p = wb_strdup ("workbench");
        *kind_p = wb_strdup (json_string_value (json_object_get (model, "kind")));
        *task_p = wb_strdup (json_string_value (json_object_get (model, "task")));
    }
    else
    if (spec->flavor && streq (spec->flavor, "workbench"))
        rc = wb_error_set (err, "%s is not a Workbench model file (model.json from %%%%train): "
                           "say which flavor it is with --flavor sklearn|mlflow|python, or "
                           "leave --flavor out to have it found", file);
    else
    if (spec->flavor && streq (spec->flavor, "python") && !spec->scorer)
        rc = wb_error_set (err, "flavor python needs a scoring script: --scorer score.py "
                           "(defining init() and run(data))");
    else {
        //  A Python flavor: the version's Python loads it, as serving will
        char *python = wb_proc_which (spec->python? spec->python: "python3");
        char *scorer = NULL;
        if (!python)
            rc = wb_error_set (err, spec->python? "cannot run '%s' (--python): no such program"
                               : "no python3 on PATH to load the model with: give --python PATH%s",
                               spec->python? spec->python: "");
        if (rc == 0 && spec->scorer) {
            const char *slash = strrchr (spec->scorer, '/');
            char *folder = wb_sprintf ("%s/scorer", staging);
            scorer = wb_sprintf ("scorer/%s", slash? slash + 1: spec->scorer);
            char *to = wb_sprintf ("%s/%s", staging, scorer);
            if (wb_fs_mkdirs (folder, 0700))
                rc = wb_error_set (err, "cannot create '%s': %s", folder, strerror (errno));
            else
                rc = wb_fs_copy (spec->scorer, to, 0400, err);
            free (to);
            free (folder);
        }
        char *scorer_path = scorer? wb_sprintf ("%s/%s", staging, scorer): NULL;
        wb_flavor_t flavor = { python, spec->flavor? spec->flavor: (scorer? "python": NULL),
                               model_path, scorer_path, staging };
        json_t *hello = rc == 0? wb_registry__check (store, &flavor, detail, err): NULL;
        free (scorer_path);
        if (rc == 0 && !hello)
            rc = -1;
        const char *found = json_string_value (json_object_get (hello, "flavor"));
        if (rc == 0 && (!found || !s_flavor_known (found)))
            rc = wb_error_set (err, "the worker loaded the model as '%s', a flavor this "
                               "registry does not know", found? found: "");
        if (rc == 0 && streq (found, "workbench"))
            rc = wb_error_set (err, "%s holds a Workbench model file: give --path to the "
                               "model.json itself", file);
        if (rc == 0) {
            *flavor_p = wb_strdup (found);
            *python_p = python;
            python = NULL;
            *scorer_p = scorer;
            scorer = NULL;
            *kind_p = wb_strdup (json_string_value (json_object_get (hello, "model"))
                                 ? json_string_value (json_object_get (hello, "model")): found);
            *task_p = json_array_size (json_object_get (hello, "classes"))
                    ? wb_strdup ("classification"): NULL;
            *facts_p = json_incref (hello);
        }
        json_decref (hello);
        free (scorer);
        free (python);
    }
    json_decref (model);
    free (model_path);
    return rc;
}

int64_t
wb_registry_model_register (wb_store_t *store, const wb_model_spec_t *spec, char **detail,
                            wb_error_t *err)
{
    assert (store && spec && spec->run);
    if (detail)
        *detail = NULL;
    if (wb_registry__check_name (spec->name, "model", err))
        return -1;
    if (spec->flavor && !s_flavor_known (spec->flavor))
        return wb_error_set (err, "'%s' is not a flavor: workbench, sklearn, mlflow or python",
                             spec->flavor);
    if (spec->flavor && spec->scorer && !streq (spec->flavor, "python"))
        return wb_error_set (err, "--scorer goes with flavor python (a model with a scoring "
                             "script), not %s", spec->flavor);
    if (spec->scorer && access (spec->scorer, R_OK))
        return wb_error_set (err, "cannot read the scoring script '%s': %s", spec->scorer,
                             strerror (errno));
    const char *path = spec->path? spec->path: "outputs/model.json";
    json_t *run = wb_store_run_get (store, spec->run, err);
    if (!run)
        return -1;
    //  The version's files, staged beside the versions until it is recorded
    char *models = wb_sprintf ("%s/models", wb_store_path (store));
    char *staging = wb_sprintf ("%s/.staging-XXXXXX", models);
    char *file = NULL, *hash = NULL, *flavor = NULL, *python = NULL, *scorer = NULL;
    char *kind = NULL, *task = NULL;
    json_t *facts = NULL;
    int rc = 0;
    if (wb_fs_mkdirs (models, 0700) || !mkdtemp (staging)) {
        rc = wb_error_set (err, "cannot create a folder in '%s': %s", models, strerror (errno));
        free (staging);
        staging = NULL;
    }
    if (rc == 0 && wb_registry__stage (store, run, path, staging, &file, &hash, err))
        rc = -1;
    if (rc == 0)
        rc = s_stage_flavor (store, spec, staging, file, &flavor, &python, &scorer, &facts,
                             &kind, &task, detail, err);
    //  Metrics: the run's latest values; datasets: the versions it read
    json_t *metrics = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (run, "metrics"), key, value)
        json_object_set (metrics, key, json_object_get (value, "value"));
    json_t *datasets = json_array ();
    size_t index;
    json_t *edge;
    json_array_foreach (json_object_get (run, "lineage"), index, edge)
        if (streq (json_string_value (json_object_get (edge, "direction")), "input"))
            json_array_append_new (datasets, json_pack ("{s:O, s:O}",
                "name", json_object_get (edge, "name"),
                "version", json_object_get (edge, "version")));
    char *tags = spec->tags? json_dumps (spec->tags, JSON_COMPACT | JSON_SORT_KEYS): wb_strdup ("{}");
    char *metrics_text = json_dumps (metrics, JSON_COMPACT);
    char *datasets_text = json_dumps (datasets, JSON_COMPACT);
    char *facts_text = facts? json_dumps (facts, JSON_COMPACT): NULL;
    int64_t version = -1;
    if (rc == 0 && wb_store_begin (store, err) == 0) {
        sqlite3_stmt *stmt = wb_registry__prepare (store,
            "INSERT INTO models (name, version, run, path, hash, kind, task, tags,"
            " description, metrics, datasets, created, flavor, python, scorer, facts)"
            " SELECT ?1, coalesce (max (version), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
            " ?10, ?11, ?12, ?13, ?14, ?15 FROM models WHERE name = ?1 RETURNING version", err);
        if (stmt) {
            wb_registry__bind_text (stmt, 1, spec->name);
            wb_registry__bind_text (stmt, 2, spec->run);
            wb_registry__bind_text (stmt, 3, path);
            wb_registry__bind_text (stmt, 4, hash);
            wb_registry__bind_text (stmt, 5, kind);
            wb_registry__bind_text (stmt, 6, task);
            wb_registry__bind_text (stmt, 7, tags);
            wb_registry__bind_text (stmt, 8, spec->description);
            wb_registry__bind_text (stmt, 9, metrics_text);
            wb_registry__bind_text (stmt, 10, datasets_text);
            sqlite3_bind_double (stmt, 11, wb_time_now ());
            wb_registry__bind_text (stmt, 12, flavor);
            wb_registry__bind_text (stmt, 13, python);
            wb_registry__bind_text (stmt, 14, scorer);
            wb_registry__bind_text (stmt, 15, facts_text);
            if (sqlite3_step (stmt) == SQLITE_ROW)
                version = sqlite3_column_int64 (stmt, 0);
            else
                wb_registry__sql_error (store, err, "registering the model");
            sqlite3_finalize (stmt);
        }
        //  The staged files become the version's folder (a leftover of an
        //  attempt that failed after this point is replaced)
        char *dir = version > 0? wb_registry_model_dir (store, spec->name, version): NULL;
        char *parent = dir? wb_sprintf ("%s/%s", models, spec->name): NULL;
        if (dir && (wb_fs_remove_tree (dir, err) || wb_fs_mkdirs (parent, 0700)
                ||  (rename (staging, dir) && wb_error_set (err, "cannot move the model into '%s': %s",
                                                             dir, strerror (errno))))) {
            version = -1;
        }
        json_t *detail_event = json_pack ("{s:s, s:I, s:s, s:s?}", "name", spec->name,
                                          "version", (json_int_t) version, "path", path,
                                          "flavor", flavor);
        if (version > 0
        && (wb_store_lineage (store, spec->run, "output", "model", spec->name, version, err)
        ||  wb_store_event (store, "model.register", spec->run, detail_event, err)
        ||  wb_store_commit (store, err))) {
            rename (dir, staging);      //  back where it was, removed below
            version = -1;
        }
        json_decref (detail_event);
        if (version < 0)
            wb_store_rollback (store);
        else {
            free (staging);
            staging = NULL;     //  it is the version's folder now
        }
        free (parent);
        free (dir);
    }
    if (staging)
        wb_fs_remove_tree (staging, NULL);
    free (staging);
    free (models);
    free (tags);
    free (metrics_text);
    free (datasets_text);
    free (facts_text);
    free (file);
    free (hash);
    free (flavor);
    free (python);
    free (scorer);
    free (kind);
    free (task);
    json_decref (facts);
    json_decref (metrics);
    json_decref (datasets);
    json_decref (run);
    return version;
}

static const char *s_model_columns =
    "SELECT name, version, run, path, hash, kind, task, tags, description, metrics,"
    " datasets, status, created, archived, flavor, python, scorer, facts FROM models";

//  The aliases pointing at each version of rows (an array of models), and
//  each one's file name in its folder
static void
s_add_aliases (wb_store_t *store, json_t *rows)
{
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        json_t *aliases = json_array ();
        sqlite3_stmt *stmt = wb_registry__prepare (store,
            "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias", NULL);
        if (stmt) {
            wb_registry__bind_text (stmt, 1, json_string_value (json_object_get (row, "name")));
            sqlite3_bind_int64 (stmt, 2, json_integer_value (json_object_get (row, "version")));
            while (sqlite3_step (stmt) == SQLITE_ROW)
                json_array_append_new (aliases, json_string ((const char *) sqlite3_column_text (stmt, 0)));
            sqlite3_finalize (stmt);
        }
        json_object_set_new (row, "aliases", aliases);
        //  The model's name in the version's folder
        const char *path = json_string_value (json_object_get (row, "path"));
        const char *slash = path? strrchr (path, '/'): NULL;
        if (path)
            json_object_set_new (row, "file", json_string (slash? slash + 1: path));
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
    sqlite3_stmt *stmt = wb_registry__prepare (store, sql, err);
    free (sql);
    if (stmt) {
        wb_registry__bind_text (stmt, 1, name);
        sqlite3_bind_int64 (stmt, 2, version);
        wb_registry__bind_text (stmt, 3, at? at + 1: NULL);
    }
    json_t *rows = wb_registry__rows (store, stmt, "tags metrics datasets facts", err);
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
    json_t *rows = wb_registry__rows (store, wb_registry__prepare (store, sql, err), "tags metrics facts", err);
    free (sql);
    if (rows)
        s_add_aliases (store, rows);
    return rows;
}

json_t *
wb_registry_model_versions (wb_store_t *store, const char *name, wb_error_t *err)
{
    char *sql = wb_sprintf ("%s WHERE name = ? ORDER BY version", s_model_columns);
    sqlite3_stmt *stmt = wb_registry__prepare (store, sql, err);
    free (sql);
    if (stmt)
        wb_registry__bind_text (stmt, 1, name);
    json_t *rows = wb_registry__rows (store, stmt, "tags metrics datasets facts", err);
    if (rows)
        s_add_aliases (store, rows);
    return rows;
}

//  A version that exists and is not archived: 0, or -1 with err
int
wb_registry__active_version (wb_store_t *store, const char *name, int64_t version, wb_error_t *err)
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
    if (wb_registry__check_name (alias, "alias", err))
        return -1;
    char *end;
    strtoll (alias, &end, 10);
    if (*end == 0)
        return wb_error_set (err, "alias '%s' is a number, which reads as a version: "
                             "choose a name such as production", alias);
    if (wb_store_begin (store, err))
        return -1;
    if (wb_registry__active_version (store, name, version, err)) {
        wb_store_rollback (store);
        return -1;
    }
    double now = wb_time_now ();
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "INSERT INTO model_alias_history (name, alias, version, previous, time)"
        " VALUES (?1, ?2, ?3, (SELECT version FROM model_aliases WHERE name = ?1"
        " AND alias = ?2), ?4)", err);
    if (stmt) {
        wb_registry__bind_text (stmt, 1, name);
        wb_registry__bind_text (stmt, 2, alias);
        sqlite3_bind_int64 (stmt, 3, version);
        sqlite3_bind_double (stmt, 4, now);
    }
    int rc = wb_registry__done (store, stmt, "recording the alias", err);
    stmt = rc? NULL: wb_registry__prepare (store,
        "INSERT INTO model_aliases (name, alias, version, time) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version,"
        " time = excluded.time", err);
    if (stmt) {
        wb_registry__bind_text (stmt, 1, name);
        wb_registry__bind_text (stmt, 2, alias);
        sqlite3_bind_int64 (stmt, 3, version);
        sqlite3_bind_double (stmt, 4, now);
    }
    json_t *detail = json_pack ("{s:s, s:I, s:s}", "name", name, "version",
                                (json_int_t) version, "alias", alias);
    rc = rc || wb_registry__done (store, stmt, "setting the alias", err)
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
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "SELECT alias, version, previous, time FROM model_alias_history WHERE name = ?"
        " ORDER BY time, id", err);
    if (stmt)
        wb_registry__bind_text (stmt, 1, name);
    return wb_registry__rows (store, stmt, NULL, err);
}

int64_t
wb_registry_alias_at (wb_store_t *store, const char *name, const char *alias, double when,
                      wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "SELECT version FROM model_alias_history WHERE name = ? AND alias = ?"
        " AND time <= ? ORDER BY time DESC, id DESC LIMIT 1", err);
    if (!stmt)
        return -1;
    wb_registry__bind_text (stmt, 1, name);
    wb_registry__bind_text (stmt, 2, alias);
    sqlite3_bind_double (stmt, 3, when);
    int64_t version = 0;
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        version = sqlite3_column_int64 (stmt, 0);
    else
    if (rc != SQLITE_DONE)
        version = wb_registry__sql_error (store, err, "reading the alias history");
    sqlite3_finalize (stmt);
    return version;
}

int
wb_registry_model_archive (wb_store_t *store, const char *name, int64_t version,
                           wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    if (wb_registry__active_version (store, name, version, err)) {
        wb_store_rollback (store);
        return -1;
    }
    //  A version an endpoint serves stays: archive it after moving traffic off
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "SELECT endpoint, name FROM deployments WHERE model = ? AND version = ? LIMIT 1", err);
    int rc = stmt? 0: -1;
    if (stmt) {
        wb_registry__bind_text (stmt, 1, name);
        sqlite3_bind_int64 (stmt, 2, version);
        if (sqlite3_step (stmt) == SQLITE_ROW)
            rc = wb_error_set (err, "model %s:%lld is deployed (endpoint %s, deployment %s): "
                               "deploy another version there first", name, (long long) version,
                               sqlite3_column_text (stmt, 0), sqlite3_column_text (stmt, 1));
        sqlite3_finalize (stmt);
    }
    stmt = rc? NULL: wb_registry__prepare (store,
        "UPDATE models SET status = 'archived', archived = ? WHERE name = ? AND version = ?", err);
    if (stmt) {
        sqlite3_bind_double (stmt, 1, wb_time_now ());
        wb_registry__bind_text (stmt, 2, name);
        sqlite3_bind_int64 (stmt, 3, version);
    }
    json_t *detail = json_pack ("{s:s, s:I}", "name", name, "version", (json_int_t) version);
    rc = rc || wb_registry__done (store, stmt, "archiving the model", err)
            || wb_store_event (store, "model.archive", name, detail, err)
            || wb_store_commit (store, err);
    json_decref (detail);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

//  ---- Self-test ----

//  @selftest
wb_store_t *
wb_registry__test_store (char *folder, char run [16])
{
    assert (mkdtemp (folder));
    wb_error_t err;
    wb_store_t *store = wb_store_open (folder, true, &err);
    assert (store);
    //  A run with a model artifact and a dataset it read
    wb_run_spec_t spec = { .name = "fit", .kind = "train" };
    assert (wb_store_run_create (store, &spec, run, &err) == 0);
    const char *model_file = "{\"format\":\"workbench-model\",\"kind\":\"linear\",\"task\":\"regression\"}";
    assert (wb_store_artifact_data (store, run, "outputs/model.json", model_file,
                                    strlen (model_file), &err) == 0);
    wb_metric_t point = { "rmse", 0, 0.5, 0 };
    assert (wb_store_log (store, run, &point, 1, &err) == 0);
    assert (wb_store_lineage (store, run, "input", "dataset", "houses", 3, &err) == 0);
    return store;
}

void
wb_registry__test_remove (wb_store_t **store_p, const char *folder)
{
    wb_store_destroy (store_p);
    char *command = wb_sprintf ("rm -rf '%s'", folder);
    assert (system (command) == 0);
    free (command);
}

void
wb_registry_test (bool verbose)
{
    (void) verbose;
    char folder [] = "/tmp/wb-registry-test-XXXXXX";
    char run [16];
    wb_store_t *store = wb_registry__test_store (folder, run);
    wb_error_t err;
    //  Versions count up; the version keeps run, metrics, datasets
    wb_model_spec_t model = { .name = "houses", .run = run, .description = "first" };
    assert (wb_registry_model_register (store, &model, NULL, &err) == 1);
    assert (wb_registry_model_register (store, &model, NULL, &err) == 2);
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
    assert (wb_registry_model_register (store, &model, NULL, &err) == -1);
    assert (strstr (err.text, "not a valid model name"));
    model.name = "houses";
    model.path = "nope.json";
    assert (wb_registry_model_register (store, &model, NULL, &err) == -1);
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
    wb_registry__test_remove (&store, folder);
    wb_registry_endpoints_test (verbose);
    wb_registry_log_test (verbose);
}
//  @end
