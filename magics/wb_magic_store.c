/*  wb_magic_store - the workspace magics: experiments, runs, params, metrics,
    tags, artifacts (the tables and charts that show them are the
    renderer's views, render/wb_view_runs)

    Every magic here works the same from a cell and from the terminal
    (`workbench runs`, `workbench show RUN`, `workbench log loss=0.3`):
    inside a job, WORKBENCH_RUN_ID names the run to log to.
*/
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "wb_magic_store.h"
#include "wb_magic_serve.h"
#include "render/wb_view_runs.h"
#include "cell/wb_args.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_RUNS_LIMIT    50      //  rows %runs shows unless told
#define S_LOG_TAIL      20      //  log lines %show prints

//  ---- Formatting ----

static const char *
s_text (json_t *value)
{
    return json_is_string (value)? json_string_value (value): "";
}

//  ---- Shared steps ----

//  The run a reference names, or NULL after reporting.
static char *
s_resolve (wb_store_t *store, const char *ref, wb_out_t *out)
{
    wb_error_t err;
    char *id = wb_store_run_resolve (store, ref, &err);
    if (!id)
        wb_out_error (out, "RunError", "%s", err.text);
    return id;
}

static bool
s_is_nan (const char *text)
{
    return streq (text, "nan") || streq (text, "NaN") || streq (text, "NAN");
}

//  The run ref names, with its id (caller owns both); NULL after
//  reporting through out (no workspace, no such run).
static json_t *
s_run_arg (wb_session_t *session, const char *ref, char **id_p, wb_out_t *out)
{
    *id_p = NULL;
    wb_store_t *store = wb_session_open (session, out);
    char *id = store? s_resolve (store, ref, out): NULL;
    wb_error_t err;
    json_t *run = id? wb_store_run_get (store, id, &err): NULL;
    if (id && !run)
        wb_out_error (out, "RunError", "%s", err.text);
    if (run)
        *id_p = id;
    else
        free (id);
    return run;
}

//  Parse KEY=VALUE words of args into a JSON object of strings; numeric:
//  values must be numbers or nan (metrics). NULL after reporting.
static json_t *
s_key_values (wb_call_t *call, wb_args_t *args, bool numeric, wb_out_t *out)
{
    json_t *values = json_object ();
    for (size_t i = 0; i < wb_args_npos (args); i++) {
        const char *word = wb_args_pos (args, i), *value;
        char *key = wb_args_kv (word, &value);
        if (!key) {
            json_decref (values);
            wb_magics_usage (call, out, "'%s' is not KEY=VALUE", word);
            return NULL;
        }
        if (numeric) {
            //  Checked here, kept as text: JSON has no NaN
            double number;
            wb_error_t err;
            if (!s_is_nan (value) && wb_args_double (value, key, &number, &err)) {
                wb_magics_usage (call, out, "metric %s wants a number, got '%s'", key, value);
                free (key);
                json_decref (values);
                return NULL;
            }
        }
        json_object_set_new (values, key, json_string (value));
        free (key);
    }
    if (json_object_size (values) == 0) {
        json_decref (values);
        wb_magics_usage (call, out, "give at least one KEY=VALUE");
        return NULL;
    }
    return values;
}

//  The live card of a run: its latest metrics, updated in place.
static json_t *
s_run_card (wb_store_t *store, const char *id)
{
    json_t *run = wb_store_run_get (store, id, NULL);
    json_t *bundle = wb_view_run_card (run, id);
    json_decref (run);
    return bundle;
}

static char *
s_card_id (const char *id)
{
    return wb_sprintf ("wb-run-%s", id);
}

//  Start an interactive run in the current experiment; NULL after reporting.
static const char *
s_start_run (wb_session_t *session, wb_store_t *store, const char *name, wb_out_t *out)
{
    wb_run_spec_t spec = { wb_session_experiment (session), name, "interactive", "running",
                           NULL, "local", NULL, getpid () };
    char id [9];
    wb_error_t err;
    if (wb_store_run_create (store, &spec, id, &err)) {
        wb_out_error (out, "RunError", "%s", err.text);
        return NULL;
    }
    wb_session_set_active_run (session, id);
    char *card = s_card_id (id);
    wb_out_display_new (out, s_run_card (store, id), card);
    free (card);
    return wb_session_active_run (session);
}

