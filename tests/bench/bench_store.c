/*  bench_store - the workspace store measured from C, against plain SQLite

    bench_store ingest DIR POINTS BATCH KEYS REPS
        metric points per second through wb_store_log, in batches of BATCH
        points spread over KEYS keys, POINTS in all, into a fresh workspace
        under DIR; side by side, the floor: the same points as rows (run,
        key, step, value, time) of a plain SQLite table, one transaction and
        one prepared statement per batch, WAL, synchronous=NORMAL. Each is
        run REPS times (alternating, each in a fresh folder); the median
        counts.
    bench_store runs DIR RUNS REPS
        creates the workspace DIR/ws-runs with RUNS runs (3 params, 3 metrics
        each; setup, not timed), then times wb_store_runs with limit 50:
        plain, with a filter, with a metric sort, and both (median of REPS).
        The workspace is left for the caller to time `workbench runs` on.
    bench_store show DIR POINTS
        creates the workspace DIR/ws-show with one completed run holding
        POINTS points of one metric (setup, not timed), and prints its id
        for the caller to time `workbench show RUN` on.

    Prints one JSON object on stdout; exit status 1 on any failure.

    Built by tests/bench/bench.py with
        cc -O2 -Ilib bench_store.c build/libworkbench.a \
           $(pkg-config --cflags --libs libczmq libzmq libsodium jansson sqlite3) -lm -lpthread
*/
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "store/wb_store.h"

//  ---- Helpers ----

