/*  wb_view_serve - the views of the model registry and of endpoints, from
    the records wb_registry gives (the registry itself is not needed: an
    endpoint's record says whether it is "alive")
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_view_serve.h"
#include "wb_view.h"
#include "wb_render.h"
#include "base/wb_util.h"

//  ---- Helpers ----

static const char *
s_text (json_t *value)
{
    return json_is_string (value)? json_string_value (value): "";
}

static void
s_field (wb_table_t *table, const char *name, const char *value)
{
    wb_table_row (table);
    wb_table_cell (table, name);
    wb_table_cell (table, value? value: "");
}

static void
s_when (json_t *value, char *buf, size_t size)
{
    wb_view_when (json_is_number (value)? json_number_value (value): 0, buf, size);
}

static json_t *
s_bundle (wb_table_t **table_p)
{
    json_t *bundle = wb_table_bundle (*table_p);
    wb_table_destroy (table_p);
    return bundle;
}

//  ---- Models ----

json_t *
wb_view_model (json_t *model)
{
    char caption [200], created [32], archived [32];
    snprintf (caption, sizeof (caption), "Model %s:%lld", s_text (json_object_get (model, "name")),
              (long long) json_integer_value (json_object_get (model, "version")));
    s_when (json_object_get (model, "created"), created, sizeof (created));
    s_when (json_object_get (model, "archived"), archived, sizeof (archived));
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "field", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_LEFT);
    s_field (table, "name", s_text (json_object_get (model, "name")));
    wb_table_row (table);
    wb_table_cell (table, "version");
    wb_table_cellf (table, "%lld", (long long) json_integer_value (json_object_get (model, "version")));
    s_field (table, "run", s_text (json_object_get (model, "run")));
    s_field (table, "artifact", s_text (json_object_get (model, "path")));
    s_field (table, "hash", s_text (json_object_get (model, "hash")));
    s_field (table, "flavor", s_text (json_object_get (model, "flavor")));
    s_field (table, "kind", s_text (json_object_get (model, "kind")));
    s_field (table, "task", s_text (json_object_get (model, "task")));
    //  A user's own model: the Python that loads it and what it said
    json_t *facts = json_object_get (model, "facts");
    if (json_is_string (json_object_get (model, "python"))) {
        const char *version = s_text (json_object_get (facts, "python"));
        char *python = wb_sprintf ("%s%s%s%s", s_text (json_object_get (model, "python")),
                                   *version? " (Python ": "", version, *version? ")": "");
        s_field (table, "python", python);
        free (python);
    }
    if (json_is_string (json_object_get (model, "scorer")))
        s_field (table, "scorer", s_text (json_object_get (model, "scorer")));
    if (json_is_object (facts)) {
        json_t *lists [2] = { json_object_get (facts, "columns"), json_object_get (facts, "classes") };
        const char *names [2] = { "columns", "classes" };
        for (int i = 0; i < 2; i++) {
            char *text = json_is_array (lists [i])? json_dumps (lists [i], JSON_COMPACT): NULL;
            s_field (table, names [i], text? text: "(not known)");
            free (text);
        }
        s_field (table, "batching", json_is_true (json_object_get (facts, "batch"))
                 ? "yes (many rows a call)": "no (one request a call)");
    }
    s_field (table, "status", s_text (json_object_get (model, "status")));
    s_field (table, "created", created);
    if (json_is_number (json_object_get (model, "archived")))
        s_field (table, "archived", archived);
    s_field (table, "description", s_text (json_object_get (model, "description")));
    char *aliases = json_dumps (json_object_get (model, "aliases"), JSON_COMPACT | JSON_ENCODE_ANY);
    s_field (table, "aliases", aliases);
    free (aliases);
    char *tags = json_dumps (json_object_get (model, "tags"), JSON_COMPACT | JSON_ENCODE_ANY);
    s_field (table, "tags", tags);
    free (tags);
    json_t *datasets = json_object_get (model, "datasets");
    wb_buf_t *text = wb_buf_new ();
    size_t index;
    json_t *item;
    json_array_foreach (datasets, index, item)
        wb_buf_printf (text, "%s%s:%lld", index? ", ": "", s_text (json_object_get (item, "name")),
                       (long long) json_integer_value (json_object_get (item, "version")));
    s_field (table, "datasets", wb_buf_data (text));
    wb_buf_destroy (&text);
    return s_bundle (&table);
}

json_t *
wb_view_model_metrics (json_t *model)
{
    json_t *metrics = json_object_get (model, "metrics");
    if (!json_object_size (metrics))
        return NULL;
    wb_table_t *table = wb_table_new ("Metrics");
    wb_table_column (table, "metric", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_RIGHT);
    const char *key;
    json_t *value;
    json_object_foreach (metrics, key, value) {
        wb_table_row (table);
        wb_table_cell (table, key);
        wb_table_number (table, json_is_number (value)? json_number_value (value): NAN);
    }
    return s_bundle (&table);
}

//  A version's aliases, comma separated, as one table cell
static void
s_aliases_cell (wb_table_t *table, json_t *aliases)
{
    wb_buf_t *text = wb_buf_new ();
    size_t i;
    json_t *alias;
    json_array_foreach (aliases, i, alias)
        wb_buf_printf (text, "%s%s", i? ", ": "", json_string_value (alias));
    wb_table_cell (table, wb_buf_data (text));
    wb_buf_destroy (&text);
}

json_t *
wb_view_models (json_t *models)
{
    char caption [64];
    snprintf (caption, sizeof (caption), "%zu model%s", json_array_size (models),
              json_array_size (models) == 1? "": "s");
    wb_table_t *table = wb_table_new (caption);
    const char *columns [] = { "name", "latest", "versions", "kind", "task", "aliases", "run", "created" };
    for (size_t c = 0; c < 8; c++)
        wb_table_column (table, columns [c], c == 1 || c == 2? WB_ALIGN_RIGHT: WB_ALIGN_LEFT);
    size_t index;
    json_t *model;
    json_array_foreach (models, index, model) {
        char created [32];
        s_when (json_object_get (model, "created"), created, sizeof (created));
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (model, "name")));
        wb_table_number (table, (double) json_integer_value (json_object_get (model, "version")));
        wb_table_number (table, (double) json_integer_value (json_object_get (model, "versions")));
        wb_table_cell (table, s_text (json_object_get (model, "kind")));
        wb_table_cell (table, s_text (json_object_get (model, "task")));
        s_aliases_cell (table, json_object_get (model, "aliases"));
        wb_table_cell (table, s_text (json_object_get (model, "run")));
        wb_table_cell (table, created);
    }
    return s_bundle (&table);
}

json_t *
wb_view_model_versions (const char *name, json_t *versions)
{
    char caption [160];
    snprintf (caption, sizeof (caption), "Versions of %s", name);
    wb_table_t *table = wb_table_new (caption);
    const char *columns [] = { "version", "status", "run", "aliases", "created", "description" };
    for (size_t c = 0; c < 6; c++)
        wb_table_column (table, columns [c], c == 0? WB_ALIGN_RIGHT: WB_ALIGN_LEFT);
    size_t index;
    json_t *row;
    json_array_foreach (versions, index, row) {
        char created [32];
        s_when (json_object_get (row, "created"), created, sizeof (created));
        wb_table_row (table);
        wb_table_number (table, (double) json_integer_value (json_object_get (row, "version")));
        wb_table_cell (table, s_text (json_object_get (row, "status")));
        wb_table_cell (table, s_text (json_object_get (row, "run")));
        s_aliases_cell (table, json_object_get (row, "aliases"));
        wb_table_cell (table, created);
        wb_table_cell (table, s_text (json_object_get (row, "description")));
    }
    return s_bundle (&table);
}

json_t *
wb_view_alias_history (json_t *history)
{
    if (!json_array_size (history))
        return NULL;
    wb_table_t *table = wb_table_new ("Alias history");
    wb_table_column (table, "time", WB_ALIGN_LEFT);
    wb_table_column (table, "alias", WB_ALIGN_LEFT);
    wb_table_column (table, "version", WB_ALIGN_RIGHT);
    wb_table_column (table, "previous", WB_ALIGN_RIGHT);
    size_t index;
    json_t *row;
    json_array_foreach (history, index, row) {
        char when [32];
        wb_time_iso (json_number_value (json_object_get (row, "time")), when, sizeof (when));
        wb_table_row (table);
        wb_table_cell (table, when);
        wb_table_cell (table, s_text (json_object_get (row, "alias")));
        wb_table_number (table, (double) json_integer_value (json_object_get (row, "version")));
        if (json_is_integer (json_object_get (row, "previous")))
            wb_table_number (table, (double) json_integer_value (json_object_get (row, "previous")));
        else
            wb_table_cell (table, "");
    }
    return s_bundle (&table);
}

//  ---- Endpoints ----

json_t *
wb_view_endpoint (json_t *endpoint)
{
    int port = (int) json_integer_value (json_object_get (endpoint, "port"));
    bool alive = json_is_true (json_object_get (endpoint, "alive"));
    char caption [200];
    snprintf (caption, sizeof (caption), "Endpoint %s", s_text (json_object_get (endpoint, "name")));
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "field", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_LEFT);
    s_field (table, "state", alive? "up": "down");
    char text [200];
    snprintf (text, sizeof (text), "http://127.0.0.1:%d/score", port);
    s_field (table, "scoring url", port? text: "");
    snprintf (text, sizeof (text), "http://127.0.0.1:%d/swagger.json", port);
    s_field (table, "openapi", port? text: "");
    s_field (table, "auth", streq (s_text (json_object_get (endpoint, "auth")), "none")? "none":
             "key (Authorization: Bearer KEY; shown when made)");
    snprintf (text, sizeof (text), "%lld", (long long) json_integer_value (json_object_get (endpoint, "pid")));
    s_field (table, "process", alive? text: "");
    snprintf (text, sizeof (text), "%lld (loaded %lld)",
              (long long) json_integer_value (json_object_get (endpoint, "generation")),
              (long long) json_integer_value (json_object_get (endpoint, "loaded")));
    s_field (table, "generation", text);
    snprintf (text, sizeof (text), "newest %lld rows, last %g days (%%endpoint retention)",
              (long long) json_integer_value (json_object_get (endpoint, "log_rows")),
              json_number_value (json_object_get (endpoint, "log_days")));
    s_field (table, "request log", text);
    if (json_is_string (json_object_get (endpoint, "error")))
        s_field (table, "error", s_text (json_object_get (endpoint, "error")));
    return s_bundle (&table);
}

json_t *
wb_view_deployments (json_t *endpoint)
{
    char caption [200];
    snprintf (caption, sizeof (caption), "Deployments of %s", s_text (json_object_get (endpoint, "name")));
    wb_table_t *table = wb_table_new (caption);
    const char *columns [] = { "deployment", "model", "kind", "traffic", "mirror", "updated" };
    for (size_t c = 0; c < 6; c++)
        wb_table_column (table, columns [c], c == 3 || c == 4? WB_ALIGN_RIGHT: WB_ALIGN_LEFT);
    size_t index;
    json_t *row;
    json_array_foreach (json_object_get (endpoint, "deployments"), index, row) {
        char updated [32];
        s_when (json_object_get (row, "updated"), updated, sizeof (updated));
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (row, "name")));
        wb_table_cellf (table, "%s:%lld", s_text (json_object_get (row, "model")),
                        (long long) json_integer_value (json_object_get (row, "version")));
        wb_table_cell (table, s_text (json_object_get (row, "kind")));
        wb_table_cellf (table, "%lld%%", (long long) json_integer_value (json_object_get (row, "traffic")));
        wb_table_cellf (table, "%lld%%", (long long) json_integer_value (json_object_get (row, "mirror")));
        wb_table_cell (table, updated);
    }
    return s_bundle (&table);
}

json_t *
wb_view_endpoints (json_t *endpoints)
{
    char caption [64];
    snprintf (caption, sizeof (caption), "%zu endpoint%s", json_array_size (endpoints),
              json_array_size (endpoints) == 1? "": "s");
    wb_table_t *table = wb_table_new (caption);
    const char *columns [] = { "endpoint", "state", "url", "deployments", "auth" };
    for (size_t c = 0; c < 5; c++)
        wb_table_column (table, columns [c], WB_ALIGN_LEFT);
    size_t index;
    json_t *endpoint;
    json_array_foreach (endpoints, index, endpoint) {
        wb_table_row (table);
        wb_table_cell (table, s_text (json_object_get (endpoint, "name")));
        wb_table_cell (table, json_is_true (json_object_get (endpoint, "alive"))? "up": "down");
        wb_table_cellf (table, "http://127.0.0.1:%lld/score",
                        (long long) json_integer_value (json_object_get (endpoint, "port")));
        wb_buf_t *text = wb_buf_new ();
        size_t i;
        json_t *row;
        json_array_foreach (json_object_get (endpoint, "deployments"), i, row)
            wb_buf_printf (text, "%s%s=%s:%lld (%lld%%)", i? ", ": "",
                           s_text (json_object_get (row, "name")), s_text (json_object_get (row, "model")),
                           (long long) json_integer_value (json_object_get (row, "version")),
                           (long long) json_integer_value (json_object_get (row, "traffic")));
        wb_table_cell (table, wb_buf_data (text));
        wb_buf_destroy (&text);
        wb_table_cell (table, s_text (json_object_get (endpoint, "auth")));
    }
    return s_bundle (&table);
}

json_t *
wb_view_requests (const char *name, json_t *log)
{
    char caption [160];
    snprintf (caption, sizeof (caption), "Last %zu requests of %s", json_array_size (log), name);
    wb_table_t *table = wb_table_new (caption);
    const char *columns [] = { "time", "deployment", "status", "ms", "rows", "mirrored", "input", "output" };
    for (size_t c = 0; c < 8; c++)
        wb_table_column (table, columns [c], c >= 2 && c <= 4? WB_ALIGN_RIGHT: WB_ALIGN_LEFT);
    size_t index;
    json_t *row;
    json_array_foreach (log, index, row) {
        char when [32];
        wb_time_iso (json_number_value (json_object_get (row, "time")), when, sizeof (when));
        wb_table_row (table);
        wb_table_cell (table, when);
        wb_table_cell (table, s_text (json_object_get (row, "deployment")));
        wb_table_number (table, (double) json_integer_value (json_object_get (row, "status")));
        wb_table_cellf (table, "%.3f", json_number_value (json_object_get (row, "latency")));
        wb_table_number (table, (double) json_integer_value (json_object_get (row, "rows")));
        wb_table_cell (table, json_integer_value (json_object_get (row, "mirrored"))? "yes": "");
        char input [121], output [121];
        snprintf (input, sizeof (input), "%s", s_text (json_object_get (row, "input")));
        snprintf (output, sizeof (output), "%s", s_text (json_object_get (row, "output")));
        wb_table_cell (table, input);
        wb_table_cell (table, output);
    }
    return s_bundle (&table);
}

void
wb_view_request_charts (json_t *stats, json_t **rate_p, json_t **latency_p,
                        double *total_p, double *errors_p)
{
    size_t count = json_array_size (stats);
    assert (count);
    double origin = json_number_value (json_object_get (json_array_get (stats, 0), "time"));
    wb_chart_t *rate = wb_chart_new ("Requests per second", "seconds", "requests/s");
    wb_chart_t *latency = wb_chart_new ("Latency (ms)", "seconds", "ms");
    wb_chart_set_mark (rate, WB_MARK_BAR);
    //  One series per deployment
    json_t *names = json_object ();
    size_t index;
    json_t *row;
    json_array_foreach (stats, index, row)
        json_object_set_new (names, s_text (json_object_get (row, "deployment")), json_true ());
    const char *deployment;
    json_t *ignored;
    double total = 0, errors = 0;
    json_object_foreach (names, deployment, ignored) {
        double *x = wb_malloc (count * sizeof (double)), *y = wb_malloc (count * sizeof (double));
        double *p50 = wb_malloc (count * sizeof (double)), *p99 = wb_malloc (count * sizeof (double));
        size_t n = 0;
        json_array_foreach (stats, index, row)
            if (streq (s_text (json_object_get (row, "deployment")), deployment)) {
                x [n] = json_number_value (json_object_get (row, "time")) - origin;
                y [n] = (double) json_integer_value (json_object_get (row, "count"));
                p50 [n] = json_number_value (json_object_get (row, "p50"));
                p99 [n] = json_number_value (json_object_get (row, "p99"));
                total += y [n];
                errors += (double) json_integer_value (json_object_get (row, "errors"));
                n++;
            }
        const char *label = *deployment? deployment: "(refused)";
        wb_chart_series (rate, label, x, y, n);
        char *series = wb_sprintf ("%s p50", label);
        wb_chart_series (latency, series, x, p50, n);
        free (series);
        series = wb_sprintf ("%s p99", label);
        wb_chart_series (latency, series, x, p99, n);
        free (series);
        free (x);
        free (y);
        free (p50);
        free (p99);
    }
    *rate_p = wb_chart_bundle (rate);
    *latency_p = wb_chart_bundle (latency);
    *total_p = total;
    *errors_p = errors;
    wb_chart_destroy (&rate);
    wb_chart_destroy (&latency);
    json_decref (names);
}

//  @selftest
static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

void
wb_view_serve_test (bool verbose)
{
    //  A model version: its fields, its metrics, its aliases in the list
    json_t *model = json_pack ("{s:s, s:i, s:s, s:s, s:s, s:f, s:[s], s:{s:s}, s:[{s:s, s:i}],"
                               " s:{s:f}}", "name", "churn", "version", 3, "run", "abcd1234",
                               "kind", "logistic", "status", "active", "created", 1795000000.0,
                               "aliases", "prod", "tags", "team", "<ml>", "datasets", "name",
                               "customers", "version", 2, "metrics", "accuracy", 0.875);
    json_t *bundle = wb_view_model (model);
    const char *plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Model churn:3") && strstr (plain, "logistic"));
    assert (strstr (plain, "customers:2") && !strstr (plain, "archived"));
    assert (strstr (s_test_str (bundle, "text/html"), "&lt;ml&gt;"));
    if (verbose)
        printf ("\n%s", plain);
    json_decref (bundle);
    bundle = wb_view_model_metrics (model);
    assert (bundle && strstr (s_test_str (bundle, "text/plain"), "0.875"));
    json_decref (bundle);
    json_t *models = json_pack ("[O]", model);
    json_object_set_new (json_array_get (models, 0), "versions", json_integer (4));
    bundle = wb_view_models (models);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "1 model\n") || strstr (plain, "1 model"));
    assert (!strstr (plain, "1 models") && strstr (plain, "prod") && strstr (plain, "versions"));
    json_decref (bundle);
    bundle = wb_view_model_versions ("churn", models);
    assert (strstr (s_test_str (bundle, "text/plain"), "Versions of churn"));
    json_decref (bundle);
    json_decref (models);
    json_object_del (model, "metrics");
    assert (wb_view_model_metrics (model) == NULL);
    json_decref (model);
    json_t *history = json_pack ("[{s:f, s:s, s:i, s:n}]", "time", 1795000000.0, "alias",
                                 "prod", "version", 3, "previous");
    bundle = wb_view_alias_history (history);
    assert (bundle && strstr (s_test_str (bundle, "text/plain"), "Alias history"));
    json_decref (bundle);
    json_array_clear (history);
    assert (wb_view_alias_history (history) == NULL);
    json_decref (history);

    //  An endpoint: up or down as its record says, its deployments
    json_t *endpoint = json_pack ("{s:s, s:i, s:s, s:i, s:b, s:[{s:s, s:s, s:i, s:i, s:i}]}",
                                  "name", "scoring", "port", 8123, "auth", "key", "pid", 4242,
                                  "alive", true, "deployments", "name", "blue", "model", "churn",
                                  "version", 3, "traffic", 90, "mirror", 0);
    bundle = wb_view_endpoint (endpoint);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Endpoint scoring") && strstr (plain, "up"));
    assert (strstr (plain, "http://127.0.0.1:8123/score") && strstr (plain, "4242"));
    json_decref (bundle);
    bundle = wb_view_deployments (endpoint);
    assert (strstr (s_test_str (bundle, "text/plain"), "churn:3")
         && strstr (s_test_str (bundle, "text/plain"), "90%"));
    json_decref (bundle);
    json_t *endpoints = json_pack ("[O]", endpoint);
    json_object_set_new (endpoint, "alive", json_false ());
    bundle = wb_view_endpoints (endpoints);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "1 endpoint") && strstr (plain, "blue=churn:3 (90%)"));
    assert (strstr (plain, "down") && !strstr (plain, " up "));
    json_decref (bundle);
    json_decref (endpoints);
    bundle = wb_view_endpoint (endpoint);
    assert (strstr (s_test_str (bundle, "text/plain"), "down")
        && !strstr (s_test_str (bundle, "text/plain"), "4242"));
    json_decref (bundle);
    json_decref (endpoint);

    //  The request log and its charts: one series per deployment
    json_t *log = json_pack ("[{s:f, s:s, s:i, s:f, s:i, s:i, s:s, s:s}]", "time", 1795000000.0,
                             "deployment", "blue", "status", 200, "latency", 1.25, "rows", 2,
                             "mirrored", 1, "input", "<in>", "output", "{}");
    bundle = wb_view_requests ("scoring", log);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Last 1 requests of scoring") && strstr (plain, "1.250"));
    assert (strstr (plain, "yes") && strstr (s_test_str (bundle, "text/html"), "&lt;in&gt;"));
    json_decref (bundle);
    json_decref (log);
    json_t *stats = json_pack ("[{s:f, s:s, s:i, s:i, s:f, s:f}, {s:f, s:s, s:i, s:i, s:f, s:f},"
                               " {s:f, s:s, s:i, s:i, s:f, s:f}]",
                               "time", 100.0, "deployment", "blue", "count", 3, "errors", 0, "p50", 1.0, "p99", 2.0,
                               "time", 101.0, "deployment", "blue", "count", 2, "errors", 0, "p50", 1.5, "p99", 3.0,
                               "time", 101.0, "deployment", "", "count", 1, "errors", 1, "p50", 0.1, "p99", 0.1);
    json_t *rate, *latency;
    double total, errors;
    wb_view_request_charts (stats, &rate, &latency, &total, &errors);
    assert (total == 6 && errors == 1);
    assert (json_object_get (rate, "image/svg+xml") && json_object_get (latency, "image/svg+xml"));
    plain = s_test_str (latency, "text/plain");
    assert (strstr (plain, "blue p50") && strstr (plain, "(refused) p99"));
    assert (strstr (s_test_str (rate, "text/plain"), "Requests per second"));
    json_decref (rate);
    json_decref (latency);
    json_decref (stats);
}
//  @end
