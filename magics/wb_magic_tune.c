/*  wb_magic_tune - the sweep magics

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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_magic_tune.h"
#include "wb_magic_train.h"
#include "wb_magic_jobs.h"
#include "tune/wb_sweeper.h"
#include "tune/wb_sweep.h"
#include "render/wb_view_sweep.h"
#include "jobs/wb_job.h"
#include "cell/wb_args.h"
#include "base/wb_util.h"

#define S_REFRESH      0.5      //  seconds between live updates
#define S_BOARD_ROWS   15       //  trials in the leaderboard

//  ---- The picture of a sweep ----

//  The space's parameters that vary, in the order written, as the sweep
//  views take them: [{"name", "log"}]
static json_t *
s_axes (json_t *state)
{
    json_t *spec = json_object_get (state, "spec");
    json_t *axes = json_array ();
    wb_space_t *space = wb_space_parse (json_string_value (json_object_get (spec, "space")), NULL);
    for (size_t i = 0; space && i < wb_space_size (space); i++)
        if (!wb_space_constant (space, i))
            json_array_append_new (axes, json_pack ("{s:s, s:b}", "name", wb_space_name (space, i),
                                                    "log", wb_space_log (space, i)));
    wb_space_destroy (&space);
    return axes;
}

//  The sweep's card (see wb_view_sweep)
static json_t *
s_sweep_bundle (wb_store_t *store, json_t *state, const char *note, size_t rows,
                bool with_parcoords)
{
    json_t *axes = s_axes (state);
    json_t *bundle = wb_view_sweep (store, state, axes, note, rows, with_parcoords);
    json_decref (axes);
    return bundle;
}

//  The parallel-coordinates chart as an output of its own, for the front
//  ends that draw Vega-Lite; nothing when fewer than 2 lines.
static void
s_parcoords_display (json_t *state, wb_out_t *out)
{
    json_t *axes = s_axes (state);
    json_t *bundle = wb_view_sweep_parcoords (state, axes);
    if (bundle)
        wb_out_display_new (out, bundle, NULL);
    json_decref (axes);
}

//  The best trial with its params, and how to register its model.
static void
s_best (json_t *state, wb_out_t *out)
{
    json_t *bundle = wb_view_sweep_best (state);
    if (bundle)
        wb_out_display_new (out, bundle, NULL);
}

//  How wb_magic_jobs_live draws a sweep, and sees that it is over
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
    state = wb_magic_jobs_live (&live, state, display_id, true, &end, out);
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
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
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
            wb_call_t inner = { .magics = call->magics, .magic = wb_magics_lookup (name),
                                .argc = argc, .argv = argv, .line = first + skip,
                                .body = end? end + 1: "" };
            request = streq (name, "train")? wb_magic_train_request (session, &inner, true, out)
                                           : wb_magic_jobs_request (session, &inner, out);
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
    return rc;
}

//  ---- %sweep list|show|cancel|resume ----

int
wb_magic_sweep_list (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) call;
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *sweeps = wb_store_runs (store, NULL, "attributes.kind = 'sweep'", NULL, 0, &err);
    if (!sweeps) {
        wb_out_error (out, "SweepError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_sweep_list (sweeps), NULL);
    json_decref (sweeps);
    return 0;
}

//  The state of the sweep call names (position 1 of its words), or NULL
//  after an error; *id_p is its run id (the caller frees both)
static json_t *
s_sweep_of (wb_session_t *session, wb_call_t *call, char **id_p, wb_out_t *out)
{
    wb_error_t err;
    wb_store_t *store = wb_session_open (session, out);
    char *id = store? wb_store_run_resolve (store, wb_args_pos (call->args, 1), &err): NULL;
    json_t *state = id? wb_sweeper_state (store, id, &err): NULL;
    if (!state) {
        if (store)
            wb_out_error (out, "SweepError", "%s", err.text);
        free (id);
        id = NULL;
    }
    *id_p = id;
    return state;
}

int
wb_magic_sweep_show (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    char *id;
    json_t *state = s_sweep_of (session, call, &id, out);
    if (!state)
        return -1;
    //  --all: every trial in the leaderboard
    wb_out_display_new (out, s_sweep_bundle (wb_session_store (session), state, NULL,
        wb_args_has (call->args, "all")? json_array_size (json_object_get (state, "trials"))
                                       : S_BOARD_ROWS, false), NULL);
    s_parcoords_display (state, out);
    if (streq (json_string_value (json_object_get (json_object_get (state, "sweep"), "status")), "completed"))
        s_best (state, out);
    json_decref (state);
    free (id);
    return 0;
}

int
wb_magic_sweep_cancel (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    char *id;
    json_t *state = s_sweep_of (session, call, &id, out);
    if (!state)
        return -1;
    wb_error_t err;
    int rc = 0;
    if (wb_sweeper_cancel (wb_session_store (session), id, &err)) {
        wb_out_error (out, "SweepError", "%s", err.text);
        rc = -1;
    }
    else
        wb_out_printf (out, "Canceling sweep %s and its running trials\n", id);
    json_decref (state);
    free (id);
    return rc;
}

int
wb_magic_sweep_resume (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    char *id;
    json_t *state = s_sweep_of (session, call, &id, out);
    if (!state)
        return -1;
    wb_error_t err;
    bool running;
    int rc = 0;
    if (wb_sweeper_resume (wb_session_store (session), id, &running, &err)) {
        wb_out_error (out, "SweepError", "%s", err.text);
        rc = -1;
    }
    else
    if (wb_args_has (call->args, "no-wait"))
        wb_out_printf (out, "%s sweep %s: %%sweep show %s\n", running? "Still running:": "Resumed",
                       id, id);
    else {
        if (running)
            wb_out_printf (out, "Sweep %s is running already; watching it\n", id);
        rc = s_watch (session, id, out);
    }
    json_decref (state);
    free (id);
    return rc;
}

int
wb_magic_sweep (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  %%sweep: the line form is its subcommands
    assert (call->body);
    return s_create (session, call, out);
}
