/*  wb_view_sweep - the views of a sweep: its card (where it stands, the
    leaderboard, best so far and the parallel-coordinates chart), the
    best trial, the chart on its own, and the table of sweeps

    A sweep's state is what wb_sweeper_state gives: {"sweep" (its run),
    "spec", "trials" [...], "counts", "best" (index into trials, or
    null)}. The axes (the space's parameters that vary) come from the
    caller, which reads the space: the renderer knows nothing of tuning.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_view_sweep.h"
#include "wb_view.h"
#include "wb_render.h"
#include "wb_parcoords.h"
#include "cell/wb_out.h"
#include "base/wb_util.h"

//  ---- The picture of a sweep ----

static const char *
s_axis_name (json_t *axis)
{
    return json_string_value (json_object_get (axis, "name"));
}

static const char *
s_note (json_t *trial)
{
    json_t *note = json_object_get (trial, "stop_reason");
    if (!json_is_string (note))
        note = json_object_get (trial, "note");
    if (!json_is_string (note))
        note = json_object_get (trial, "error");
    return json_is_string (note)? json_string_value (note): "";
}

//  Trials best first: completed ones with a value by value, then those
//  still running by their latest value, then the rest by number.
typedef struct {
    json_t *trial;
    int group;
    double value;
    double key;                 //  value, negated when the goal is max: smaller first
    json_int_t number;
} s_rank_t;

static int
s_compare_rank (const void *a, const void *b)
{
    const s_rank_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group - y->group;
    if (x->group < 2 && x->key != y->key)
        return x->key > y->key? 1: -1;
    return x->number < y->number? -1: x->number > y->number;
}

static s_rank_t *
s_ranked (json_t *trials, bool maximize)
{
    size_t count = json_array_size (trials);
    s_rank_t *ranks = wb_calloc (count? count: 1, sizeof (s_rank_t));
    for (size_t i = 0; i < count; i++) {
        json_t *trial = json_array_get (trials, i);
        const char *status = json_string_value (json_object_get (trial, "status"));
        json_t *value = json_object_get (trial, "value");
        ranks [i].trial = trial;
        ranks [i].value = json_is_number (value)? json_number_value (value): NAN;
        ranks [i].key = maximize? -ranks [i].value: ranks [i].value;
        ranks [i].group = !json_is_number (value)? 3
                        : streq (status, "completed")? 0: !wb_store_status_final (status)? 1: 2;
        ranks [i].number = json_integer_value (json_object_get (trial, "number"));
    }
    qsort (ranks, count, sizeof (s_rank_t), s_compare_rank);
    return ranks;
}

static char *
s_param_text (json_t *value)
{
    return json_is_string (value)? wb_strdup (json_string_value (value))
         : json_is_integer (value)? wb_sprintf ("%lld", (long long) json_integer_value (value))
         : json_is_number (value)? wb_sprintf ("%.4g", json_number_value (value))
         : wb_strdup ("");
}

//  Parameters against the metric, one line per trial with a value.
static wb_parcoords_t *
s_parcoords (json_t *state, json_t *axes)
{
    json_t *spec = json_object_get (state, "spec");
    const char *metric = json_string_value (json_object_get (spec, "metric"));
    char *title = wb_sprintf ("Parameters and %s", metric);
    wb_parcoords_t *parcoords = wb_parcoords_new (title, metric,
        streq (json_string_value (json_object_get (spec, "goal")), "max"));
    free (title);
    size_t index;
    json_t *axis;
    json_array_foreach (axes, index, axis)
        wb_parcoords_axis (parcoords, s_axis_name (axis), json_is_true (json_object_get (axis, "log")));
    json_t *trial;
    json_array_foreach (json_object_get (state, "trials"), index, trial)
        if (json_is_number (json_object_get (trial, "value")))
            wb_parcoords_line (parcoords, json_string_value (json_object_get (trial, "name")),
                               json_object_get (trial, "params"),
                               json_number_value (json_object_get (trial, "value")));
    return parcoords;
}

json_t *
wb_view_sweep_parcoords (json_t *state, json_t *axes)
{
    wb_parcoords_t *parcoords = s_parcoords (state, axes);
    json_t *bundle = wb_parcoords_lines (parcoords) >= 2? wb_parcoords_bundle (parcoords): NULL;
    wb_parcoords_destroy (&parcoords);
    return bundle;
}

//  The sweep's card. The parallel-coordinates chart is drawn in it while
//  the sweep runs; a completed sweep and %sweep show send that chart as an
//  output of its own (SVG + Vega-Lite), so with_parcoords is false there
//  and the chart is not drawn twice.
json_t *
wb_view_sweep (wb_store_t *store, json_t *state, json_t *axes, const char *note, size_t rows,
               bool with_parcoords)
{
    json_t *sweep = json_object_get (state, "sweep");
    json_t *spec = json_object_get (state, "spec");
    json_t *trials = json_object_get (state, "trials");
    json_t *counts = json_object_get (state, "counts");
    const char *id = json_string_value (json_object_get (sweep, "id"));
    const char *status = json_string_value (json_object_get (sweep, "status"));
    const char *metric = json_string_value (json_object_get (spec, "metric"));
    bool maximize = streq (json_string_value (json_object_get (spec, "goal")), "max");
    double started = json_is_number (json_object_get (sweep, "started"))
                   ? json_number_value (json_object_get (sweep, "started")): NAN;
    double ended = json_is_number (json_object_get (sweep, "ended"))
                 ? json_number_value (json_object_get (sweep, "ended")): NAN;
    char elapsed [32] = "";
    if (!isnan (started))
        wb_view_duration ((isnan (ended)? wb_time_now (): ended) - started, elapsed, sizeof (elapsed));
    wb_buf_t *plain = wb_buf_new ();
    wb_buf_t *html = wb_buf_new ();
    //  Header: where it stands
    wb_buf_t *line = wb_buf_new ();
    wb_buf_printf (line, "%zu of %lld trials", json_array_size (trials),
                   (long long) json_integer_value (json_object_get (spec, "trials")));
    const char *buckets [] = { "completed", "running", "queued", "stopped", "failed", "canceled", NULL };
    for (const char **bucket = buckets; *bucket; bucket++) {
        json_int_t count = json_integer_value (json_object_get (counts, *bucket));
        if (count)
            wb_buf_printf (line, ", %lld %s", (long long) count, *bucket);
    }
    json_t *best = json_object_get (state, "best");
    json_t *best_trial = json_is_integer (best)? json_array_get (trials, (size_t) json_integer_value (best)): NULL;
    if (best_trial)
        wb_buf_printf (line, " · best %s %.6g (%s)", metric,
                       json_number_value (json_object_get (best_trial, "value")),
                       json_string_value (json_object_get (best_trial, "name")));
    wb_buf_printf (plain, "Sweep %s (%s) · %s%s%s%s%s\n%s\n", json_string_value (json_object_get (sweep, "name")),
                   id, status, *elapsed? " · ": "", elapsed, note? " · ": "", note? note: "", wb_buf_data (line));
    wb_buf_puts (html, "<div><b>Sweep ");
    wb_buf_html (html, json_string_value (json_object_get (sweep, "name")));
    wb_buf_printf (html, "</b> <code>%s</code> · <b>", id);
    wb_buf_html (html, status);
    wb_buf_printf (html, "</b>%s%s", *elapsed? " · ": "", elapsed);
    if (note) {
        wb_buf_puts (html, " · ");
        wb_buf_html (html, note);
    }
    wb_buf_puts (html, "</div><div>");
    wb_buf_html (html, wb_buf_data (line));
    wb_buf_puts (html, "</div>");
    wb_buf_destroy (&line);
    json_int_t no_metric = json_integer_value (json_object_get (counts, "no_metric"));
    if (no_metric) {
        char *warning = wb_sprintf ("%lld trial%s ended without logging %s: %s cannot rank %s "
                                    "(see the note column)", (long long) no_metric, no_metric == 1? "": "s",
                                    metric, "the sweep", no_metric == 1? "it": "them");
        wb_buf_printf (plain, "warning: %s\n", warning);
        wb_buf_puts (html, "<div style=\"color:#b00020\">warning: ");
        wb_buf_html (html, warning);
        wb_buf_puts (html, "</div>");
        free (warning);
    }
    const char *error = json_string_value (json_object_get (sweep, "error"));
    if (error && *error) {
        wb_buf_printf (plain, "error: %s\n", error);
        wb_buf_puts (html, "<div style=\"color:#b00020\">error: ");
        wb_buf_html (html, error);
        wb_buf_puts (html, "</div>");
    }
    //  The leaderboard
    size_t count = json_array_size (trials);
    if (count) {
        s_rank_t *ranks = s_ranked (trials, maximize);
        wb_table_t *table = wb_table_new (NULL);
        wb_table_column (table, "#", WB_ALIGN_RIGHT);
        wb_table_column (table, "trial", WB_ALIGN_LEFT);
        wb_table_column (table, "status", WB_ALIGN_LEFT);
        wb_table_column (table, metric, WB_ALIGN_RIGHT);
        wb_table_column (table, "step", WB_ALIGN_RIGHT);
        size_t index;
        json_t *axis;
        json_array_foreach (axes, index, axis)
            wb_table_column (table, s_axis_name (axis), WB_ALIGN_RIGHT);
        wb_table_column (table, "note", WB_ALIGN_LEFT);
        for (size_t i = 0; i < count && i < rows; i++) {
            json_t *trial = ranks [i].trial;
            wb_table_row (table);
            if (ranks [i].group == 0)
                wb_table_number (table, (double) (i + 1));
            else
                wb_table_cell (table, "");
            wb_table_cell (table, json_string_value (json_object_get (trial, "name")));
            const char *trial_status = json_string_value (json_object_get (trial, "status"));
            wb_table_cell (table, streq (trial_status, "canceled") && json_is_string (json_object_get (trial, "stop_reason"))
                                  ? "stopped": trial_status);
            wb_table_number (table, ranks [i].value);
            json_t *step = json_object_get (trial, "step");
            if (json_is_integer (step))
                wb_table_number (table, (double) json_integer_value (step));
            else
                wb_table_cell (table, "");
            json_array_foreach (axes, index, axis) {
                char *text = s_param_text (json_object_get (json_object_get (trial, "params"),
                                                            s_axis_name (axis)));
                wb_table_cell (table, text);
                free (text);
            }
            wb_table_cell (table, s_note (trial));
        }
        char *text = wb_table_plain (table);
        wb_buf_puts (plain, text);
        free (text);
        text = wb_table_html (table);
        wb_buf_puts (html, text);
        free (text);
        wb_table_destroy (&table);
        if (count > rows) {
            wb_buf_printf (plain, "... and %zu more (%%sweep show %s --all)\n", count - rows, id);
            wb_buf_printf (html, "<div>... and %zu more (<code>%%sweep show %s --all</code>)</div>",
                           count - rows, id);
        }
        free (ranks);
    }
    //  Best so far, and parameters against the metric
    wb_buf_puts (html, "<div>");
    char *best_key = wb_sprintf ("best_%s", metric);
    double *steps = NULL, *values = NULL;
    size_t points = 0;
    if (wb_store_history (store, id, best_key, &steps, &values, NULL, &points, NULL) == 0 && points) {
        char *title = wb_sprintf ("Best %s so far", metric);
        wb_chart_t *chart = wb_chart_new (title, "trials finished", metric);
        free (title);
        wb_chart_set_size (chart, 300, 200);
        wb_chart_series (chart, best_key, steps, values, points);
        char *svg = wb_chart_svg (chart);
        wb_buf_puts (html, "<span style=\"display:inline-block;vertical-align:top\">");
        wb_buf_puts (html, svg);
        wb_buf_puts (html, "</span>");
        free (svg);
        wb_chart_destroy (&chart);
    }
    free (steps);
    free (values);
    free (best_key);
    wb_parcoords_t *parcoords = with_parcoords? s_parcoords (state, axes): NULL;
    char *svg = parcoords && wb_parcoords_lines (parcoords) >= 2? wb_parcoords_svg (parcoords): NULL;
    if (svg) {
        wb_buf_puts (html, "<span style=\"display:inline-block;vertical-align:top\">");
        wb_buf_puts (html, svg);
        wb_buf_puts (html, "</span>");
        free (svg);
    }
    wb_parcoords_destroy (&parcoords);
    wb_buf_puts (html, "</div>");
    json_t *bundle = wb_bundle_new (wb_buf_data (plain));
    wb_bundle_set (bundle, "text/html", wb_buf_data (html));
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    return bundle;
}

//  The best trial with its params, and how to register its model.
json_t *
wb_view_sweep_best (json_t *state)
{
    json_t *spec = json_object_get (state, "spec");
    json_t *best = json_object_get (state, "best");
    if (!json_is_integer (best))
        return NULL;
    json_t *trial = json_array_get (json_object_get (state, "trials"), (size_t) json_integer_value (best));
    const char *metric = json_string_value (json_object_get (spec, "metric"));
    wb_table_t *table = wb_table_new (NULL);
    wb_table_column (table, "param", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_RIGHT);
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (trial, "params"), key, value) {
        char *text = s_param_text (value);
        wb_table_row (table);
        wb_table_cell (table, key);
        wb_table_cell (table, text);
        free (text);
    }
    const char *id = json_string_value (json_object_get (trial, "id"));
    const char *name = json_string_value (json_object_get (trial, "name"));
    json_t *sweep = json_object_get (state, "sweep");
    bool train = streq (json_string_value (json_object_get (json_object_get (spec, "trial"), "kind")), "train");
    char *title = wb_sprintf ("Best trial: %s (%s), %s = %.6g", name, id, metric,
                              json_number_value (json_object_get (trial, "value")));
    char *register_line = train
        ? wb_sprintf ("%%model register %s --run %s", json_string_value (json_object_get (sweep, "name")), id)
        : wb_sprintf ("%%model register %s --run %s --path outputs/MODEL_FILE",
                      json_string_value (json_object_get (sweep, "name")), id);
    char *text = wb_table_plain (table);
    char *table_html = wb_table_html (table);
    wb_buf_t *plain = wb_buf_new (), *html = wb_buf_new ();
    wb_buf_printf (plain, "%s\n%sRegister its model: %s\n", title, text, register_line);
    wb_buf_puts (html, "<div><b>");
    wb_buf_html (html, title);
    wb_buf_puts (html, "</b></div>");
    wb_buf_puts (html, table_html);
    wb_buf_puts (html, "<div>Register its model: <code>");
    wb_buf_html (html, register_line);
    wb_buf_puts (html, "</code></div>");
    json_t *bundle = wb_bundle_new (wb_buf_data (plain));
    wb_bundle_set (bundle, "text/html", wb_buf_data (html));
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    free (text);
    free (table_html);
    free (register_line);
    free (title);
    wb_table_destroy (&table);
    return bundle;
}

//  ---- The table of sweeps ----

json_t *
wb_view_sweep_list (json_t *sweeps)
{
    wb_table_t *table = wb_table_new (json_array_size (sweeps)? "Sweeps": "No sweeps yet (%%sweep starts one)");
    wb_table_column (table, "id", WB_ALIGN_LEFT);
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "status", WB_ALIGN_LEFT);
    wb_table_column (table, "trials", WB_ALIGN_RIGHT);
    wb_table_column (table, "metric", WB_ALIGN_LEFT);
    wb_table_column (table, "best", WB_ALIGN_RIGHT);
    wb_table_column (table, "created", WB_ALIGN_LEFT);
    size_t index;
    json_t *sweep;
    json_array_foreach (sweeps, index, sweep) {
        json_t *params = json_object_get (sweep, "params");
        const char *metric = json_string_value (json_object_get (params, "metric"));
        wb_table_row (table);
        wb_table_cell (table, json_string_value (json_object_get (sweep, "id")));
        wb_table_cell (table, json_string_value (json_object_get (sweep, "name")));
        wb_table_cell (table, json_string_value (json_object_get (sweep, "status")));
        wb_table_cell (table, json_string_value (json_object_get (params, "trials")));
        wb_table_cellf (table, "%s (%s)", metric? metric: "?",
                        json_string_value (json_object_get (params, "goal"))? json_string_value (json_object_get (params, "goal")): "?");
        char *key = wb_sprintf ("best_%s", metric? metric: "");
        json_t *best = json_object_get (json_object_get (sweep, "metrics"), key);
        free (key);
        wb_table_number (table, json_is_number (best)? json_number_value (best): NAN);
        char when [64];
        wb_view_when (json_number_value (json_object_get (sweep, "created")), when, sizeof (when));
        wb_table_cell (table, when);
    }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

//  @selftest
static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

void
wb_view_sweep_test (bool verbose)
{
    wb_error_t err;
    char scratch [] = "/tmp/wb-view-sweep-XXXXXX";
    assert (mkdtemp (scratch));
    char *ws = wb_sprintf ("%s/ws", scratch);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);
    wb_run_spec_t spec = { NULL, "tune<1>", "sweep", NULL, NULL, NULL, NULL, 0 };
    char id [9];
    assert (wb_store_run_create (store, &spec, id, &err) == 0);
    wb_metric_t points [] = { { "best_acc", 1, 0.5, 0 }, { "best_acc", 2, 0.75, 0 } };
    assert (wb_store_log (store, id, points, 2, &err) == 0);
    json_t *run = wb_store_run_get (store, id, &err);
    assert (run);
    json_t *state = json_pack ("{s:o, s:{s:s, s:s, s:i, s:{s:s}}, s:[{s:s, s:s, s:i, s:s, s:{s:f, s:s}, s:f, s:i},"
        "{s:s, s:s, s:i, s:s, s:{s:f, s:s}, s:f, s:i}, {s:s, s:s, s:i, s:s, s:{s:f, s:s}, s:n, s:s}],"
        " s:i, s:{s:i, s:i, s:i}}",
        "sweep", run,
        "spec", "metric", "acc", "goal", "max", "trials", 5, "trial", "kind", "train",
        "trials",
            "id", "aaaa0001", "name", "t-0", "number", 0, "status", "completed",
            "params", "lr", 0.01, "arch", "<wide>", "value", 0.5, "step", 3,
            "id", "aaaa0002", "name", "t-1", "number", 1, "status", "completed",
            "params", "lr", 0.1, "arch", "deep", "value", 0.75, "step", 3,
            "id", "aaaa0003", "name", "t-2", "number", 2, "status", "failed",
            "params", "lr", 0.001, "arch", "deep", "value", "error", "out of <memory>",
        "best", 1, "counts", "completed", 2, "failed", 1, "no_metric", 1);
    assert (state);
    json_t *axes = json_pack ("[{s:s, s:b}, {s:s, s:b}]", "name", "lr", "log", 1, "name", "arch", "log", 0);

    //  The card: the best first, the failed one last and unranked; a
    //  warning for the trial without a value; two charts
    json_t *bundle = wb_view_sweep (store, state, axes, "canceling", 15, true);
    const char *plain = s_test_str (bundle, "text/plain");
    const char *html = s_test_str (bundle, "text/html");
    char *header = wb_sprintf ("Sweep tune<1> (%s) · running", id);
    assert (strstr (plain, header));
    free (header);
    assert (strstr (plain, "3 of 5 trials, 2 completed, 1 failed · best acc 0.75 (t-1)"));
    assert (strstr (plain, "warning: 1 trial ended without logging acc"));
    const char *first = strstr (plain, "t-1"), *second = strstr (plain, "t-0 "), *third = strstr (plain, "t-2");
    assert (first && second && third && first < second && second < third);
    assert (strstr (plain, "out of <memory>") && strstr (html, "out of &lt;memory&gt;"));
    assert (strstr (html, "Sweep tune&lt;1&gt;") && !strstr (html, "<wide>"));
    const char *svg = strstr (html, "<svg");
    assert (svg && strstr (svg + 1, "<svg"));
    if (verbose)
        printf ("\n%s", plain);
    json_decref (bundle);
    //  One row shown; no parallel coordinates
    bundle = wb_view_sweep (store, state, axes, NULL, 1, false);
    plain = s_test_str (bundle, "text/plain");
    char *more = wb_sprintf ("... and 2 more (%%sweep show %s --all)", id);
    assert (strstr (plain, more) && !strstr (plain, "t-0 "));
    free (more);
    svg = strstr (s_test_str (bundle, "text/html"), "<svg");
    assert (svg && !strstr (svg + 1, "<svg"));
    json_decref (bundle);

    bundle = wb_view_sweep_parcoords (state, axes);
    assert (bundle && json_object_get (bundle, "application/vnd.vegalite.v5+json"));
    json_decref (bundle);
    bundle = wb_view_sweep_best (state);
    plain = s_test_str (bundle, "text/plain");
    char *line = wb_sprintf ("Register its model: %%model register tune<1> --run aaaa0002\n");
    assert (strstr (plain, "Best trial: t-1 (aaaa0002), acc = 0.75") && strstr (plain, line));
    free (line);
    assert (strstr (s_test_str (bundle, "text/html"), "tune&lt;1&gt;"));
    json_decref (bundle);

    //  Fewer than two values: no chart of its own; no best: no best trial
    json_object_set_new (json_array_get (json_object_get (state, "trials"), 0), "value", json_null ());
    assert (wb_view_sweep_parcoords (state, axes) == NULL);
    json_object_set_new (state, "best", json_null ());
    assert (wb_view_sweep_best (state) == NULL);

    json_t *sweeps = wb_store_runs (store, NULL, NULL, NULL, 0, &err);
    bundle = wb_view_sweep_list (sweeps);
    assert (strstr (s_test_str (bundle, "text/plain"), "Sweeps") && strstr (s_test_str (bundle, "text/plain"), id));
    json_decref (bundle);
    json_decref (sweeps);
    sweeps = json_array ();
    bundle = wb_view_sweep_list (sweeps);
    assert (strstr (s_test_str (bundle, "text/plain"), "No sweeps yet"));
    json_decref (bundle);
    json_decref (sweeps);

    json_decref (axes);
    json_decref (state);
    wb_store_destroy (&store);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
    free (ws);
}
//  @end