//  The run to log to: $WORKBENCH_RUN_ID (inside a job), else the active
//  interactive run, else a new one when start is true. NULL after reporting.
static const char *
s_target_run (wb_session_t *session, wb_store_t *store, bool start, wb_out_t *out)
{
    const char *env = getenv ("WORKBENCH_RUN_ID");
    if (env && *env) {
        //  An id or a name, as --run takes; kept as the active run
        char *id = s_resolve (store, env, out);
        if (id)
            wb_session_set_active_run (session, id);
        free (id);
        return id? wb_session_active_run (session): NULL;
    }
    const char *active = wb_session_active_run (session);
    if (active) {
        json_t *run = wb_store_run_get (store, active, NULL);
        const char *status = run? s_text (json_object_get (run, "status")): "";
        bool live = streq (status, "running");
        json_decref (run);
        if (live)
            return active;
        wb_session_set_active_run (session, NULL);
    }
    if (wb_session_terminal (session)) {
        wb_out_error (out, "RunError", "no run to log to: give --run RUN, or run this inside "
                      "a job (it sets WORKBENCH_RUN_ID)");
        return NULL;
    }
    if (!start) {
        wb_out_error (out, "RunError", "no active run: start one with %%run start, or %%log starts one");
        return NULL;
    }
    return s_start_run (session, store, NULL, out);
}

static void
s_update_card (wb_session_t *session, wb_store_t *store, const char *id, wb_out_t *out)
{
    if (!wb_session_active_run (session) || !streq (wb_session_active_run (session), id))
        return;
    char *card = s_card_id (id);
    wb_out_update_new (out, s_run_card (store, id), card);
    free (card);
}

//  ---- %workspace ----

int
wb_magic_workspace (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    if (call->argc == 2 && wb_session_open_at (session, call->argv [1], out))
        return -1;
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *summary = wb_store_summary (store, &err);
    if (!summary) {
        wb_out_error (out, "WorkspaceError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_workspace (summary, wb_store_path (store),
                                                wb_session_experiment (session)), NULL);
    json_decref (summary);
    return 0;
}

//  ---- %experiment ----