static void
s_die (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "bench_store: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    exit (1);
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int
s_compare_doubles (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

static double
s_median (double *values, size_t count)
{
    qsort (values, count, sizeof (double), s_compare_doubles);
    return count % 2? values [count / 2]
                    : (values [count / 2 - 1] + values [count / 2]) / 2;
}

//  A fresh folder DIR/NAME (it must not exist yet); caller frees.
static char *
s_folder (const char *dir, const char *name)
{
    size_t size = strlen (dir) + strlen (name) + 2;
    char *path = malloc (size);
    if (!path)
        s_die ("out of memory");
    snprintf (path, size, "%s/%s", dir, name);
    if (mkdir (path, 0755))
        s_die ("cannot create %s: %s", path, strerror (errno));
    return path;
}

static wb_store_t *
s_open (const char *path)
{
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, true, &err);
    if (!store)
        s_die ("cannot open workspace %s: %s", path, err.text);
    return store;
}

static void
s_run (wb_store_t *store, const char *experiment, const char *name, char *id)
{
    wb_run_spec_t spec = { experiment, name, "job", "running", NULL, "local", NULL, 0 };
    wb_error_t err;
    if (wb_store_run_create (store, &spec, id, &err))
        s_die ("cannot create a run: %s", err.text);
}

static void
s_sql (sqlite3 *db, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
        s_die ("%s: %s", sql, message? message: sqlite3_errmsg (db));
}

//  ---- ingest ----

//  The points of batch b: BATCH points, KEYS keys in turn, steps going on.
typedef struct {
    char **keys;                //  the key names
    size_t nkeys;               //  how many
    wb_metric_t *points;        //  every point, in batches
    size_t count;               //  how many points
} s_data_t;

static s_data_t
s_data_new (size_t count, size_t nkeys)
{
    s_data_t data = { calloc (nkeys, sizeof (char *)), nkeys,
                      calloc (count, sizeof (wb_metric_t)), count };
    if (!data.keys || !data.points)
        s_die ("out of memory");
    for (size_t k = 0; k < nkeys; k++) {
        data.keys [k] = malloc (32);
        snprintf (data.keys [k], 32, "metric_%zu", k);
    }
    double t0 = 1.7e9;
    for (size_t i = 0; i < count; i++) {
        size_t k = i % nkeys;
        int64_t step = (int64_t) (i / nkeys);
        data.points [i] = (wb_metric_t) {
            data.keys [k], step, 1.0 / (1.0 + (double) step) + 0.001 * (double) k,
            t0 + (double) step * 0.01
        };
    }
    return data;
}

static void
s_data_destroy (s_data_t *data)
{
    for (size_t k = 0; k < data->nkeys; k++)
        free (data->keys [k]);
    free (data->keys);
    free (data->points);
}

//  Seconds to log every point through wb_store_log, batch by batch.
static double
s_ingest_store (const char *dir, s_data_t *data, size_t batch)
{
    wb_store_t *store = s_open (dir);
    char id [9];
    s_run (store, "ingest", "ingest", id);
    wb_error_t err;
    double t0 = s_now ();
    for (size_t from = 0; from < data->count; from += batch) {
        size_t size = data->count - from < batch? data->count - from: batch;
        if (wb_store_log (store, id, data->points + from, size, &err))
            s_die ("wb_store_log: %s", err.text);
    }
    double seconds = s_now () - t0;
    //  Check that everything landed
    json_t *run = wb_store_run_get (store, id, &err);
    if (!run)
        s_die ("wb_store_run_get: %s", err.text);
    json_int_t total = 0;
    const char *key;
    json_t *metric;
    json_object_foreach (json_object_get (run, "metrics"), key, metric)
        total += json_integer_value (json_object_get (metric, "count"));
    if ((size_t) total != data->count)
        s_die ("stored %lld points, logged %zu", (long long) total, data->count);
    json_decref (run);
    wb_store_destroy (&store);
    return seconds;
}

//  Seconds to insert every point as a row of a plain SQLite table.
static double
s_ingest_sqlite (const char *dir, s_data_t *data, size_t batch)
{
    size_t size = strlen (dir) + 16;
    char *path = malloc (size);
    snprintf (path, size, "%s/floor.db", dir);
    sqlite3 *db;
    if (sqlite3_open (path, &db) != SQLITE_OK)
        s_die ("cannot open %s", path);
    free (path);
    s_sql (db, "PRAGMA journal_mode = WAL");
    s_sql (db, "PRAGMA synchronous = NORMAL");
    s_sql (db, "CREATE TABLE metrics (run TEXT NOT NULL, key TEXT NOT NULL,"
               " step INTEGER NOT NULL, value REAL, time REAL NOT NULL)");
    double t0 = s_now ();
    for (size_t from = 0; from < data->count; from += batch) {
        size_t end = data->count - from < batch? data->count: from + batch;
        s_sql (db, "BEGIN");
        sqlite3_stmt *stmt;
        if (sqlite3_prepare_v2 (db, "INSERT INTO metrics (run, key, step, value, time)"
                                    " VALUES (?, ?, ?, ?, ?)", -1, &stmt, NULL) != SQLITE_OK)
            s_die ("prepare: %s", sqlite3_errmsg (db));
        for (size_t i = from; i < end; i++) {
            const wb_metric_t *point = &data->points [i];
            sqlite3_bind_text (stmt, 1, "0123abcd", 8, SQLITE_STATIC);
            sqlite3_bind_text (stmt, 2, point->key, -1, SQLITE_STATIC);
            sqlite3_bind_int64 (stmt, 3, point->step);
            sqlite3_bind_double (stmt, 4, point->value);
            sqlite3_bind_double (stmt, 5, point->time);
            if (sqlite3_step (stmt) != SQLITE_DONE)
                s_die ("insert: %s", sqlite3_errmsg (db));
            sqlite3_reset (stmt);
        }
        sqlite3_finalize (stmt);
        s_sql (db, "COMMIT");
    }
    double seconds = s_now () - t0;
    sqlite3_close (db);
    return seconds;
}

static int
s_ingest (const char *dir, size_t count, size_t batch, size_t nkeys, size_t reps)
{
    s_data_t data = s_data_new (count, nkeys);
    double *store_s = calloc (reps, sizeof (double));
    double *sqlite_s = calloc (reps, sizeof (double));
    for (size_t rep = 0; rep < reps; rep++) {
        char name [64];
        snprintf (name, sizeof (name), "ingest-store-%zu", rep);
        char *folder = s_folder (dir, name);
        store_s [rep] = s_ingest_store (folder, &data, batch);
        free (folder);
        snprintf (name, sizeof (name), "ingest-sqlite-%zu", rep);
        folder = s_folder (dir, name);
        sqlite_s [rep] = s_ingest_sqlite (folder, &data, batch);
        free (folder);
    }
    double store_median = s_median (store_s, reps);
    double sqlite_median = s_median (sqlite_s, reps);
    printf ("{\"points\": %zu, \"batch\": %zu, \"keys\": %zu, \"reps\": %zu,"
            " \"store_s\": %.6f, \"sqlite_s\": %.6f,"
            " \"store_pps\": %.0f, \"sqlite_pps\": %.0f}\n",
            count, batch, nkeys, reps, store_median, sqlite_median,
            (double) count / store_median, (double) count / sqlite_median);
    free (store_s);
    free (sqlite_s);
    s_data_destroy (&data);
    return 0;
}

//  ---- runs ----

static const char *s_models [] = { "mlp", "cnn", "linear", "forest" };

static double
s_time_runs (wb_store_t *store, const char *filter, const char *sort, size_t reps,
             size_t *rows)
{
    double *times = calloc (reps, sizeof (double));
    for (size_t rep = 0; rep < reps; rep++) {
        wb_error_t err;
        double t0 = s_now ();
        json_t *runs = wb_store_runs (store, NULL, filter, sort, 50, &err);
        times [rep] = s_now () - t0;
        if (!runs)
            s_die ("wb_store_runs (%s, %s): %s", filter? filter: "-", sort? sort: "-", err.text);
        *rows = json_array_size (runs);
        json_decref (runs);
    }
    double median = s_median (times, reps);
    free (times);
    return median;
}

static int
s_runs (const char *dir, size_t count, size_t reps)
{
    char *folder = s_folder (dir, "ws-runs");
    wb_store_t *store = s_open (folder);
    //  Setup only: no fsync while the runs are made
    s_sql (wb_store_db (store), "PRAGMA synchronous = OFF");
    double t0 = s_now ();
    wb_error_t err;
    for (size_t i = 0; i < count; i++) {
        char id [9], name [32], experiment [32];
        snprintf (name, sizeof (name), "run-%05zu", i);
        snprintf (experiment, sizeof (experiment), "exp-%zu", i % 10);
        s_run (store, experiment, name, id);
        char lr [32], batch [32];
        snprintf (lr, sizeof (lr), "%g", 0.001 * (double) (1 + i % 7));
        snprintf (batch, sizeof (batch), "%zu", (size_t) 16 << (i % 4));
        json_t *params = json_pack ("{s:s, s:s, s:s}", "model", s_models [i % 4],
                                    "lr", lr, "batch", batch);
        if (wb_store_params (store, id, params, &err))
            s_die ("wb_store_params: %s", err.text);
        json_decref (params);
        double acc = 0.5 + 0.5 * (double) ((i * 7919) % 10007) / 10007.0;
        wb_metric_t points [3] = {
            { "acc", 0, acc, 0 }, { "loss", 0, 1.0 - acc, 0 }, { "f1", 0, acc * 0.9, 0 }
        };
        if (wb_store_log (store, id, points, 3, &err))
            s_die ("wb_store_log: %s", err.text);
        if (wb_store_run_status (store, id, "completed", NULL, &err))
            s_die ("wb_store_run_status: %s", err.text);
    }
    double setup = s_now () - t0;
    s_sql (wb_store_db (store), "PRAGMA synchronous = NORMAL");

    const char *filter = "metrics.acc > 0.9 and params.model = 'mlp'";
    const char *sort = "-metrics.acc";
    size_t rows_plain, rows_filter, rows_sort, rows_both;
    double plain = s_time_runs (store, NULL, NULL, reps, &rows_plain);
    double filtered = s_time_runs (store, filter, NULL, reps, &rows_filter);
    double sorted = s_time_runs (store, NULL, sort, reps, &rows_sort);
    double both = s_time_runs (store, filter, sort, reps, &rows_both);
    if (rows_plain != 50 || rows_sort != 50 || rows_filter == 0 || rows_both == 0)
        s_die ("unexpected row counts %zu %zu %zu %zu", rows_plain, rows_filter, rows_sort, rows_both);
    wb_store_destroy (&store);
    printf ("{\"runs\": %zu, \"reps\": %zu, \"setup_s\": %.3f, \"workspace\": \"%s\","
            " \"filter\": \"%s\", \"sort\": \"%s\","
            " \"plain_s\": %.6f, \"filter_s\": %.6f, \"sort_s\": %.6f, \"both_s\": %.6f}\n",
            count, reps, setup, folder, filter, sort, plain, filtered, sorted, both);
    free (folder);
    return 0;
}

//  ---- show ----

static int
s_show (const char *dir, size_t count)
{
    char *folder = s_folder (dir, "ws-show");
    wb_store_t *store = s_open (folder);
    s_sql (wb_store_db (store), "PRAGMA synchronous = OFF");
    char id [9];
    s_run (store, "show", "big", id);
    size_t batch = 100000;
    wb_metric_t *points = calloc (batch, sizeof (wb_metric_t));
    if (!points)
        s_die ("out of memory");
    wb_error_t err;
    for (size_t from = 0; from < count; from += batch) {
        size_t size = count - from < batch? count - from: batch;
        for (size_t i = 0; i < size; i++) {
            double step = (double) (from + i);
            points [i] = (wb_metric_t) { "loss", (int64_t) (from + i),
                                         2.0 / (1.0 + step / 1000.0) + 0.05 * sin (step / 50.0), 0 };
        }
        if (wb_store_log (store, id, points, size, &err))
            s_die ("wb_store_log: %s", err.text);
    }
    free (points);
    if (wb_store_run_status (store, id, "completed", NULL, &err))
        s_die ("wb_store_run_status: %s", err.text);
    s_sql (wb_store_db (store), "PRAGMA synchronous = NORMAL");
    wb_store_destroy (&store);
    printf ("{\"points\": %zu, \"workspace\": \"%s\", \"run\": \"%s\"}\n", count, folder, id);
    free (folder);
    return 0;
}

int
main (int argc, char **argv)
{
    const char *usage =
        "usage: bench_store ingest DIR POINTS BATCH KEYS REPS\n"
        "       bench_store runs DIR RUNS REPS\n"
        "       bench_store show DIR POINTS\n";
    if (argc == 7 && strcmp (argv [1], "ingest") == 0)
        return s_ingest (argv [2], strtoul (argv [3], NULL, 10), strtoul (argv [4], NULL, 10),
                         strtoul (argv [5], NULL, 10), strtoul (argv [6], NULL, 10));
    if (argc == 5 && strcmp (argv [1], "runs") == 0)
        return s_runs (argv [2], strtoul (argv [3], NULL, 10), strtoul (argv [4], NULL, 10));
    if (argc == 4 && strcmp (argv [1], "show") == 0)
        return s_show (argv [2], strtoul (argv [3], NULL, 10));
    fputs (usage, stderr);
    return 1;
}
