/*  wb_sweeps - the sweep magics

    A %%sweep cell is the search space, then the cell that each trial runs:

        %%sweep --metric val_accuracy --goal max --trials 20 --parallel 2
        learning_rate = loguniform(1e-4, 1e-1)
        hidden = choice('32', '64,64')
        %%train --data iris --target species --model mlp
        epochs = 40

    Everything is checked in the kernel (the first sampled trial is made
    for real, without submitting it), then the sweep's controller process
    takes over; the cell draws it until it ends.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_sweeps.h"
#include "wb_training.h"
#include "wb_jobs.h"
#include "wb_tracking.h"
#include "tune/wb_sweeper.h"
#include "tune/wb_sweep.h"
#include "render/wb_parcoords.h"
#include "jobs/wb_job.h"
#include "render/wb_render.h"
#include "cell/wb_args.h"
#include "base/wb_util.h"

#define S_REFRESH      0.5      //  seconds between live updates
#define S_BOARD_ROWS   15       //  trials in the leaderboard

//  ---- The picture of a sweep ----

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
    json_int_t number;
} s_rank_t;

static bool s_maximize;

static int
s_compare_rank (const void *a, const void *b)
{
    const s_rank_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group - y->group;
    if (x->group < 2 && x->value != y->value)
        return (s_maximize? x->value < y->value: x->value > y->value)? 1: -1;
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
        ranks [i].group = !json_is_number (value)? 3
                        : streq (status, "completed")? 0: !wb_store_status_final (status)? 1: 2;
        ranks [i].number = json_integer_value (json_object_get (trial, "number"));
    }
    s_maximize = maximize;
    qsort (ranks, count, sizeof (s_rank_t), s_compare_rank);
    return ranks;
}

//  The names of the space's parameters that vary, in the order written.
static json_t *
s_axes (json_t *spec, json_t **log_p)
{
    json_t *names = json_array ();
    *log_p = json_array ();
    wb_space_t *space = wb_space_parse (json_string_value (json_object_get (spec, "space")), NULL);
    for (size_t i = 0; space && i < wb_space_size (space); i++)
        if (!wb_space_constant (space, i)) {
            json_array_append_new (names, json_string (wb_space_name (space, i)));
            json_array_append_new (*log_p, json_boolean (wb_space_log (space, i)));
        }
    wb_space_destroy (&space);
    return names;
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
s_parcoords (json_t *state)
{
    json_t *spec = json_object_get (state, "spec");
    const char *metric = json_string_value (json_object_get (spec, "metric"));
    char *title = wb_sprintf ("Parameters and %s", metric);
    wb_parcoords_t *parcoords = wb_parcoords_new (title, metric,
        streq (json_string_value (json_object_get (spec, "goal")), "max"));
    free (title);
    json_t *log_axes;
    json_t *axes = s_axes (spec, &log_axes);
    size_t index;
    json_t *axis;
    json_array_foreach (axes, index, axis)
        wb_parcoords_axis (parcoords, json_string_value (axis), json_is_true (json_array_get (log_axes, index)));
    json_t *trial;
    json_array_foreach (json_object_get (state, "trials"), index, trial)
        if (json_is_number (json_object_get (trial, "value")))
            wb_parcoords_line (parcoords, json_string_value (json_object_get (trial, "name")),
                               json_object_get (trial, "params"),
                               json_number_value (json_object_get (trial, "value")));
    json_decref (axes);
    json_decref (log_axes);
    return parcoords;
}

//  The same chart as an output of its own (SVG, Vega-Lite and text), for
//  the front ends that draw Vega-Lite; nothing when fewer than 2 lines.
static void
s_parcoords_display (json_t *state, wb_out_t *out)
{
    wb_parcoords_t *parcoords = s_parcoords (state);
    json_t *bundle = wb_parcoords_lines (parcoords) >= 2? wb_parcoords_bundle (parcoords): NULL;
    if (bundle)
        wb_out_display_new (out, bundle, NULL);
    wb_parcoords_destroy (&parcoords);
}

//  The sweep's card. The parallel-coordinates chart is drawn in it while
//  the sweep runs; a completed sweep and %sweep show send that chart as an
//  output of its own (SVG + Vega-Lite), so with_parcoords is false there
//  and the chart is not drawn twice.
static json_t *
s_sweep_bundle (wb_store_t *store, json_t *state, const char *note, size_t rows,
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
        wb_tracking_duration ((isnan (ended)? wb_time_now (): ended) - started, elapsed, sizeof (elapsed));
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
    json_t *log_axes;
    json_t *axes = s_axes (spec, &log_axes);
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
            wb_table_column (table, json_string_value (axis), WB_ALIGN_RIGHT);
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
                                                            json_string_value (axis)));
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
    wb_parcoords_t *parcoords = with_parcoords? s_parcoords (state): NULL;
    char *svg = parcoords && wb_parcoords_lines (parcoords) >= 2? wb_parcoords_svg (parcoords): NULL;
    if (svg) {
        wb_buf_puts (html, "<span style=\"display:inline-block;vertical-align:top\">");
        wb_buf_puts (html, svg);
        wb_buf_puts (html, "</span>");
        free (svg);
    }
    wb_parcoords_destroy (&parcoords);
    wb_buf_puts (html, "</div>");
    json_decref (axes);
    json_decref (log_axes);
    json_t *bundle = wb_bundle_new (wb_buf_data (plain));
    wb_bundle_set (bundle, "text/html", wb_buf_data (html));
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    return bundle;
}

//  The best trial with its params, and how to register its model.
static void
s_best (json_t *state, wb_out_t *out)
{
    json_t *spec = json_object_get (state, "spec");
    json_t *best = json_object_get (state, "best");
    if (!json_is_integer (best))
        return;
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
    wb_out_display_new (out, bundle, NULL);
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    free (text);
    free (table_html);
    free (register_line);
    free (title);
    wb_table_destroy (&table);
}

//  How wb_jobs_live draws a sweep, and sees that it is over
static json_t *
s_live_draw (wb_store_t *store, const char *id, json_t *state, const char *note)
{
    (void) id;
    const char *status = json_string_value (json_object_get (json_object_get (state, "sweep"), "status"));
    return s_sweep_bundle (store, state, note, S_BOARD_ROWS, !(status && streq (status, "completed")));
}

static bool
s_live_over (json_t *state)
{
    return wb_store_status_final (json_string_value (json_object_get (json_object_get (state, "sweep"), "status")));
}

//  Draw sweep id until it ends; an interrupt cancels it and its trials.
static int
s_watch (wb_session_t *session, const char *id, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *state = wb_sweeper_state (store, id, &err);
    if (!state) {
        wb_out_error (out, "SweepError", "%s", err.text);
        return -1;
    }
    char *display_id = wb_sprintf ("wb-sweep-%s", id);
    wb_live_t live = { store, id, wb_sweeper_state, s_live_draw, s_live_over, wb_sweeper_cancel,
                       S_REFRESH };
    wb_live_end_t end;
    state = wb_jobs_live (&live, state, display_id, true, &end, out);
    json_t *sweep = json_object_get (state, "sweep");
    const char *status = json_string_value (json_object_get (sweep, "status"));
    int rc = 0;
    if (end == WB_LIVE_CANCELED) {
        wb_out_error (out, "Interrupted", "sweep %s was canceled with its running trials "
                      "(%%sweep resume %s continues it)", id, id);
        rc = -1;
    }
    else
    if (!streq (status, "completed")) {
        const char *error = json_string_value (json_object_get (sweep, "error"));
        wb_out_error (out, "SweepError", "sweep %s %s%s%s", id, status, error? ": ": "", error? error: "");
        rc = -1;
    }
    else {
        s_parcoords_display (state, out);
        s_best (state, out);
    }
    json_decref (state);
    free (display_id);
    return rc;
}

//  ---- %%sweep ----

//  Split the body at the %%train or %%job line: the space before, the
//  trial's line and body after. Returns the offset of that line or -1.
static long
s_trial_line (const char *body)
{
    const char *line = body;
    while (*line) {
        const char *text = line + strspn (line, " \t");
        if ((strncmp (text, "%%train", 7) == 0 && (isspace ((unsigned char) text [7]) || !text [7]))
        ||  (strncmp (text, "%%job", 5) == 0 && (isspace ((unsigned char) text [5]) || !text [5])))
            return text - body;
        const char *end = strchr (line, '\n');
        if (!end)
            break;
        line = end + 1;
    }
    return -1;
}

static int
s_create (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    static const wb_opt_t opts [] = {
        { "metric", 'm', WB_OPT_VALUE }, { "goal", 'g', WB_OPT_VALUE },
        { "sampler", 's', WB_OPT_VALUE }, { "trials", 'n', WB_OPT_VALUE },
        { "parallel", 'p', WB_OPT_VALUE }, { "timeout", 't', WB_OPT_VALUE },
        { "trial-timeout", 0, WB_OPT_VALUE }, { "policy", 0, WB_OPT_VALUE },
        { "seed", 0, WB_OPT_VALUE }, { "name", 0, WB_OPT_VALUE },
        { "experiment", 'e', WB_OPT_VALUE }, { "no-wait", 0, WB_OPT_BOOL },
        { NULL, 0, WB_OPT_BOOL }
    };
    wb_error_t err;
    wb_args_t *args = wb_args_parse (call->argc - 1, call->argv + 1, opts, &err);
    if (!args)
        return wb_magics_usage (call, out, "%s", err.text);
    int rc = 0;
    long trials = 0, parallel = 0, seed = 0;
    double timeout = 0, trial_timeout = 0;
    const char *sampler = wb_args_has (args, "sampler")? wb_args_get (args, "sampler"): "bayesian";
    const char *goal = wb_args_get (args, "goal");
    long split = s_trial_line (call->body);
    if (wb_args_npos (args))
        rc = wb_magics_usage (call, out, "unexpected '%s': the search space goes in the cell body",
                              wb_args_pos (args, 0));
    else
    if (!wb_args_has (args, "metric") || !goal)
        rc = wb_magics_usage (call, out, "give --metric NAME (what the trials log) and --goal max|min");
    else
    if (!streq (goal, "max") && !streq (goal, "min"))
        rc = wb_magics_usage (call, out, "--goal wants max or min, got '%s'", goal);
    else
    if (wb_args_has (args, "trials")
    &&  (wb_args_long (wb_args_get (args, "trials"), "--trials", &trials, &err) || trials < 1 || trials > 100000))
        rc = wb_magics_usage (call, out, "--trials wants a count from 1 to 100000, got '%s'",
                              wb_args_get (args, "trials"));
    else
    if (wb_args_has (args, "parallel")
    &&  (wb_args_long (wb_args_get (args, "parallel"), "--parallel", &parallel, &err) || parallel < 1 || parallel > 1024))
        rc = wb_magics_usage (call, out, "--parallel wants a count from 1 to 1024, got '%s'",
                              wb_args_get (args, "parallel"));
    else
    if (wb_args_has (args, "timeout")
    &&  (wb_args_double (wb_args_get (args, "timeout"), "--timeout", &timeout, &err) || timeout <= 0))
        rc = wb_magics_usage (call, out, "--timeout wants seconds > 0, got '%s'", wb_args_get (args, "timeout"));
    else
    if (wb_args_has (args, "trial-timeout")
    &&  (wb_args_double (wb_args_get (args, "trial-timeout"), "--trial-timeout", &trial_timeout, &err)
         || trial_timeout <= 0))
        rc = wb_magics_usage (call, out, "--trial-timeout wants seconds > 0, got '%s'",
                              wb_args_get (args, "trial-timeout"));
    else
    if (wb_args_has (args, "seed")
    &&  (wb_args_long (wb_args_get (args, "seed"), "--seed", &seed, &err) || seed < 0))
        rc = wb_magics_usage (call, out, "--seed wants a whole number >= 0, got '%s'", wb_args_get (args, "seed"));
    else
    if (split < 0)
        rc = wb_magics_usage (call, out, "after the search space, a %%%%train or %%%%job line says what "
                              "each trial runs (see %%help sweep)");
    //  The trial's cell, parsed by its own magic
    json_t *request = NULL;
    if (rc == 0) {
        const char *line = call->body + split + 2;
        const char *end = strchr (line, '\n');
        char *first = end? wb_strndup (line, (size_t) (end - line)): wb_strdup (line);
        int argc = 0;
        char **argv = wb_words_split (first, &argc, &err);
        if (!argv)
            rc = wb_magics_usage (call, out, "the %%%%%s line: %s", first, err.text);
        else {
            const char *name = argv [0];
            size_t skip = strlen (name);
            wb_call_t inner = { call->magics, wb_magics_lookup (name), argc, argv,
                                first + skip, end? end + 1: "" };
            request = streq (name, "train")? wb_training_request (session, &inner, true, out)
                                           : wb_jobs_request (session, &inner, out);
            if (!request)
                rc = -1;
            else
            if (json_is_string (json_object_get (request, "name"))
            ||  json_is_true (json_object_get (request, "no_wait")))
                rc = wb_magics_usage (call, out, "put --name and --no-wait on the %%%%sweep line: "
                                      "they are the sweep's, not each trial's");
            else
            if (json_number_value (json_object_get (request, "timeout")) > 0)
                rc = wb_magics_usage (call, out, "use --trial-timeout on the %%%%sweep line for each "
                                      "trial's time limit");
            wb_words_free (&argv);
        }
        free (first);
    }
    wb_store_t *store = rc == 0? wb_session_open (session, out): NULL;
    if (rc == 0 && !store)
        rc = -1;
    json_t *spec = NULL;
    if (rc == 0) {
        char *space = wb_strndup (call->body, (size_t) split);
        json_t *trial = json_deep_copy (request);
        const char *experiment = wb_args_has (args, "experiment")? wb_args_get (args, "experiment")
                               : json_string_value (json_object_get (request, "experiment"));
        json_t *env = json_object_get (trial, "env");
        env = env? json_incref (env): wb_session_environment (session);
        json_object_del (trial, "env");
        json_object_del (trial, "experiment");
        json_object_del (trial, "name");
        json_object_del (trial, "no_wait");
        json_object_del (trial, "timeout");
        if (!parallel) {
            parallel = wb_job_max (store, json_string_value (json_object_get (trial, "compute")));
            if (parallel < 1)
                parallel = 1;
        }
        spec = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:s?, s:s, s:o, s:o}",
            "space", space, "metric", wb_args_get (args, "metric"), "goal", goal, "sampler", sampler,
            "seed", (json_int_t) seed, "trials", (json_int_t) (trials? trials: 20),
            "parallel", (json_int_t) parallel, "timeout", timeout, "trial_timeout", trial_timeout,
            "policy", wb_args_get (args, "policy"), "experiment", experiment, "env", env, "trial", trial);
        free (space);
        //  A grid runs its points once: trials defaults to all of them
        if (!wb_args_has (args, "trials") && streq (sampler, "grid")) {
            wb_space_t *parsed = wb_space_parse (json_string_value (json_object_get (spec, "space")), NULL);
            wb_sampler_t *grid = parsed? wb_sampler_new (&parsed, "grid", 0, true, NULL): NULL;
            if (grid && wb_sampler_size (grid))
                json_object_set_new (spec, "trials", json_integer ((json_int_t) wb_sampler_size (grid)));
            wb_sampler_destroy (&grid);
        }
        if (json_integer_value (json_object_get (spec, "parallel")) > json_integer_value (json_object_get (spec, "trials")))
            json_object_set (spec, "parallel", json_object_get (spec, "trials"));
    }
    char id [9] = "";
    if (rc == 0) {
        char *command = wb_sprintf ("%%%%sweep %s", call->line? call->line: "");
        if (wb_sweeper_submit (store, spec, wb_args_get (args, "name"), command, id, &err)) {
            wb_out_error (out, "SweepError", "%s", err.text);
            rc = -1;
        }
        free (command);
    }
    if (rc == 0) {
        if (wb_args_has (args, "no-wait"))
            wb_out_printf (out, "Started sweep %s: %%sweep show %s, %%sweep cancel %s\n", id, id, id);
        else
            rc = s_watch (session, id, out);
    }
    json_decref (spec);
    json_decref (request);
    wb_args_destroy (&args);
    return rc;
}

//  ---- %sweep list|show|cancel|resume ----

static int
s_list (wb_session_t *session, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *sweeps = wb_store_runs (store, NULL, "attributes.kind = 'sweep'", NULL, 0, &err);
    if (!sweeps) {
        wb_out_error (out, "SweepError", "%s", err.text);
        return -1;
    }
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
        wb_tracking_when (json_number_value (json_object_get (sweep, "created")), when, sizeof (when));
        wb_table_cell (table, when);
    }
    wb_out_display_new (out, wb_table_bundle (table), NULL);
    wb_table_destroy (&table);
    json_decref (sweeps);
    return 0;
}

static int
s_command (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    static const wb_opt_t opts [] = {
        { "no-wait", 0, WB_OPT_BOOL }, { "all", 'a', WB_OPT_BOOL }, { NULL, 0, WB_OPT_BOOL }
    };
    wb_error_t err;
    wb_args_t *args = wb_args_parse (call->argc - 1, call->argv + 1, opts, &err);
    if (!args)
        return wb_magics_usage (call, out, "%s", err.text);
    const char *what = wb_args_npos (args)? wb_args_pos (args, 0): "";
    int rc = 0;
    if (streq (what, "list") && wb_args_npos (args) == 1)
        rc = s_list (session, out);
    else
    if ((streq (what, "show") || streq (what, "cancel") || streq (what, "resume"))
    &&  wb_args_npos (args) == 2) {
        wb_store_t *store = wb_session_open (session, out);
        char *id = store? wb_store_run_resolve (store, wb_args_pos (args, 1), &err): NULL;
        json_t *state = id? wb_sweeper_state (store, id, &err): NULL;
        if (!state) {
            if (store)
                wb_out_error (out, "SweepError", "%s", err.text);
            rc = -1;
        }
        else
        if (streq (what, "show")) {
            //  --all: every trial in the leaderboard
            wb_out_display_new (out, s_sweep_bundle (store, state, NULL, wb_args_has (args, "all")
                ? json_array_size (json_object_get (state, "trials")): S_BOARD_ROWS, false), NULL);
            s_parcoords_display (state, out);
            if (streq (json_string_value (json_object_get (json_object_get (state, "sweep"), "status")), "completed"))
                s_best (state, out);
        }
        else
        if (streq (what, "cancel")) {
            if (wb_sweeper_cancel (store, id, &err)) {
                wb_out_error (out, "SweepError", "%s", err.text);
                rc = -1;
            }
            else
                wb_out_printf (out, "Canceling sweep %s and its running trials\n", id);
        }
        else {
            bool running;
            if (wb_sweeper_resume (store, id, &running, &err)) {
                wb_out_error (out, "SweepError", "%s", err.text);
                rc = -1;
            }
            else
            if (wb_args_has (args, "no-wait"))
                wb_out_printf (out, "%s sweep %s: %%sweep show %s\n", running? "Still running:": "Resumed",
                               id, id);
            else {
                if (running)
                    wb_out_printf (out, "Sweep %s is running already; watching it\n", id);
                rc = s_watch (session, id, out);
            }
        }
        json_decref (state);
        free (id);
    }
    else
        rc = wb_magics_usage (call, out, "give list, or show|cancel|resume and a sweep");
    wb_args_destroy (&args);
    return rc;
}

int
wb_magic_sweep (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return call->body? s_create (session, call, out): s_command (session, call, out);
}
