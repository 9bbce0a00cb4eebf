/*  wb_magic_jobs - the job magics: %%job submits a cell as a tracked run on a
    compute target and draws it live; %job lists, shows, follows, waits
    for and cancels jobs; %compute shows and sets compute targets
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "wb_magic_jobs.h"
#include "jobs/wb_job.h"
#include "render/wb_view_jobs.h"
#include "render/wb_view_train.h"
#include "cell/wb_args.h"
#include "base/wb_interrupt.h"
#include "base/wb_util.h"

#define S_REFRESH      0.3      //  seconds between live updates
#define S_GIVE_UP      15.0     //  seconds to wait for a canceled job to end

//  The job's log so far: the live file while it runs, the artifact after.
static char *
s_job_log (wb_store_t *store, const char *id, json_t *run, size_t *size)
{
    char *path = wb_job_log_path (store, id);
    char *text = wb_file_read (path, size);
    free (path);
    if (text)
        return text;
    text = wb_store_artifact_read (store, run, "logs/output.log", size);
    if (text)
        return text;
    *size = 0;
    return wb_strdup ("");
}

//  The live picture of a job: its card, with the log so far
static json_t *
s_job_draw (wb_store_t *store, const char *id, json_t *run, const char *note)
{
    size_t size;
    char *log = s_job_log (store, id, run, &size);
    json_t *bundle = wb_view_job (store, id, run, log, size, note);
    free (log);
    return bundle;
}

//  A classifier's confusion matrix (artifact outputs/confusion_matrix.json,
//  {"labels", "matrix"}) as a heatmap, if the run has one.
static void
s_confusion (wb_store_t *store, json_t *run, wb_out_t *out)
{
    char *text = wb_store_artifact_read (store, run, "outputs/confusion_matrix.json", NULL);
    json_t *confusion = text? json_loads (text, 0, NULL): NULL;
    free (text);
    json_t *bundle = wb_view_confusion (confusion, "Confusion matrix (validation rows)");
    if (bundle)
        wb_out_display_new (out, bundle, NULL);
    json_decref (confusion);
}

json_t *
wb_magic_jobs_live (const wb_live_t *live, json_t *state, const char *display_id,
              bool cancel_on_interrupt, wb_live_end_t *end, wb_out_t *out)
{
    wb_out_display_new (out, live->draw (live->store, live->id, state, NULL), display_id);
    const char *note = NULL;
    double canceled_at = 0;
    *end = WB_LIVE_ENDED;
    while (!live->over (state)) {
        double until = wb_time_mono () + live->refresh;
        while (wb_time_mono () < until && !wb_interrupt_pending ())
            usleep (10000);
        if (wb_interrupt_pending ()) {
            wb_interrupt_clear ();
            if (!cancel_on_interrupt) {
                *end = WB_LIVE_LEFT;
                break;
            }
            if (!canceled_at) {
                if (live->cancel (live->store, live->id, NULL) == 0)
                    note = "canceling";
                canceled_at = wb_time_mono ();
                *end = WB_LIVE_CANCELED;
            }
        }
        if (canceled_at && wb_time_mono () - canceled_at > S_GIVE_UP)
            break;
        json_t *fresh = live->fetch (live->store, live->id, NULL);
        if (fresh) {
            json_decref (state);
            state = fresh;
        }
        wb_out_update_new (out, live->draw (live->store, live->id, state, note), display_id);
    }
    //  The final picture, also for something that had ended before we looked
    wb_out_update_new (out, live->draw (live->store, live->id, state,
                                        *end == WB_LIVE_LEFT? "still running": NULL), display_id);
    return state;
}

//  The job as it is now; a supervisor that died is noticed here, so that
//  whoever watches sees the job fail instead of waiting for ever
static json_t *
s_job_fetch (wb_store_t *store, const char *id, wb_error_t *err)
{
    wb_job_reap (store, id);
    return wb_store_run_get (store, id, err);
}

//  A job is over when its run is
static bool
s_job_over (json_t *run)
{
    return wb_store_status_final (json_string_value (json_object_get (run, "status")));
}

int
wb_magic_jobs_watch (wb_session_t *session, const char *id, bool cancel_on_interrupt, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *run = s_job_fetch (store, id, &err);
    if (!run) {
        wb_out_error (out, "JobError", "%s", err.text);
        return -1;
    }
    char *display_id = wb_sprintf ("wb-job-%s", id);
    wb_live_t live = { store, id, s_job_fetch, s_job_draw, s_job_over, wb_job_cancel,
                       S_REFRESH };
    wb_live_end_t end;
    run = wb_magic_jobs_live (&live, run, display_id, cancel_on_interrupt, &end, out);
    const char *status = json_string_value (json_object_get (run, "status"));
    int rc = 0;
    if (end == WB_LIVE_LEFT)
        wb_out_printf (out, "Stopped watching job %s; it carries on (%%job wait %s)\n", id, id);
    else {
        s_confusion (store, run, out);
        if (end == WB_LIVE_CANCELED) {
            wb_out_error (out, "Interrupted", "job %s was canceled", id);
            rc = -1;
        }
        else
        if (!streq (status, "completed")) {
            const char *error = json_string_value (json_object_get (run, "error"));
            wb_out_error (out, "JobError", "job %s %s%s%s", id, status,
                          error? ": ": "", error? error: "");
            rc = -1;
        }
    }
    json_decref (run);
    free (display_id);
    return rc;
}

//  ---- %%job ----

json_t *
wb_magic_jobs_request (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = wb_args_parse (call->argc - 1, call->argv + 1, wb_magics_opts (call), &err);
    if (!args) {
        wb_magics_usage (call, out, "%s", err.text);
        return NULL;
    }
    int rc = 0;
    double timeout = 0;
    json_t *params = json_object (), *env = json_object ();
    if (wb_args_npos (args))
        rc = wb_magics_usage (call, out, "unexpected '%s': the command goes in the cell body",
                              wb_args_pos (args, 0));
    else
    if (!call->body || !call->body [strspn (call->body, " \t\r\n")])
        rc = wb_magics_usage (call, out, "the cell body is the job's command: it is empty");
    else
    if (wb_args_has (args, "timeout")
    &&  (wb_args_double (wb_args_get (args, "timeout"), "--timeout", &timeout, &err) || timeout <= 0))
        rc = wb_magics_usage (call, out, "--timeout wants seconds > 0, got '%s'", wb_args_get (args, "timeout"));
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        const char *flag = pass == 0? "param": "env";
        json_t *into = pass == 0? params: env;
        for (size_t i = 0; rc == 0 && i < wb_args_count (args, flag); i++) {
            const char *value;
            char *key = wb_args_kv (wb_args_nth (args, flag, i), &value);
            if (!key)
                rc = wb_magics_usage (call, out, "--%s wants NAME=VALUE, got '%s'", flag,
                                      wb_args_nth (args, flag, i));
            else
                json_object_set_new (into, key, json_string (value));
            free (key);
        }
    }
    json_t *request = NULL;
    if (rc == 0) {
        char *code = wb_args_has (args, "no-code")? NULL
                   : wb_args_has (args, "code")
                   ? wb_shell_path (wb_session_shell (session), wb_args_get (args, "code"))
                   : wb_strdup (wb_session_home (session));
        //  The job sees the session's environment, then --env on top
        json_t *job_env = wb_session_environment (session);
        json_object_update (job_env, env);
        request = json_pack ("{s:s, s:s, s:O, s:o, s:s?, s:s?, s:f, s:s, s:s?, s:b}",
            "kind", "job", "script", call->body, "params", params, "env", job_env,
            "compute", wb_args_get (args, "compute"), "code", code, "timeout", timeout,
            "experiment", wb_args_has (args, "experiment")? wb_args_get (args, "experiment")
                                                          : wb_session_experiment (session),
            "name", wb_args_get (args, "name"), "no_wait", wb_args_has (args, "no-wait"));
        free (code);
    }
    json_decref (params);
    json_decref (env);
    wb_args_destroy (&args);
    return request;
}

static int
s_submit (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    json_t *request = wb_magic_jobs_request (session, call, out);
    if (!request)
        return -1;
    wb_error_t err;
    json_t *params = json_object_get (request, "params");
    char *script = wb_job_expand (json_string_value (json_object_get (request, "script")), params, &err);
    int rc = 0;
    if (!script) {
        wb_out_error (out, "UsageError", "%s", err.text);
        rc = -1;
    }
    wb_store_t *store = rc == 0? wb_session_open (session, out): NULL;
    if (rc == 0 && !store)
        rc = -1;
    char id [9] = "";
    const char *compute = json_string_value (json_object_get (request, "compute"));
    if (rc == 0) {
        wb_job_spec_t spec = { json_string_value (json_object_get (request, "experiment")),
                               json_string_value (json_object_get (request, "name")), "job", NULL,
                               compute, script, params, json_object_get (request, "env"),
                               json_string_value (json_object_get (request, "code")),
                               json_number_value (json_object_get (request, "timeout")), 0, NULL };
        if (wb_job_submit (store, &spec, id, &err)) {
            wb_out_error (out, "JobError", "%s", err.text);
            rc = -1;
        }
    }
    if (rc == 0) {
        if (json_is_true (json_object_get (request, "no_wait")))
            wb_out_printf (out, "Submitted job %s to %s: %%job logs %s --follow, %%job wait %s, "
                           "%%job cancel %s\n", id, compute? compute: "local", id, id, id);
        else
            rc = wb_magic_jobs_watch (session, id, true, out);
    }
    free (script);
    json_decref (request);
    return rc;
}

//  ---- %job list|show|logs|wait|cancel ----

static int
s_list (wb_session_t *session, wb_args_t *args, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    wb_job_reap_all (store);
    json_t *runs = wb_store_runs (store, NULL, "kind IN ('job', 'train', 'trial')", NULL,
                                  wb_args_has (args, "all")? 0: 50, &err);
    if (!runs) {
        wb_out_error (out, "JobError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_job_list (runs), NULL);
    json_decref (runs);
    return 0;
}

static int
s_logs (wb_session_t *session, const char *id, bool follow, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    size_t sent = 0;
    bool line_open = false;     //  the last byte sent was not a newline
    while (true) {
        json_t *run = s_job_fetch (store, id, NULL);
        if (!run)
            return -1;
        const char *status = json_string_value (json_object_get (run, "status"));
        bool over = wb_store_status_final (status);
        size_t size;
        char *log = s_job_log (store, id, run, &size);
        if (size > sent) {
            wb_out_stream (out, "stdout", log + sent, size - sent);
            line_open = log [size - 1] != '\n';
            sent = size;
        }
        free (log);
        //  A log that ends mid-line does not run into what comes next
        if ((!follow || over) && line_open)
            wb_out_stream (out, "stdout", "\n", 1);
        if (follow && over && !streq (status, "completed")) {
            //  Say how it failed: a follow that just stops leaves one guessing
            const char *error = json_string_value (json_object_get (run, "error"));
            wb_out_printf (out, "(job %s %s%s%s)\n", id, status, error? ": ": "", error? error: "");
        }
        json_decref (run);
        if (!follow || over)
            break;
        double until = wb_time_mono () + S_REFRESH;
        while (wb_time_mono () < until && !wb_interrupt_pending ())
            usleep (10000);
        if (wb_interrupt_pending ()) {
            wb_interrupt_clear ();
            wb_out_printf (out, "%s(stopped following; the job carries on)\n", line_open? "\n": "");
            break;
        }
    }
    return 0;
}

int
wb_magic_job_list (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_list (session, call->args, out);
}

//  The job RUN names (position 1 of call's words), or NULL after an error;
//  *id_p is its run id (the caller frees both)
static json_t *
s_job_of (wb_session_t *session, wb_call_t *call, char **id_p, wb_out_t *out)
{
    wb_error_t err;
    wb_store_t *store = wb_session_open (session, out);
    char *id = store? wb_store_run_resolve (store, wb_args_pos (call->args, 1), &err): NULL;
    json_t *job = id? wb_store_job_get (store, id, &err): NULL;
    if (!job) {
        if (store)
            wb_out_error (out, "JobError", "%s", err.text);
        free (id);
        id = NULL;
    }
    *id_p = id;
    return job;
}

//  What a subcommand on one job does, given its run id
typedef int (s_job_fn) (wb_session_t *session, wb_call_t *call, const char *id, wb_out_t *out);

//  Run fn on the job call names; -1 after reporting when there is none
static int
s_with_job (wb_session_t *session, wb_call_t *call, s_job_fn *fn, wb_out_t *out)
{
    char *id;
    json_t *job = s_job_of (session, call, &id, out);
    int rc = job? fn (session, call, id, out): -1;
    json_decref (job);
    free (id);
    return rc;
}

static int
s_job_show (wb_session_t *session, wb_call_t *call, const char *id, wb_out_t *out)
{
    (void) session;
    char *argv [] = { "show", (char *) id, NULL };
    return wb_magics_call (call->magics, 2, argv, NULL, out);
}

static int
s_job_logs (wb_session_t *session, wb_call_t *call, const char *id, wb_out_t *out)
{
    return s_logs (session, id, wb_args_has (call->args, "follow"), out);
}

static int
s_job_wait (wb_session_t *session, wb_call_t *call, const char *id, wb_out_t *out)
{
    (void) call;
    return wb_magic_jobs_watch (session, id, false, out);
}

static int
s_job_cancel (wb_session_t *session, wb_call_t *call, const char *id, wb_out_t *out)
{
    (void) call;
    wb_error_t err;
    wb_store_t *store = wb_session_store (session);
    char *before = wb_store_run_state (store, id, NULL);
    int rc = 0;
    if (wb_job_cancel (store, id, &err)) {
        wb_out_error (out, "JobError", "%s", err.text);
        rc = -1;
    }
    else
        wb_out_printf (out, before && streq (before, "queued")
            ? "Canceled job %s (it had not started)\n"
            : "Cancel requested for job %s: it gets SIGTERM, then SIGKILL after %g s\n",
            id, WB_JOB_GRACE);
    free (before);
    return rc;
}

int
wb_magic_job_show (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_job (session, call, s_job_show, out);
}

int
wb_magic_job_logs (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_job (session, call, s_job_logs, out);
}

int
wb_magic_job_wait (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_job (session, call, s_job_wait, out);
}

int
wb_magic_job_cancel (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_job (session, call, s_job_cancel, out);
}

//  %%job: the line form is its subcommands
int
wb_magic_job (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    assert (call->body);
    return s_submit (session, call, out);
}

//  ---- %compute ----

int
wb_magic_compute (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    wb_store_t *store = wb_session_open (session, out);
    int rc = store? 0: -1;
    if (rc == 0 && wb_args_has (args, "max-jobs")) {
        long max_jobs;
        if (wb_args_npos (args) != 1)
            rc = wb_magics_usage (call, out, "name the target whose --max-jobs to set");
        else
        if (wb_args_long (wb_args_get (args, "max-jobs"), "--max-jobs", &max_jobs, &err) || max_jobs < 0)
            rc = wb_magics_usage (call, out, "--max-jobs wants a whole number >= 0 (0: one per core), got '%s'",
                                  wb_args_get (args, "max-jobs"));
        else
        if (wb_store_compute_set_max (store, wb_args_pos (args, 0), (int) max_jobs, &err)) {
            wb_out_error (out, "JobError", "%s", err.text);
            rc = -1;
        }
    }
    else
    if (rc == 0 && wb_args_npos (args) > 1)
        rc = wb_magics_usage (call, out, "give at most one target name");
    json_t *targets = rc == 0? wb_store_computes (store, &err): NULL;
    if (rc == 0 && !targets) {
        wb_out_error (out, "JobError", "%s", err.text);
        rc = -1;
    }
    if (rc == 0) {
        //  The targets asked for, with the limit the queue applies
        json_t *shown = json_array ();
        size_t index;
        json_t *target;
        json_array_foreach (targets, index, target) {
            const char *name = json_string_value (json_object_get (target, "name"));
            if (wb_args_npos (args) && !streq (name, wb_args_pos (args, 0)))
                continue;
            json_object_set_new (target, "max_jobs", json_integer (wb_job_max (store, name)));
            json_array_append (shown, target);
        }
        if (json_array_size (shown) || wb_args_npos (args) == 0)
            wb_out_display_new (out, wb_view_computes (shown), NULL);
        else {
            wb_out_error (out, "JobError", "no compute target named '%s'", wb_args_pos (args, 0));
            rc = -1;
        }
        json_decref (shown);
    }
    json_decref (targets);
    return rc;
}
