/*  wb_registry_log - the request log of an endpoint: the server's rows in
    batches, its retention (the newest rows, the last days), the latest
    rows, and statistics by time bucket and deployment (count, errors,
    latency percentiles)

    Part of wb_registry (wb_registry_int.h).
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_registry_int.h"
#include "base/wb_util.h"

//  ---- Request log ----

int
wb_registry_requests_add (wb_store_t *store, const char *endpoint,
                          const wb_request_t *requests, size_t count, wb_error_t *err)
{
    if (count == 0)
        return 0;
    if (wb_store_begin (store, err))
        return -1;
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "INSERT INTO requests (endpoint, deployment, time, latency, status, mirrored, rows,"
        " input, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
    int rc = stmt? 0: -1;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const wb_request_t *r = &requests [i];
        wb_registry__bind_text (stmt, 1, endpoint);
        wb_registry__bind_text (stmt, 2, r->deployment [0]? r->deployment: NULL);
        sqlite3_bind_double (stmt, 3, r->time);
        sqlite3_bind_double (stmt, 4, r->latency);
        sqlite3_bind_int (stmt, 5, r->status);
        sqlite3_bind_int (stmt, 6, r->mirrored);
        sqlite3_bind_int (stmt, 7, r->rows);
        wb_registry__bind_text (stmt, 8, r->input);
        wb_registry__bind_text (stmt, 9, r->output);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = wb_registry__sql_error (store, err, "logging requests");
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
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "WITH edge AS (SELECT time, id FROM requests WHERE endpoint = ?1"
        "  ORDER BY time DESC, id DESC LIMIT 1 OFFSET ?3 - 1)"
        " DELETE FROM requests WHERE id IN (SELECT r.id FROM requests r"
        "  LEFT JOIN edge e ON 1 WHERE r.endpoint = ?1 AND (r.time < ?2"
        "  OR r.time < e.time OR (r.time = e.time AND r.id < e.id))"
        "  ORDER BY r.time, r.id LIMIT ?4)", err);
    if (!stmt)
        return -1;
    wb_registry__bind_text (stmt, 1, endpoint);
    sqlite3_bind_double (stmt, 2, wb_time_now () - days * 86400);
    sqlite3_bind_int64 (stmt, 3, rows);
    sqlite3_bind_int64 (stmt, 4, most);
    if (wb_registry__done (store, stmt, "trimming the request log", err))
        return -1;
    return sqlite3_changes64 (wb_store_db (store));
}

json_t *
wb_registry_requests (wb_store_t *store, const char *endpoint, size_t limit, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "SELECT time, deployment, status, latency, rows, mirrored, input, output"
        " FROM requests WHERE endpoint = ? ORDER BY id DESC LIMIT ?", err);
    if (stmt) {
        wb_registry__bind_text (stmt, 1, endpoint);
        sqlite3_bind_int64 (stmt, 2, limit? (int64_t) limit: -1);
    }
    return wb_registry__rows (store, stmt, NULL, err);
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
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "SELECT CAST (time / ?1 AS INTEGER) AS b, coalesce (deployment, ''), latency, status"
        " FROM requests WHERE endpoint = ?2 AND time >= ?3 AND mirrored = 0"
        " ORDER BY b, 2", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_double (stmt, 1, bucket);
    wb_registry__bind_text (stmt, 2, endpoint);
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
wb_registry_log_test (bool verbose)
{
    (void) verbose;
    char folder [] = "/tmp/wb-registry-test-XXXXXX";
    char run [16];
    wb_store_t *store = wb_registry__test_store (folder, run);
    wb_error_t err;
    assert (wb_registry_endpoint_create (store, "ep", "key", NULL, &err) == 0);
    json_t *ep;
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
    wb_registry__test_remove (&store, folder);
}
//  @end