int
wb_magic_experiment (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    if (call->argc == 2) {
        const char *name = call->argv [1];
        if (!*name)
            return wb_magics_usage (call, out, "an experiment needs a name");
        wb_session_set_experiment (session, name);
        wb_out_printf (out, "Experiment: %s\n", name);
        return 0;
    }
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *list = wb_store_experiments (store, &err);
    if (!list) {
        wb_out_error (out, "WorkspaceError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_experiments (list, wb_session_experiment (session)), NULL);
    json_decref (list);
    return 0;
}

//  ---- %run start | end ----

int
wb_magic_run_start (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags and arity are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    int rc = 0;
    json_t *tags = json_object ();
    for (size_t i = 0; rc == 0 && i < wb_args_count (args, "tag"); i++) {
        const char *value;
        char *key = wb_args_kv (wb_args_nth (args, "tag", i), &value);
        if (!key)
            rc = wb_magics_usage (call, out, "--tag wants KEY=VALUE, got '%s'", wb_args_nth (args, "tag", i));
        else
            json_object_set_new (tags, key, json_string (value));
        free (key);
    }
    //  A run still open is finished first, as MLflow's start_run would refuse
    const char *active = wb_session_active_run (session);
    if (rc == 0 && active) {
        wb_store_run_status (store, active, "completed", NULL, NULL);
        wb_out_printf (out, "Ended run %s (completed)\n", active);
        wb_session_set_active_run (session, NULL);
    }
    const char *id = rc == 0? s_start_run (session, store, wb_args_get (args, "name"), out): NULL;
    if (rc == 0 && !id)
        rc = -1;
    if (rc == 0 && json_object_size (tags)) {
        if (wb_store_tags (store, id, tags, &err)) {
            wb_out_error (out, "RunError", "%s", err.text);
            rc = -1;
        }
        else
            s_update_card (session, store, id, out);
    }
    json_decref (tags);
    return rc;
}

int
wb_magic_run_end (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags and arity are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    const char *status = wb_args_has (args, "status")? wb_args_get (args, "status"): "completed";
    if (!streq (status, "completed") && !streq (status, "failed") && !streq (status, "canceled"))
        return wb_magics_usage (call, out, "--status is completed, failed or canceled, not '%s'", status);
    const char *active = wb_session_active_run (session);
    if (!active)
        return wb_magics_usage (call, out, "no active run to end");
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    if (wb_store_run_status (store, active, status, NULL, &err)) {
        wb_out_error (out, "RunError", "%s", err.text);
        return -1;
    }
    char *id = wb_strdup (active);
    s_update_card (session, store, id, out);
    wb_session_set_active_run (session, NULL);
    wb_out_printf (out, "Ended run %s (%s)\n", id, status);
    free (id);
    return 0;
}

//  ---- %log, %param, %tag ----

int
wb_magic_log (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    long step = -1;
    if (wb_args_has (args, "step")
    &&  (wb_args_long (wb_args_get (args, "step"), "--step", &step, &err) || step < 0)) {
        wb_magics_usage (call, out, "--step wants a whole number >= 0, got '%s'",
                         wb_args_get (args, "step"));
        return -1;
    }
    json_t *values = s_key_values (call, args, true, out);
    wb_store_t *store = values? wb_session_open (session, out): NULL;
    char *resolved = store && wb_args_has (args, "run")? s_resolve (store, wb_args_get (args, "run"), out): NULL;
    const char *id = !store || (wb_args_has (args, "run") && !resolved)? NULL
                   : resolved? resolved: s_target_run (session, store, true, out);
    int rc = -1;
    if (id) {
        size_t count = json_object_size (values), index = 0;
        wb_metric_t *points = wb_calloc (count, sizeof (wb_metric_t));
        const char *key;
        json_t *value;
        json_object_foreach (values, key, value) {
            const char *text = json_string_value (value);
            points [index++] = (wb_metric_t) { key, step,
                s_is_nan (text)? NAN: strtod (text, NULL), 0 };
        }
        if (wb_store_log (store, id, points, count, &err))
            wb_out_error (out, "RunError", "%s", err.text);
        else {
            rc = 0;
            s_update_card (session, store, id, out);
        }
        free (points);
    }
    free (resolved);
    json_decref (values);
    return rc;
}

static int
s_key_value_magic (wb_session_t *session, wb_call_t *call, wb_out_t *out, bool params)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    json_t *values = s_key_values (call, args, false, out);
    wb_store_t *store = values? wb_session_open (session, out): NULL;
    char *resolved = store && wb_args_has (args, "run")? s_resolve (store, wb_args_get (args, "run"), out): NULL;
    const char *id = !store || (wb_args_has (args, "run") && !resolved)? NULL
                   : resolved? resolved: s_target_run (session, store, true, out);
    int rc = -1;
    if (id) {
        rc = params? wb_store_params (store, id, values, &err): wb_store_tags (store, id, values, &err);
        if (rc)
            wb_out_error (out, "RunError", "%s", err.text);
    }
    free (resolved);
    json_decref (values);
    return rc;
}

int
wb_magic_param (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_key_value_magic (session, call, out, true);
}

int
wb_magic_tag (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_key_value_magic (session, call, out, false);
}

//  ---- %runs ----

int
wb_magic_runs (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    long limit = S_RUNS_LIMIT;
    int rc = 0;
    if (wb_args_npos (args))
        rc = wb_magics_usage (call, out, "unexpected '%s' (a filter goes after --filter, in quotes)",
                              wb_args_pos (args, 0));
    else
    if (wb_args_has (args, "limit")
    &&  (wb_args_long (wb_args_get (args, "limit"), "--limit", &limit, &err) || limit <= 0))
        rc = wb_magics_usage (call, out, "--limit wants a whole number > 0, got '%s'",
                              wb_args_get (args, "limit"));
    wb_store_t *store = rc == 0? wb_session_open (session, out): NULL;
    if (rc || !store) {
        return -1;
    }
    const char *experiment = wb_args_get (args, "experiment");
    if (experiment && wb_store_experiment (store, experiment, false, &err) < 0) {
        wb_out_error (out, "RunError", "%s (see %%experiment)", err.text);
        return -1;
    }
    //  One more than shown, to tell whether there are more
    size_t shown = wb_args_has (args, "all")? 0: (size_t) limit;
    json_t *runs = wb_store_runs (store, experiment, wb_args_get (args, "filter"),
                                  wb_args_get (args, "sort"), shown? shown + 1: 0, &err);
    if (!runs) {
        wb_out_error (out, "UsageError", "%s", err.text);
        return -1;
    }
    bool more = shown && json_array_size (runs) > shown;
    if (more)
        json_array_remove (runs, shown);
    wb_out_display_new (out, wb_view_runs (runs, !experiment, more), NULL);
    json_decref (runs);
    return 0;
}

//  ---- %show ----

//  A chart of one metric's history for each run in ids (overlaid); -1
//  after reporting.
static int
s_metric_chart (wb_store_t *store, json_t *ids, json_t *labels, const char *key,
                bool log_y, wb_out_t *out)
{
    wb_error_t err;
    json_t *chart = wb_view_metric_chart (store, ids, labels, key, log_y, &err);
    if (!chart) {
        wb_out_error (out, "RunError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, chart, NULL);
    return 0;
}

//  A bundle, when there is one
static void
s_display (wb_out_t *out, json_t *bundle)
{
    if (bundle)
        wb_out_display_new (out, bundle, NULL);
}

//  The last lines of the run's log artifacts (logs/...).
static void
s_logs_tail (wb_store_t *store, json_t *run, wb_out_t *out)
{
    size_t index;
    json_t *artifact;
    json_array_foreach (json_object_get (run, "artifacts"), index, artifact) {
        const char *path = s_text (json_object_get (artifact, "path"));
        if (!wb_starts_with (path, "logs/"))
            continue;
        char *file = wb_store_blob_path (store, s_text (json_object_get (artifact, "hash")));
        size_t size;
        char *text = wb_file_read (file, &size);
        free (file);
        if (!text)
            continue;
        const char *start = text + size;
        int lines = 0;
        while (start > text && lines <= S_LOG_TAIL)
            if (*--start == '\n' && start + 1 < text + size)
                lines++;
        if (*start == '\n')
            start++;
        wb_out_printf (out, "── %s (last %d lines) ──\n%s%s", path, S_LOG_TAIL, start,
                       size && text [size - 1] != '\n'? "\n": "");
        free (text);
    }
}

int
wb_magic_show (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_args_t *args = call->args;
    if (wb_args_npos (args) != 1) {
        return wb_magics_usage (call, out, "give one run id or name");
    }
    //  An endpoint's name that is no run's: draw the endpoint
    wb_store_t *found = wb_session_open (session, out);
    if (!found) {
        return -1;
    }
    char *as_run = found? wb_store_run_resolve (found, wb_args_pos (args, 0), NULL): NULL;
    bool endpoint = !as_run && wb_magic_serve_is_endpoint (session, wb_args_pos (args, 0));
    free (as_run);
    if (endpoint) {
        int shown = wb_magic_serve_show_endpoint (session, wb_args_pos (args, 0), out);
        return shown;
    }
    char *id;
    json_t *run = s_run_arg (session, wb_args_pos (args, 0), &id, out);
    if (!run) {
        return -1;
    }
    wb_store_t *store = wb_session_open (session, out);
    wb_out_display_new (out, wb_view_run (run, id), NULL);

    s_display (out, wb_view_key_values ("Params", json_object_get (run, "params")));

    //  Metrics: the true latest/best values, then one chart each
    json_t *metrics = json_object_get (run, "metrics");
    int rc = 0;
    if (json_object_size (metrics)) {
        json_t *card = s_run_card (store, id);
        json_object_set_new (card, "text/plain", json_string (
            strchr (json_string_value (json_object_get (card, "text/plain")), '\n') + 1));
        wb_out_display_new (out, card, NULL);
        json_t *ids = json_pack ("[s]", id);
        json_t *labels = json_pack ("[s]", s_text (json_object_get (run, "name")));
        const char *key;
        json_t *metric;
        json_object_foreach (metrics, key, metric) {
            bool wanted = wb_args_count (args, "metric") == 0;
            for (size_t i = 0; i < wb_args_count (args, "metric"); i++)
                if (streq (wb_args_nth (args, "metric", i), key))
                    wanted = true;
            if (wanted && (rc = s_metric_chart (store, ids, labels, key, wb_args_has (args, "log"), out)))
                break;
        }
        json_decref (ids);
        json_decref (labels);
    }
    if (rc == 0) {
        s_display (out, wb_view_key_values ("Tags", json_object_get (run, "tags")));
        json_t *artifacts = json_object_get (run, "artifacts");
        if (json_array_size (artifacts))
            s_display (out, wb_view_artifacts ("Artifacts", artifacts));
        s_display (out, wb_view_lineage (json_object_get (run, "lineage")));
        s_logs_tail (store, run, out);
    }
    json_decref (run);
    free (id);
    return rc;
}

//  ---- %compare ----

int
wb_magic_compare (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    if (wb_args_npos (args) < 2) {
        return wb_magics_usage (call, out, "give at least two runs to compare");
    }
    wb_store_t *store = wb_session_open (session, out);
    json_t *runs = json_array (), *ids = json_array (), *labels = json_array ();
    int rc = store? 0: -1;
    for (size_t i = 0; rc == 0 && i < wb_args_npos (args); i++) {
        char *id = s_resolve (store, wb_args_pos (args, i), out);
        json_t *run = id? wb_store_run_get (store, id, &err): NULL;
        if (!run) {
            if (id)
                wb_out_error (out, "RunError", "%s", err.text);
            rc = -1;
        }
        else {
            json_array_append_new (runs, run);
            json_array_append_new (ids, json_string (id));
            char *label = wb_sprintf ("%s (%s)", s_text (json_object_get (run, "name")), id);
            json_array_append_new (labels, json_string (label));
            free (label);
        }
        free (id);
    }
    if (rc == 0) {
        wb_out_display_new (out, wb_view_compare (runs, labels), NULL);

        //  Metrics overlaid: the ones asked for, else those every run has
        size_t index;
        json_t *run;
        const char *key;
        json_t *present;
        json_t *chart_keys = json_array ();
        for (size_t i = 0; i < wb_args_count (args, "metric"); i++)
            json_array_append_new (chart_keys, json_string (wb_args_nth (args, "metric", i)));
        if (json_array_size (chart_keys) == 0) {
            json_object_foreach (json_object_get (json_array_get (runs, 0), "metrics"), key, present) {
                bool everywhere = true;
                json_array_foreach (runs, index, run)
                    if (!json_object_get (json_object_get (run, "metrics"), key))
                        everywhere = false;
                if (everywhere)
                    json_array_append_new (chart_keys, json_string (key));
            }
        }
        json_t *chart_key;
        json_array_foreach (chart_keys, index, chart_key) {
            bool somewhere = false;
            size_t position;
            json_array_foreach (runs, position, run)
                if (json_object_get (json_object_get (run, "metrics"), json_string_value (chart_key)))
                    somewhere = true;
            if (!somewhere) {
                wb_out_error (out, "RunError", "none of these runs logged metric '%s'",
                              json_string_value (chart_key));
                rc = -1;
                break;
            }
            if ((rc = s_metric_chart (store, ids, labels, json_string_value (chart_key),
                                      wb_args_has (args, "log"), out)))
                break;
        }
        json_decref (chart_keys);
    }
    json_decref (runs);
    json_decref (ids);
    json_decref (labels);
    return rc;
}

//  ---- %artifacts ----

static bool
s_is_text (const char *data, size_t size)
{
    //  Text has no NUL and next to no control characters other than
    //  layout; it may well not be UTF-8 (a Latin-1 file: its accents are
    //  shown as U+FFFD). Random or compressed bytes have a control
    //  character in every ten or so.
    size_t probe = size < 4096? size: 4096;
    size_t controls = 0;
    for (size_t i = 0; i < probe; i++) {
        unsigned char byte = (unsigned char) data [i];
        if (byte == 0)
            return false;
        if ((byte < 0x20 && !strchr ("\t\n\r\f\b\x1b", byte)) || byte == 0x7F)
            controls++;
    }
    return controls * 32 <= probe;
}

int
wb_magic_artifacts (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_args_t *args = call->args;
    size_t npos = wb_args_npos (args);
    if (npos < 1 || npos > 2 || (wb_args_has (args, "to") && npos != 2)) {
        return wb_magics_usage (call, out, npos < 1? "give a run id or name"
                                : "give a run, and a PATH to show or copy --to a file");
    }
    char *id;
    json_t *run = s_run_arg (session, wb_args_pos (args, 0), &id, out);
    wb_store_t *store = run? wb_session_open (session, out): NULL;
    int rc = run? 0: -1;
    json_t *artifacts = run? json_object_get (run, "artifacts"): NULL;
    if (rc == 0 && npos == 1) {
        char caption [64];
        snprintf (caption, sizeof (caption), "Artifacts of run %s", id);
        wb_out_display_new (out, wb_view_artifacts (caption, artifacts), NULL);
    }
    else
    if (rc == 0) {
        const char *path = wb_args_pos (args, 1);
        json_t *found = NULL, *artifact;
        size_t index;
        json_array_foreach (artifacts, index, artifact)
            if (streq (s_text (json_object_get (artifact, "path")), path))
                found = artifact;
        if (!found) {
            wb_out_error (out, "RunError", "run %s has no artifact '%s' (see %%artifacts %s)", id, path, id);
            rc = -1;
        }
        else {
            char *file = wb_store_blob_path (store, s_text (json_object_get (found, "hash")));
            size_t size;
            char *data = wb_file_read (file, &size);
            if (!data) {
                wb_out_error (out, "RunError", "the content of '%s' is missing from the workspace (%s)", path, file);
                rc = -1;
            }
            else
            if (wb_args_has (args, "to")) {
                char *dest = wb_shell_path (wb_session_shell (session), wb_args_get (args, "to"));
                FILE *handle = fopen (dest, "wb");
                if (!handle || fwrite (data, 1, size, handle) != size) {
                    wb_out_error (out, "OSError", "cannot write '%s': %s", wb_args_get (args, "to"), strerror (errno));
                    rc = -1;
                }
                else
                    wb_out_printf (out, "Copied %s (%zu bytes) to %s\n", path, size, wb_args_get (args, "to"));
                if (handle)
                    fclose (handle);
                free (dest);
            }
            else
            if (wb_starts_with (path + (strlen (path) > 4? strlen (path) - 4: 0), ".svg")) {
                json_t *bundle = wb_bundle_new (path);
                json_object_set_new (bundle, "image/svg+xml", wb_utf8_json (data, size));
                wb_out_display_new (out, bundle, NULL);
            }
            else
            if (s_is_text (data, size))
                wb_out_stream (out, "stdout", data, size);
            else
                wb_out_printf (out, "%s: %zu bytes of binary data; copy it out with --to FILE\n", path, size);
            free (data);
            free (file);
        }
    }
    json_decref (run);
    free (id);
    return rc;
}

//  ---- %delete ----

int
wb_magic_delete (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    if (wb_args_npos (args) != 1) {
        return wb_magics_usage (call, out, "give one run id or name");
    }
    char *id;
    json_t *run = s_run_arg (session, wb_args_pos (args, 0), &id, out);
    wb_store_t *store = run? wb_session_open (session, out): NULL;
    int rc = run? 0: -1;
    if (rc == 0 && streq (s_text (json_object_get (run, "status")), "running")
    &&  wb_session_active_run (session) && streq (wb_session_active_run (session), id)) {
        wb_out_error (out, "RunError", "run %s is the active run: end it first with %%run end", id);
        rc = -1;
    }
    if (rc == 0 && !wb_args_has (args, "yes")) {
        size_t points = 0;
        const char *key;
        json_t *metric;
        json_object_foreach (json_object_get (run, "metrics"), key, metric)
            points += (size_t) json_integer_value (json_object_get (metric, "count"));
        char *prompt = wb_sprintf ("Delete run %s (%s): %zu metric points, %zu artifacts? [y/N] ",
            id, s_text (json_object_get (run, "name")), points,
            json_array_size (json_object_get (run, "artifacts")));
        char *answer = wb_out_input (out, prompt, false);
        free (prompt);
        if (!answer) {
            wb_out_error (out, "UsageError",
                "cannot ask for confirmation here: add --yes to delete run %s", id);
            rc = -1;
        }
        else
        if (!(answer [0] == 'y' || answer [0] == 'Y')) {
            wb_out_printf (out, "Kept run %s\n", id);
            free (answer);
            json_decref (run);
            free (id);
            return 0;
        }
        free (answer);
    }
    if (rc == 0) {
        if (wb_store_run_delete (store, id, &err)) {
            wb_out_error (out, "RunError", "%s", err.text);
            rc = -1;
        }
        else
            wb_out_printf (out, "Deleted run %s\n", id);
    }
    json_decref (run);
    free (id);
    return rc;
}
