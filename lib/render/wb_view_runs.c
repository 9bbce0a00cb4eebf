/*  wb_view_runs - the views of the workspace and its runs, from the
    records wb_store gives; only the metric charts read the store (the
    histories of the metrics they draw)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_view_runs.h"
#include "wb_view.h"
#include "wb_render.h"
#include "cell/wb_out.h"
#include "base/wb_util.h"

//  ---- Helpers ----

static double
s_number (json_t *value)
{
    return json_is_number (value)? json_number_value (value): NAN;
}

static double
s_run_duration (json_t *run)
{
    double started = s_number (json_object_get (run, "started"));
    double ended = s_number (json_object_get (run, "ended"));
    if (isnan (started))
        return NAN;
    return (isnan (ended)? wb_time_now (): ended) - started;
}

static const char *
s_text (json_t *value)
{
    return json_is_string (value)? json_string_value (value): "";
}

static json_t *
s_bundle (wb_table_t **table_p)
{
    json_t *bundle = wb_table_bundle (*table_p);
    wb_table_destroy (table_p);
    return bundle;
}

//  ---- The workspace, experiments, runs ----

json_t *
wb_view_workspace (json_t *summary, const char *path, const char *experiment)
{
    wb_table_t *table = wb_table_new ("Workspace");
    wb_table_column (table, "field", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_LEFT);
    wb_table_row (table);
    wb_table_cell (table, "path");
    wb_table_cell (table, path);
    static const char *counts [] = { "experiments", "runs", "metric_points", "artifacts", NULL };
    for (const char **name = counts; *name; name++) {
        wb_table_row (table);
        wb_table_cell (table, *name);
        wb_table_cellf (table, "%lld", (long long) json_integer_value (json_object_get (summary, *name)));
    }
    const char *status;
    json_t *count;
    json_object_foreach (json_object_get (summary, "by_status"), status, count) {
        wb_table_row (table);
        wb_table_cellf (table, "runs %s", status);
        wb_table_cellf (table, "%lld", (long long) json_integer_value (count));
    }
    wb_table_row (table);
    wb_table_cell (table, "size");
    wb_table_cellf (table, "%.1f MiB", (double) json_integer_value (json_object_get (summary, "size")) / 1048576.0);
    wb_table_row (table);
    wb_table_cell (table, "experiment");
    wb_table_cell (table, experiment);
    return s_bundle (&table);
}

json_t *
wb_view_experiments (json_t *experiments, const char *current)
{
    char caption [300];
    snprintf (caption, sizeof (caption), "Current experiment: %s", current);
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "experiment", WB_ALIGN_LEFT);
    wb_table_column (table, "runs", WB_ALIGN_RIGHT);
    wb_table_column (table, "last run", WB_ALIGN_LEFT);
    size_t index;
    json_t *experiment;
    json_array_foreach (experiments, index, experiment) {
        char when [32];
        wb_view_when (s_number (json_object_get (experiment, "last_run")), when, sizeof (when));
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (experiment, "name")));
        wb_table_number (table, s_number (json_object_get (experiment, "runs")));
        wb_table_cell (table, when);
    }
    return s_bundle (&table);
}

//  The keys of field (params or metrics) across runs, most common first.
static json_t *
s_common_keys (json_t *runs, const char *field, size_t most)
{
    json_t *counts = json_object ();
    size_t index;
    json_t *run;
    json_array_foreach (runs, index, run) {
        const char *key;
        json_t *value;
        json_object_foreach (json_object_get (run, field), key, value)
            json_object_set_new (counts, key, json_integer (
                json_integer_value (json_object_get (counts, key)) + 1));
    }
    json_t *keys = json_array ();
    while (json_array_size (keys) < most && json_object_size (counts)) {
        const char *best = NULL, *key;
        json_int_t best_count = 0;
        json_t *count;
        json_object_foreach (counts, key, count)
            if (json_integer_value (count) > best_count
            || (json_integer_value (count) == best_count && best && strcmp (key, best) < 0)) {
                best = key;
                best_count = json_integer_value (count);
            }
        json_array_append_new (keys, json_string (best));
        json_object_del (counts, best);
    }
    json_decref (counts);
    return keys;
}

json_t *
wb_view_runs (json_t *runs, bool with_experiment, bool more)
{
    json_t *param_keys = s_common_keys (runs, "params", 6);
    json_t *metric_keys = s_common_keys (runs, "metrics", 6);
    char caption [128];
    snprintf (caption, sizeof (caption), "%zu run%s%s", json_array_size (runs),
              json_array_size (runs) == 1? "": "s",
              more? " (more: --limit N or --all)": "");
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "id", WB_ALIGN_LEFT);
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    if (with_experiment)
        wb_table_column (table, "experiment", WB_ALIGN_LEFT);
    wb_table_column (table, "status", WB_ALIGN_LEFT);
    wb_table_column (table, "created", WB_ALIGN_LEFT);
    wb_table_column (table, "duration", WB_ALIGN_RIGHT);
    size_t index;
    json_t *key;
    json_array_foreach (param_keys, index, key) {
        char *title = wb_sprintf ("params.%s", json_string_value (key));
        wb_table_column (table, title, WB_ALIGN_LEFT);
        free (title);
    }
    json_array_foreach (metric_keys, index, key) {
        char *title = wb_sprintf ("metrics.%s", json_string_value (key));
        wb_table_column (table, title, WB_ALIGN_RIGHT);
        free (title);
    }
    json_t *run;
    json_array_foreach (runs, index, run) {
        char when [32], duration [32];
        wb_view_when (s_number (json_object_get (run, "created")), when, sizeof (when));
        wb_view_duration (s_run_duration (run), duration, sizeof (duration));
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (run, "id")));
        wb_table_cell (table, s_text (json_object_get (run, "name")));
        if (with_experiment)
            wb_table_cell (table, s_text (json_object_get (run, "experiment")));
        wb_table_cell (table, s_text (json_object_get (run, "status")));
        wb_table_cell (table, when);
        wb_table_cell (table, duration);
        size_t column;
        json_array_foreach (param_keys, column, key)
            wb_table_cell (table, s_text (json_object_get (json_object_get (run, "params"),
                                                           json_string_value (key))));
        json_array_foreach (metric_keys, column, key)
            wb_table_number (table, s_number (json_object_get (json_object_get (run, "metrics"),
                                                               json_string_value (key))));
    }
    json_decref (param_keys);
    json_decref (metric_keys);
    return s_bundle (&table);
}

//  ---- A run ----

json_t *
wb_view_run_card (json_t *run, const char *id)
{
    if (!run)
        return wb_bundle_new ("");
    char caption [256];
    snprintf (caption, sizeof (caption), "Run %s (%s) · %s · experiment %s",
        s_text (json_object_get (run, "name")), id, s_text (json_object_get (run, "status")),
        s_text (json_object_get (run, "experiment")));
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "metric", WB_ALIGN_LEFT);
    wb_table_column (table, "latest", WB_ALIGN_RIGHT);
    wb_table_column (table, "step", WB_ALIGN_RIGHT);
    wb_table_column (table, "min", WB_ALIGN_RIGHT);
    wb_table_column (table, "max", WB_ALIGN_RIGHT);
    wb_table_column (table, "points", WB_ALIGN_RIGHT);
    const char *key;
    json_t *metric;
    json_object_foreach (json_object_get (run, "metrics"), key, metric) {
        wb_table_row (table);
        wb_table_cell (table, key);
        wb_table_number (table, s_number (json_object_get (metric, "value")));
        wb_table_number (table, s_number (json_object_get (metric, "step")));
        wb_table_number (table, s_number (json_object_get (metric, "min")));
        wb_table_number (table, s_number (json_object_get (metric, "max")));
        wb_table_number (table, s_number (json_object_get (metric, "count")));
    }
    return s_bundle (&table);
}

static void
s_field_row (wb_table_t *table, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    wb_table_row (table);
    wb_table_cell (table, name);
    wb_table_cell (table, value);
}

json_t *
wb_view_run (json_t *run, const char *id)
{
    char caption [256], created [32], started [32], ended [32], duration [32];
    snprintf (caption, sizeof (caption), "Run %s (%s)", s_text (json_object_get (run, "name")), id);
    wb_view_when (s_number (json_object_get (run, "created")), created, sizeof (created));
    wb_view_when (s_number (json_object_get (run, "started")), started, sizeof (started));
    wb_view_when (s_number (json_object_get (run, "ended")), ended, sizeof (ended));
    wb_view_duration (s_run_duration (run), duration, sizeof (duration));
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "field", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_LEFT);
    s_field_row (table, "id", id);
    s_field_row (table, "name", s_text (json_object_get (run, "name")));
    s_field_row (table, "experiment", s_text (json_object_get (run, "experiment")));
    s_field_row (table, "kind", s_text (json_object_get (run, "kind")));
    s_field_row (table, "status", s_text (json_object_get (run, "status")));
    s_field_row (table, "created", created);
    s_field_row (table, "started", started);
    s_field_row (table, "ended", ended);
    s_field_row (table, "duration", duration);
    s_field_row (table, "compute", s_text (json_object_get (run, "compute")));
    s_field_row (table, "command", s_text (json_object_get (run, "command")));
    s_field_row (table, "snapshot", s_text (json_object_get (run, "snapshot")));
    s_field_row (table, "parent", s_text (json_object_get (run, "parent")));
    s_field_row (table, "error", s_text (json_object_get (run, "error")));
    if (json_array_size (json_object_get (run, "children"))) {
        char children [32];
        snprintf (children, sizeof (children), "%zu", json_array_size (json_object_get (run, "children")));
        s_field_row (table, "child runs", children);
    }
    return s_bundle (&table);
}

json_t *
wb_view_key_values (const char *caption, json_t *object)
{
    if (json_object_size (object) == 0)
        return NULL;
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "key", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_LEFT);
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        wb_table_row (table);
        wb_table_cell (table, key);
        wb_table_cell (table, s_text (value));
    }
    return s_bundle (&table);
}

json_t *
wb_view_artifacts (const char *caption, json_t *artifacts)
{
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "path", WB_ALIGN_LEFT);
    wb_table_column (table, "bytes", WB_ALIGN_RIGHT);
    wb_table_column (table, "sha256", WB_ALIGN_LEFT);
    size_t index;
    json_t *artifact;
    json_array_foreach (artifacts, index, artifact) {
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (artifact, "path")));
        wb_table_cellf (table, "%lld", (long long) json_integer_value (json_object_get (artifact, "size")));
        wb_table_cellf (table, "%.12s", s_text (json_object_get (artifact, "hash")));
    }
    return s_bundle (&table);
}

json_t *
wb_view_lineage (json_t *lineage)
{
    if (!json_array_size (lineage))
        return NULL;
    wb_table_t *table = wb_table_new ("Lineage");
    wb_table_column (table, "direction", WB_ALIGN_LEFT);
    wb_table_column (table, "kind", WB_ALIGN_LEFT);
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "version", WB_ALIGN_RIGHT);
    size_t index;
    json_t *link;
    json_array_foreach (lineage, index, link) {
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (link, "direction")));
        wb_table_cell (table, s_text (json_object_get (link, "kind")));
        wb_table_cell (table, s_text (json_object_get (link, "name")));
        wb_table_number (table, s_number (json_object_get (link, "version")));
    }
    return s_bundle (&table);
}

json_t *
wb_view_metric_chart (wb_store_t *store, json_t *ids, json_t *labels, const char *key,
                      bool log_y, wb_error_t *err)
{
    wb_chart_t *chart = wb_chart_new (key, "step", key);
    wb_chart_set_log_y (chart, log_y);
    size_t index;
    json_t *id;
    int rc = 0;
    json_array_foreach (ids, index, id) {
        double *steps, *values;
        size_t count;
        if (wb_store_history (store, json_string_value (id), key, &steps, &values, NULL,
                              &count, err)) {
            rc = -1;
            break;
        }
        if (count)
            wb_chart_series (chart, json_string_value (json_array_get (labels, index)),
                             steps, values, count);
        free (steps);
        free (values);
    }
    json_t *bundle = rc? NULL: wb_chart_bundle (chart);
    wb_chart_destroy (&chart);
    return bundle;
}

//  ---- Runs side by side ----

json_t *
wb_view_compare (json_t *runs, json_t *labels)
{
    //  Params side by side: rows that differ are marked
    json_t *keys = json_object ();
    size_t index;
    json_t *run;
    json_array_foreach (runs, index, run) {
        const char *key;
        json_t *value;
        json_object_foreach (json_object_get (run, "params"), key, value)
            json_object_set_new (keys, key, json_true ());
        json_object_foreach (json_object_get (run, "metrics"), key, value) {
            char *name = wb_sprintf ("metrics.%s", key);
            json_object_set_new (keys, name, json_true ());
            free (name);
        }
    }
    wb_table_t *table = wb_table_new ("Compared (≠ marks what differs)");
    wb_table_column (table, "", WB_ALIGN_LEFT);
    wb_table_column (table, "key", WB_ALIGN_LEFT);
    json_array_foreach (labels, index, run)
        wb_table_column (table, json_string_value (run), WB_ALIGN_LEFT);
    const char *key;
    json_t *present;
    json_object_foreach (keys, key, present) {
        bool metric = wb_starts_with (key, "metrics.");
        json_t *cells = json_array ();
        bool differs = false;
        json_array_foreach (runs, index, run) {
            char *text;
            if (metric) {
                json_t *metric_value = json_object_get (json_object_get (json_object_get (run, "metrics"),
                                                                         key + 8), "value");
                text = json_is_number (metric_value)
                     ? wb_sprintf ("%.6g", json_number_value (metric_value)): wb_strdup ("");
            }
            else
                text = wb_strdup (s_text (json_object_get (json_object_get (run, "params"), key)));
            if (index && !streq (text, json_string_value (json_array_get (cells, 0))))
                differs = true;
            json_array_append_new (cells, json_string (text));
            free (text);
        }
        wb_table_row (table);
        wb_table_cell (table, differs? "≠": "");
        wb_table_cell (table, key);
        json_t *cell;
        json_array_foreach (cells, index, cell)
            wb_table_cell (table, json_string_value (cell));
        json_decref (cells);
    }
    json_decref (keys);
    return s_bundle (&table);
}

//  @selftest
static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  The start of the line of text where needle is
static const char *
s_test_line (const char *text, const char *needle)
{
    const char *at = strstr (text, needle);
    assert (at);
    while (at > text && at [-1] != '\n')
        at--;
    return at;
}

void
wb_view_runs_test (bool verbose)
{
    //  Two runs as wb_store_run_get gives them
    json_t *one = json_pack ("{s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:{s:s, s:s},"
                             " s:{s:{s:f, s:i, s:f, s:f, s:i}}, s:[{s:s, s:s, s:s, s:i}]}",
        "id", "aaaa1111", "name", "first", "experiment", "default", "status", "completed",
        "created", 1795000000.0, "started", 1795000000.0, "ended", 1795000184.0,
        "params", "lr", "0.1", "layers", "<2>",
        "metrics", "loss", "value", 0.25, "step", 9, "min", 0.25, "max", 1.5, "count", 10,
        "lineage", "direction", "input", "kind", "dataset", "name", "iris", "version", 2);
    json_t *two = json_pack ("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:{s:f}}}",
        "id", "bbbb2222", "name", "second", "experiment", "other", "status", "running",
        "params", "lr", "0.1", "metrics", "loss", "value", 0.5);
    json_t *bundle = wb_view_run_card (one, "aaaa1111");
    const char *plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Run first (aaaa1111) · completed · experiment default"));
    assert (strstr (plain, "loss") && strstr (plain, "0.25") && strstr (plain, "1.5"));
    if (verbose)
        printf ("\n%s", plain);
    json_decref (bundle);
    bundle = wb_view_run_card (NULL, "none");
    assert (bundle && json_object_get (bundle, "text/plain"));
    json_decref (bundle);

    //  %show's tables: the fields it has, params, lineage
    bundle = wb_view_run (one, "aaaa1111");
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Run first (aaaa1111)") && strstr (plain, "3 min 04 s"));
    assert (!strstr (plain, "compute") && !strstr (plain, "child runs"));
    json_decref (bundle);
    bundle = wb_view_key_values ("Params", json_object_get (one, "params"));
    assert (bundle && strstr (s_test_str (bundle, "text/html"), "&lt;2&gt;"));
    json_decref (bundle);
    assert (wb_view_key_values ("Tags", json_object_get (one, "tags")) == NULL);
    bundle = wb_view_lineage (json_object_get (one, "lineage"));
    assert (bundle && strstr (s_test_str (bundle, "text/plain"), "iris"));
    json_decref (bundle);
    assert (wb_view_lineage (json_object_get (two, "lineage")) == NULL);
    json_t *artifacts = json_pack ("[{s:s, s:i, s:s}]", "path", "model.wbm", "size", 1234,
        "hash", "0123456789abcdef0123");
    bundle = wb_view_artifacts ("Artifacts", artifacts);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "model.wbm") && strstr (plain, "1234"));
    assert (strstr (plain, "0123456789ab") && !strstr (plain, "0123456789abc"));
    json_decref (bundle);
    json_decref (artifacts);

    //  %runs: the experiment column only when asked, the common keys
    json_t *runs = json_pack ("[O, O]", one, two);
    bundle = wb_view_runs (runs, true, true);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "2 runs (more: --limit N or --all)"));
    assert (strstr (plain, "experiment") && strstr (plain, "params.lr"));
    assert (strstr (plain, "params.layers") && strstr (plain, "metrics.loss"));
    assert (strstr (plain, "lr") < strstr (plain, "layers"));
    json_decref (bundle);
    bundle = wb_view_runs (runs, false, false);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "2 runs") && !strstr (plain, "more") && !strstr (plain, "other"));
    json_decref (bundle);

    //  %compare: what differs is marked
    json_t *labels = json_pack ("[s, s]", "first (aaaa1111)", "second (bbbb2222)");
    bundle = wb_view_compare (runs, labels);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "second (bbbb2222)") && strstr (plain, "metrics.loss"));
    assert (strncmp (s_test_line (plain, "metrics.loss"), "≠", strlen ("≠")) == 0);
    assert (strncmp (s_test_line (plain, "layers"), "≠", strlen ("≠")) == 0);
    assert (strncmp (s_test_line (plain, " lr "), "≠", strlen ("≠")) != 0);
    if (verbose)
        printf ("%s", plain);
    json_decref (bundle);
    json_decref (labels);
    json_decref (runs);

    //  The workspace and experiments
    json_t *summary = json_pack ("{s:i, s:i, s:{s:i}, s:i}", "experiments", 2, "runs", 7,
                                 "by_status", "failed", 1, "size", 3 * 1048576);
    bundle = wb_view_workspace (summary, "/scratch/ws", "default");
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "/scratch/ws") && strstr (plain, "runs failed") && strstr (plain, "3.0 MiB"));
    json_decref (bundle);
    json_decref (summary);
    json_t *experiments = json_pack ("[{s:s, s:i}]", "name", "default", "runs", 7);
    bundle = wb_view_experiments (experiments, "default");
    assert (strstr (s_test_str (bundle, "text/plain"), "Current experiment: default"));
    json_decref (bundle);
    json_decref (experiments);
    json_decref (one);
    json_decref (two);
}
//  @end
