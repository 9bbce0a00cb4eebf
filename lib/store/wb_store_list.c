/*  wb_store_list - reading runs back: one run in full, the filtered listing

    Part of wb_store (see wb_store_int.h). wb_store_run_get gathers a run
    with its params, tags, latest metrics, artifacts, lineage and
    children; wb_store_runs lists runs by a filter and sort (wb_query
    turns them into SQL) with their params and latest metrics.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "wb_store_int.h"
#include "wb_query.h"
#include "base/wb_util.h"

//  ---- Reading runs ----

//  Fill obj[field] with {key: value} from a (run, key, value) table.
static void
s_key_values (wb_store_t *self, const char *table, int64_t seq, json_t *obj, const char *field)
{
    char *sql = wb_sprintf ("SELECT key, value FROM %s WHERE run = ? ORDER BY key", table);
    sqlite3_stmt *stmt = wb_store__prepare (self, sql, NULL);
    free (sql);
    json_t *values = json_object ();
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        while (sqlite3_step (stmt) == SQLITE_ROW)
            wb_store__set_column_key (values, stmt, 0,
                        wb_store__column_json (stmt, 1));
        sqlite3_finalize (stmt);
    }
    json_object_set_new (obj, field, values);
}

json_t *
wb_store_run_get (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
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
        json_object_set_new (run, names [column], wb_store__column_json (stmt, column));
    sqlite3_finalize (stmt);

    s_key_values (self, "params", seq, run, "params");
    s_key_values (self, "tags", seq, run, "tags");

    json_t *metrics = json_object ();
    stmt = wb_store__prepare (self, "SELECT key, value, step, time, min, max, count FROM metric_latest"
                                    " WHERE run = ? ORDER BY key", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        wb_store__set_column_key (metrics, stmt, 0,
                    json_pack ("{s:o, s:I, s:f, s:o, s:o, s:I}",
                "value", wb_store__column_json (stmt, 1),
                "step", (json_int_t) sqlite3_column_int64 (stmt, 2),
                "time", sqlite3_column_double (stmt, 3),
                "min", wb_store__column_json (stmt, 4), "max", wb_store__column_json (stmt, 5),
                "count", (json_int_t) sqlite3_column_int64 (stmt, 6)));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "metrics", metrics);

    json_t *artifacts = json_array ();
    stmt = wb_store__prepare (self, "SELECT path, hash, size FROM artifacts WHERE run = ? ORDER BY path", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (artifacts, json_pack ("{s:o, s:o, s:I}",
            "path", wb_store__column_json (stmt, 0),
            "hash", wb_store__column_json (stmt, 1),
            "size", (json_int_t) sqlite3_column_int64 (stmt, 2)));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "artifacts", artifacts);

    json_t *lineage = json_array ();
    stmt = wb_store__prepare (self, "SELECT direction, kind, name, version FROM lineage WHERE run = ?"
                                    " ORDER BY direction, kind, name, version", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (lineage, json_pack ("{s:o, s:o, s:o, s:I}",
            "direction", wb_store__column_json (stmt, 0),
            "kind", wb_store__column_json (stmt, 1),
            "name", wb_store__column_json (stmt, 2),
            "version", (json_int_t) sqlite3_column_int64 (stmt, 3)));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "lineage", lineage);

    json_t *children = json_array ();
    stmt = wb_store__prepare (self, "SELECT id FROM runs WHERE parent = ? ORDER BY seq", NULL);
    sqlite3_bind_int64 (stmt, 1, seq);
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (children, wb_store__column_json (stmt, 0));
    sqlite3_finalize (stmt);
    json_object_set_new (run, "children", children);
    return run;
}

json_t *
wb_store_run_ids (wb_store_t *self)
{
    json_t *list = json_array ();
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT id, name FROM runs ORDER BY seq DESC LIMIT 5000", NULL);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("[o, o]",
            wb_store__column_json (stmt, 0),
            wb_store__column_json (stmt, 1)));
    sqlite3_finalize (stmt);
    return list;
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
    sqlite3_stmt *stmt = wb_store__prepare (self, sql, err);
    free (sql);
    if (!stmt) {
        wb_query_destroy (&query);
        return NULL;
    }
    sqlite3_bind_text (stmt, 1, experiment, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, experiment, -1, SQLITE_STATIC);
    int next = wb_query_bind (query, stmt, 3);
    sqlite3_bind_int64 (stmt, next, limit? (sqlite3_int64) limit: -1);

    sqlite3_stmt *params = wb_store__prepare (self, "SELECT key, value FROM params WHERE run = ? ORDER BY key", NULL);
    sqlite3_stmt *metrics = wb_store__prepare (self, "SELECT key, value FROM metric_latest WHERE run = ? ORDER BY key", NULL);
    json_t *runs = json_array ();
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64 (stmt, 0);
        json_t *run = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:f, s:o, s:o, s:o}",
            "id", wb_store__column_json (stmt, 1),
            "name", wb_store__column_json (stmt, 2),
            "experiment", wb_store__column_json (stmt, 3),
            "kind", wb_store__column_json (stmt, 4),
            "status", wb_store__column_json (stmt, 5),
            "created", sqlite3_column_double (stmt, 6),
            "started", wb_store__column_json (stmt, 7),
            "ended", wb_store__column_json (stmt, 8),
            "parent", wb_store__column_json (stmt, 9));
        json_t *values = json_object ();
        sqlite3_reset (params);
        sqlite3_bind_int64 (params, 1, seq);
        while (sqlite3_step (params) == SQLITE_ROW)
            wb_store__set_column_key (values, params, 0,
                                         wb_store__column_json (params, 1));
        json_object_set_new (run, "params", values);
        values = json_object ();
        sqlite3_reset (metrics);
        sqlite3_bind_int64 (metrics, 1, seq);
        while (sqlite3_step (metrics) == SQLITE_ROW)
            wb_store__set_column_key (values, metrics, 0,
                                         wb_store__column_json (metrics, 1));
        json_object_set_new (run, "metrics", values);
        json_array_append_new (runs, run);
    }
    if (rc != SQLITE_DONE) {
        wb_store__sql_error (self, err, "listing runs");
        json_decref (runs);
        runs = NULL;
    }
    sqlite3_finalize (params);
    sqlite3_finalize (metrics);
    sqlite3_finalize (stmt);
    wb_query_destroy (&query);
    return runs;
}

//  @selftest

void
wb_store_list_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    char scratch [] = "/tmp/wb-store-XXXXXX";
    char path [64];
    char id [9];
    wb_store_t *store = wb_store__test_open (scratch, path, sizeof (path), id);

    //  Filtered listing (of params, latest metrics, experiments)
    json_t *values = json_pack ("{s:s}", "model", "mlp");
    assert (wb_store_params (store, id, values, &err) == 0);
    json_decref (values);
    wb_metric_t points [] = { { "loss", 0, 1.0, 0 }, { "loss", 1, 0.125, 0 } };
    assert (wb_store_log (store, id, points, 2, &err) == 0);
    char old [9];
    wb_run_spec_t spec = { "Old", "legacy", NULL, "completed", NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &spec, old, &err) == 0);
    json_t *runs = wb_store_runs (store, NULL, "params.model = 'mlp' and metrics.loss < 0.2", NULL, 0, &err);
    assert (runs && json_array_size (runs) == 1);
    assert (streq (json_string_value (json_object_get (json_array_get (runs, 0), "id")), id));
    json_decref (runs);
    runs = wb_store_runs (store, "Old", NULL, NULL, 0, &err);
    assert (json_array_size (runs) == 1);
    json_decref (runs);
    assert (!wb_store_runs (store, NULL, "metrics.loss <", NULL, 0, &err));

    wb_store_destroy (&store);
    wb_store__test_remove (scratch);
}
//  @end
