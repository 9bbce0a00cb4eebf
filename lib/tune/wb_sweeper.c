/*  wb_sweeper - runs hyperparameter sweeps: the spec, the trials as child
    runs, and the controller process that samples, submits, judges and
    stops them
*/
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "wb_sweeper.h"
#include "wb_sweep.h"
#include "jobs/wb_job.h"
#include "train/wb_train.h"
#include "data/wb_dataset.h"
#include "train/wb_model.h"
#include "train/wb_blas.h"
#include "base/wb_util.h"

#define S_TICK          0.2     //  seconds between the controller's looks
#define S_SPEC_PATH     "sweep.json"
#define S_WIND_DOWN     (WB_JOB_GRACE + 5)  //  seconds to wait for canceled trials

static volatile sig_atomic_t s_terminated;

//  A param value as the text a job or a training body sees.
static char *
s_value_text (json_t *value)
{
    if (json_is_string (value))
        return wb_strdup (json_string_value (value));
    if (json_is_integer (value))
        return wb_sprintf ("%lld", (long long) json_integer_value (value));
    if (json_is_real (value))
        return wb_sprintf ("%.10g", json_real_value (value));
    if (json_is_boolean (value))
        return wb_strdup (json_is_true (value)? "true": "false");
    return wb_strdup ("");
}

//  {name: text} of params (any JSON values).
static json_t *
s_texts (json_t *params)
{
    json_t *texts = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (params, key, value) {
        char *text = s_value_text (value);
        json_object_set_new (texts, key, json_string (text));
        free (text);
    }
    return texts;
}

static bool
s_names_param (const char *template, const char *name)
{
    char *marker = wb_sprintf ("${{params.%s}}", name);
    bool found = strstr (template, marker) != NULL;
    free (marker);
    return found;
}

//  ---- What a trial is, from the spec and its sampled params ----

typedef struct {
    wb_store_t *store;
    json_t *spec;               //  the sweep's spec
    const char *sweep;          //  the sweep's id (NULL when only checking)
    const char *sweep_name;     //  its name
    wb_frame_t *frame;          //  the training data, loaded once (train trials)
} s_maker_t;

//  The hyperparameters of a training trial: the body with the sampled
//  values in, then --param, then the sampled params the body does not use.
static json_t *
s_train_params (json_t *trial, json_t *texts, wb_error_t *err)
{
    const char *template = json_string_value (json_object_get (trial, "body"));
    char *body = wb_job_expand (template? template: "", texts, err);
    json_t *params = body? wb_train_body_params (body, err): NULL;
    free (body);
    if (!params)
        return NULL;
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (trial, "params"), key, value) {
        if (json_object_get (params, key)) {
            wb_error_set (err, "hyperparameter '%s' is set in the body and by --param", key);
            json_decref (params);
            return NULL;
        }
        json_object_set (params, key, value);
    }
    json_object_foreach (texts, key, value) {
        if (s_names_param (template? template: "", key))
            continue;
        if (json_object_get (params, key)) {
            wb_error_set (err, "hyperparameter '%s' is in the search space and also set in the "
                          "body or by --param: give it one place", key);
            json_decref (params);
            return NULL;
        }
        json_object_set (params, key, value);
    }
    return params;
}

//  Check the trial a sampled point makes; when self->sweep is set, submit
//  it too (writing its id). A trial that cannot be made is an error.
static int
s_trial_make (s_maker_t *self, int number, json_t *sampled, char *id, wb_error_t *err)
{
    json_t *spec = self->spec;
    json_t *trial = json_object_get (spec, "trial");
    const char *kind = json_string_value (json_object_get (trial, "kind"));
    json_t *texts = s_texts (sampled);
    char *name = self->sweep? wb_sprintf ("%s-t%d", self->sweep_name, number): NULL;
    const char *experiment = json_string_value (json_object_get (spec, "experiment"));
    double trial_timeout = json_number_value (json_object_get (spec, "trial_timeout"));
    int rc = -1;
    if (streq (kind, "train")) {
        json_t *params = s_train_params (trial, texts, err);
        //  The cores are shared by the trials that run at once
        if (params && !json_object_get (params, "threads")) {
            int parallel = (int) json_integer_value (json_object_get (spec, "parallel"));
            int threads = wb_blas_cores () / (parallel > 0? parallel: 1);
            char *text = wb_sprintf ("%d", threads > 0? threads: 1);
            json_object_set_new (params, "threads", json_string (text));
            free (text);
        }
        const char *target = json_string_value (json_object_get (trial, "target"));
        const char *model = json_string_value (json_object_get (trial, "model"));
        if (params && self->frame
        &&  wb_model_check (self->frame, NULL, target, model, params, err) == 0) {
            rc = 0;
            if (self->sweep) {
                wb_train_job_t job = {
                    experiment, name, "trial", self->sweep,
                    json_string_value (json_object_get (trial, "data")), target, model, params,
                    json_number_value (json_object_get (trial, "validation")),
                    (long) json_integer_value (json_object_get (trial, "seed")),
                    json_object_get (spec, "env"), trial_timeout
                };
                rc = wb_train_submit (self->store, &job, id, err);
            }
        }
        json_decref (params);
    }
    else {
        json_t *params = json_deep_copy (json_object_get (trial, "params"));
        json_object_update (params, texts);
        char *script = wb_job_expand (json_string_value (json_object_get (trial, "script")),
                                      params, err);
        if (script) {
            rc = 0;
            if (self->sweep) {
                wb_job_spec_t job = {
                    experiment, name, "trial", self->sweep,
                    json_string_value (json_object_get (trial, "compute")), script, params,
                    json_object_get (spec, "env"),
                    json_string_value (json_object_get (trial, "code")), trial_timeout, 0, NULL
                };
                rc = wb_job_submit (self->store, &job, id, err);
            }
        }
        free (script);
        json_decref (params);
    }
    if (rc == 0 && self->sweep) {
        char *params_text = json_dumps (sampled, JSON_COMPACT | JSON_SORT_KEYS);
        char *number_text = wb_sprintf ("%d", number);
        json_t *tags = json_pack ("{s:s, s:s}", "sweep.trial", number_text, "sweep.params", params_text);
        rc = wb_store_tags (self->store, id, tags, err);
        json_decref (tags);
        free (number_text);
        free (params_text);
    }
    free (name);
    json_decref (texts);
    return rc;
}

//  Record a trial that could not be made as a failed child run, so the
//  sweep shows it and its budget counts it.
static void
s_trial_failed (s_maker_t *self, int number, json_t *sampled, const char *why)
{
    char *name = wb_sprintf ("%s-t%d", self->sweep_name, number);
    wb_run_spec_t run = { json_string_value (json_object_get (self->spec, "experiment")), name,
                          "trial", "queued", self->sweep, NULL, NULL, 0 };
    char id [9];
    wb_error_t err;
    if (wb_store_run_create (self->store, &run, id, &err) == 0) {
        char *params_text = json_dumps (sampled, JSON_COMPACT | JSON_SORT_KEYS);
        char *number_text = wb_sprintf ("%d", number);
        json_t *tags = json_pack ("{s:s, s:s}", "sweep.trial", number_text, "sweep.params", params_text);
        wb_store_tags (self->store, id, tags, NULL);
        json_decref (tags);
        free (number_text);
        free (params_text);
        wb_store_run_status (self->store, id, "failed", why, NULL);
    }
    free (name);
}

//  ---- Checking and submitting ----

static json_t *
s_spec_read (wb_store_t *store, json_t *run, wb_error_t *err)
{
    char *text = wb_store_artifact_read (store, run, S_SPEC_PATH, NULL);
    json_t *spec = text? json_loads (text, 0, NULL): NULL;
    free (text);
    if (!spec)
        wb_error_set (err, "run %s is not a sweep (it has no readable %s)",
                      json_string_value (json_object_get (run, "id")), S_SPEC_PATH);
    return spec;
}

bool
wb_sweeper_is_sweep (json_t *run)
{
    const char *kind = json_string_value (json_object_get (run, "kind"));
    return kind && streq (kind, "sweep");
}

//  The space, sampler and policy of a spec.
static wb_sampler_t *
s_sampler (json_t *spec, wb_policy_t **policy_p, wb_error_t *err)
{
    wb_space_t *space = wb_space_parse (json_string_value (json_object_get (spec, "space")), err);
    if (!space)
        return NULL;
    const char *goal = json_string_value (json_object_get (spec, "goal"));
    wb_sampler_t *sampler = wb_sampler_new (&space, json_string_value (json_object_get (spec, "sampler")),
        (uint64_t) json_integer_value (json_object_get (spec, "seed")), goal && streq (goal, "max"), err);
    if (!sampler)
        return NULL;
    const char *policy_text = json_string_value (json_object_get (spec, "policy"));
    if (policy_p) {
        *policy_p = NULL;
        if (policy_text && !(*policy_p = wb_policy_parse (policy_text, err))) {
            wb_sampler_destroy (&sampler);
            return NULL;
        }
    }
    return sampler;
}

static wb_frame_t *
s_frame (wb_store_t *store, json_t *spec, wb_error_t *err)
{
    json_t *trial = json_object_get (spec, "trial");
    if (!streq (json_string_value (json_object_get (trial, "kind")), "train"))
        return NULL;
    json_t *record = wb_dataset_resolve (store, json_string_value (json_object_get (trial, "data")), err);
    wb_frame_t *frame = record? wb_dataset_load (store, json_string_value (json_object_get (record, "name")),
        json_integer_value (json_object_get (record, "version")), err): NULL;
    json_decref (record);
    return frame;
}

int
wb_sweeper_check (wb_store_t *store, json_t *spec, wb_error_t *err)
{
    const char *metric = json_string_value (json_object_get (spec, "metric"));
    const char *goal = json_string_value (json_object_get (spec, "goal"));
    json_t *trial = json_object_get (spec, "trial");
    const char *kind = json_string_value (json_object_get (trial, "kind"));
    if (!metric || !*metric)
        return wb_error_set (err, "give --metric NAME: the metric the trials log and the sweep ranks by");
    if (!goal || !(streq (goal, "max") || streq (goal, "min")))
        return wb_error_set (err, "--goal wants max or min");
    if (!kind || !(streq (kind, "train") || streq (kind, "job")))
        return wb_error_set (err, "the trial is a %%%%train or a %%%%job cell");
    if (json_integer_value (json_object_get (spec, "trials")) < 1)
        return wb_error_set (err, "--trials wants a count >= 1");
    if (json_integer_value (json_object_get (spec, "parallel")) < 1)
        return wb_error_set (err, "--parallel wants a count >= 1");
    wb_policy_t *policy = NULL;
    wb_sampler_t *sampler = s_sampler (spec, &policy, err);
    if (!sampler)
        return -1;
    s_maker_t maker = { store, spec, NULL, NULL, s_frame (store, spec, err) };
    int rc = 0;
    if (streq (kind, "train") && !maker.frame)
        rc = -1;
    //  The first point shows whether the template and the space fit
    json_t *sampled = rc == 0? wb_sampler_next (sampler, NULL, err): NULL;
    if (rc == 0 && !sampled)
        rc = -1;
    if (rc == 0) {
        wb_error_t why;
        if (s_trial_make (&maker, 1, sampled, NULL, &why)) {
            char *point = json_dumps (sampled, JSON_COMPACT | JSON_SORT_KEYS);
            rc = wb_error_set (err, "the first trial (%s) cannot run: %s", point, why.text);
            free (point);
        }
    }
    json_decref (sampled);
    wb_frame_destroy (&maker.frame);
    wb_policy_destroy (&policy);
    wb_sampler_destroy (&sampler);
    return rc;
}

static int
s_start (wb_store_t *store, const char *id, wb_error_t *err)
{
    char binary [4096];
    if (!wb_self_path (binary, sizeof (binary)))
        return wb_error_set (err, "cannot find the workbench binary to start the sweep");
    //  The controller's own messages (trials made, stopped), one log per sweep
    char *folder = wb_sprintf ("%s/sweeps", wb_store_path (store));
    if (mkdir (folder, 0700) && errno != EEXIST) {
        wb_error_set (err, "cannot create '%s': %s", folder, strerror (errno));
        free (folder);
        return -1;
    }
    char *log = wb_sprintf ("%s/%s.log", folder, id);
    free (folder);
    pid_t pid;
    int rc = wb_job_detach (binary, "sweep-run", wb_store_path (store), id, log, &pid, err);
    free (log);
    return rc? -1: wb_store_run_set_owner (store, id, pid, err);
}

int
wb_sweeper_submit (wb_store_t *store, json_t *spec, const char *name, const char *command,
                   char *id, wb_error_t *err)
{
    if (wb_sweeper_check (store, spec, err))
        return -1;
    wb_run_spec_t run = { json_string_value (json_object_get (spec, "experiment")), name, "sweep",
                          "queued", NULL, NULL, command, 0 };
    if (wb_store_run_create (store, &run, id, err))
        return -1;
    char *text = json_dumps (spec, JSON_INDENT (2) | JSON_SORT_KEYS);
    json_t *trial = json_object_get (spec, "trial");
    json_t *params = json_pack ("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}",
        "metric", json_string_value (json_object_get (spec, "metric")),
        "goal", json_string_value (json_object_get (spec, "goal")),
        "sampler", json_string_value (json_object_get (spec, "sampler")),
        "trials", json_integer_value (json_object_get (spec, "trials")),
        "parallel", json_integer_value (json_object_get (spec, "parallel")),
        "seed", json_integer_value (json_object_get (spec, "seed")),
        "trial_kind", json_string_value (json_object_get (trial, "kind")));
    if (json_is_string (json_object_get (spec, "policy")))
        json_object_set (params, "policy", json_object_get (spec, "policy"));
    json_t *texts = s_texts (params);
    int rc = wb_store_artifact_data (store, id, S_SPEC_PATH, text, strlen (text), err);
    if (rc == 0)
        rc = wb_store_params (store, id, texts, err);
    if (rc == 0)
        rc = s_start (store, id, err);
    if (rc) {
        wb_error_t ignored;
        wb_store_run_status (store, id, "failed", err->text, &ignored);
    }
    json_decref (texts);
    json_decref (params);
    free (text);
    return rc;
}

static int
    s_reap (wb_store_t *store, json_t *sweep);

int
wb_sweeper_resume (wb_store_t *store, const char *id, bool *running, wb_error_t *err)
{
    if (running)
        *running = false;
    json_t *run = wb_store_run_get (store, id, err);
    if (run && s_reap (store, run)) {
        json_decref (run);
        run = wb_store_run_get (store, id, err);
    }
    if (!run)
        return -1;
    //  A sweep being canceled is let finish that first
    double until = wb_time_mono () + S_WIND_DOWN + 5;
    while (streq (json_string_value (json_object_get (run, "status")), "cancel_requested")
    &&     wb_time_mono () < until) {
        usleep (100000);
        json_t *fresh = wb_store_run_get (store, id, NULL);
        if (fresh) {
            json_decref (run);
            run = fresh;
        }
    }
    //  ...and its controller let exit, so that it cannot end the sweep
    //  again after it is reopened
    while (wb_store_status_final (json_string_value (json_object_get (run, "status")))
    &&     wb_store_run_owner_alive (store, id) && wb_time_mono () < until)
        usleep (50000);
    int rc = 0;
    const char *status = json_string_value (json_object_get (run, "status"));
    json_t *spec = wb_sweeper_is_sweep (run)? s_spec_read (store, run, err): NULL;
    if (!spec)
        rc = wb_sweeper_is_sweep (run)? -1
           : wb_error_set (err, "run %s is a %s run, not a sweep", id,
                           json_string_value (json_object_get (run, "kind")));
    else
    if (!wb_store_status_final (status)) {
        if (running)
            *running = true;
    }
    else {
        json_t *state = wb_sweeper_state (store, id, err);
        size_t made = state? json_array_size (json_object_get (state, "trials")): 0;
        const char *exhausted_tag = json_string_value (json_object_get (json_object_get (run, "tags"),
                                                                        "sweep.exhausted"));
        bool exhausted = exhausted_tag && streq (exhausted_tag, "true");
        if (!state)
            rc = -1;
        else
        if (streq (status, "completed") && (exhausted
            || (json_int_t) made >= json_integer_value (json_object_get (spec, "trials"))))
            rc = wb_error_set (err, "sweep %s completed all of its trials: there is nothing to resume", id);
        json_decref (state);
        //  Open it again: the run is the same sweep, with its trials
        if (rc == 0 && wb_store_run_reopen (store, id, err) == 0)
            rc = s_start (store, id, err);
        else
            rc = -1;
    }
    json_decref (spec);
    json_decref (run);
    return rc;
}

static void
s_cancel_trials (wb_store_t *store, json_t *trials)
{
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial) {
        const char *status = json_string_value (json_object_get (trial, "status"));
        if (!wb_store_status_final (status) && !streq (status, "cancel_requested"))
            wb_job_cancel (store, json_string_value (json_object_get (trial, "id")), NULL);
    }
}

int
wb_sweeper_cancel (wb_store_t *store, const char *id, wb_error_t *err)
{
    json_t *state = wb_sweeper_state (store, id, err);
    if (!state)
        return -1;
    json_t *sweep = json_object_get (state, "sweep");
    const char *status = json_string_value (json_object_get (sweep, "status"));
    int rc = 0;
    if (wb_store_status_final (status))
        rc = wb_error_set (err, "sweep %s is %s already: there is nothing to cancel", id, status);
    else {
        if (!streq (status, "cancel_requested"))
            rc = wb_store_run_status (store, id, streq (status, "queued")? "canceled": "cancel_requested",
                                      NULL, err);
        s_cancel_trials (store, json_object_get (state, "trials"));
    }
    json_decref (state);
    return rc;
}

//  ---- The state of a sweep ----

static json_t *
s_trial_record (json_t *run, const char *metric)
{
    json_t *tags = json_object_get (run, "tags");
    const char *number = json_string_value (json_object_get (tags, "sweep.trial"));
    const char *params_text = json_string_value (json_object_get (tags, "sweep.params"));
    json_t *params = params_text? json_loads (params_text, 0, NULL): NULL;
    json_t *latest = json_object_get (json_object_get (run, "metrics"), metric);
    json_t *value = json_object_get (latest, "value");
    json_t *record = json_pack ("{s:O, s:O, s:I, s:O, s:o, s:o, s:O, s:O, s:O, s:O, s:O}",
        "id", json_object_get (run, "id"), "name", json_object_get (run, "name"),
        "number", (json_int_t) (number? atoll (number): 0),
        "status", json_object_get (run, "status"),
        "params", params? params: json_object (),
        "value", json_is_number (value)? json_real (json_number_value (value)): json_null (),
        "step", latest? json_object_get (latest, "step"): json_null (),
        "note", json_object_get (tags, "sweep.note")? json_object_get (tags, "sweep.note"): json_null (),
        "stop_reason", json_object_get (tags, "sweep.stop_reason")
                       ? json_object_get (tags, "sweep.stop_reason"): json_null (),
        "error", json_object_get (run, "error")? json_object_get (run, "error"): json_null (),
        "started", json_object_get (run, "started")? json_object_get (run, "started"): json_null ());
    json_object_set (record, "ended", json_object_get (run, "ended")? json_object_get (run, "ended"): json_null ());
    return record;
}

static int
s_by_number (const void *a, const void *b)
{
    json_int_t x = json_integer_value (json_object_get (*(json_t * const *) a, "number"));
    json_int_t y = json_integer_value (json_object_get (*(json_t * const *) b, "number"));
    return x < y? -1: x > y;
}

//  Is value a better than b for goal?
static bool
s_better (double a, double b, bool maximize)
{
    return maximize? a > b: a < b;
}

//  A sweep whose controller died (kill -9, a crash) is noticed by whoever
//  looks at it: failed with why, and its unfinished trials canceled (their
//  supervisors stop them), so that nothing waits for it for ever. 1 when
//  it was so, else 0.
static int
s_reap (wb_store_t *store, json_t *sweep)
{
    const char *id = json_string_value (json_object_get (sweep, "id"));
    pid_t owner = wb_sweeper_is_sweep (sweep)? wb_job_dead_owner (store, sweep): 0;
    if (!owner)
        return 0;
    char *reason = wb_sprintf ("the sweep controller (pid %d) died before the sweep ended (it "
        "was killed or crashed); its unfinished trials were canceled (%%sweep resume %s "
        "carries it on)", (int) owner, id);
    //  The move fails when the sweep ended meanwhile: its controller was fine
    int rc = wb_store_run_status (store, id, "failed", reason, NULL);
    free (reason);
    if (rc)
        return 0;
    char *filter = wb_sprintf ("attributes.parent = '%s'", id);
    json_t *trials = wb_store_runs (store, NULL, filter, NULL, 0, NULL);
    free (filter);
    s_cancel_trials (store, trials);
    json_decref (trials);
    return 1;
}

json_t *
wb_sweeper_state (wb_store_t *store, const char *id, wb_error_t *err)
{
    json_t *sweep = wb_store_run_get (store, id, err);
    if (sweep && s_reap (store, sweep)) {
        json_decref (sweep);
        sweep = wb_store_run_get (store, id, err);
    }
    if (!sweep)
        return NULL;
    json_t *spec = wb_sweeper_is_sweep (sweep)? s_spec_read (store, sweep, err): NULL;
    if (!spec) {
        if (!wb_sweeper_is_sweep (sweep))
            wb_error_set (err, "run %s is a %s run, not a sweep", id,
                          json_string_value (json_object_get (sweep, "kind")));
        json_decref (sweep);
        return NULL;
    }
    const char *metric = json_string_value (json_object_get (spec, "metric"));
    bool maximize = streq (json_string_value (json_object_get (spec, "goal")), "max");
    char *filter = wb_sprintf ("attributes.parent = '%s'", id);
    json_t *children = wb_store_runs (store, NULL, filter, NULL, 0, err);
    free (filter);
    if (!children) {
        json_decref (spec);
        json_decref (sweep);
        return NULL;
    }
    size_t count = json_array_size (children);
    json_t **records = wb_calloc (count? count: 1, sizeof (json_t *));
    size_t made = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *run = wb_store_run_get (store, json_string_value (json_object_get (json_array_get (children, i), "id")), NULL);
        if (run)
            records [made++] = s_trial_record (run, metric);
        json_decref (run);
    }
    qsort (records, made, sizeof (json_t *), s_by_number);
    json_t *trials = json_array ();
    json_t *counts = json_pack ("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "completed", 0, "running", 0,
                                "queued", 0, "stopped", 0, "failed", 0, "canceled", 0, "no_metric", 0);
    json_t *best = json_null ();
    double best_value = NAN;
    for (size_t i = 0; i < made; i++) {
        json_t *trial = records [i];
        json_array_append_new (trials, trial);
        const char *status = json_string_value (json_object_get (trial, "status"));
        const char *bucket = streq (status, "completed")? "completed"
                           : streq (status, "failed")? "failed"
                           : streq (status, "canceled")
                             ? (json_is_string (json_object_get (trial, "stop_reason"))? "stopped": "canceled")
                           : streq (status, "queued")? "queued": "running";
        json_object_set_new (counts, bucket, json_integer (json_integer_value (json_object_get (counts, bucket)) + 1));
        json_t *value = json_object_get (trial, "value");
        if (wb_store_status_final (status) && !json_is_number (value))
            json_object_set_new (counts, "no_metric",
                json_integer (json_integer_value (json_object_get (counts, "no_metric")) + 1));
        if (streq (status, "completed") && json_is_number (value)
        &&  (isnan (best_value) || s_better (json_number_value (value), best_value, maximize))) {
            best_value = json_number_value (value);
            json_decref (best);
            best = json_integer ((json_int_t) i);
        }
    }
    free (records);
    json_decref (children);
    return json_pack ("{s:o, s:o, s:o, s:o, s:o}", "sweep", sweep, "spec", spec, "trials", trials,
                      "best", best, "counts", counts);
}

//  ---- The controller ----

static void
s_on_term (int signum)
{
    (void) signum;
    s_terminated = 1;
}

//  The curve of metric for one trial: [[step, value], ...].
static json_t *
s_curve (wb_store_t *store, const char *id, const char *metric)
{
    double *steps = NULL, *values = NULL;
    size_t count = 0;
    json_t *curve = json_array ();
    if (wb_store_history (store, id, metric, &steps, &values, NULL, &count, NULL) == 0)
        for (size_t i = 0; i < count; i++)
            if (!isnan (values [i]))
                json_array_append_new (curve, json_pack ("[I, f]", (json_int_t) steps [i], values [i]));
    free (steps);
    free (values);
    return curve;
}

typedef struct {
    wb_store_t *store;
    const char *id;
    json_t *spec;
    const char *metric;
    bool maximize;
    wb_policy_t *policy;
    json_t *curves;             //  {trial id: [[step, value]]}
    json_t *checked;            //  {trial id: last step judged}
    json_t *noted;              //  {trial id: true} once its end was looked at
    int finished;               //  trials seen ending, for best_METRIC's step
    double best;                //  best value so far
} s_controller_t;

//  Apply the policy to the trials that run, at every step they reached
//  since they were last judged.
static void
s_judge (s_controller_t *self, json_t *trials)
{
    size_t index;
    json_t *trial;
    //  Fresh curves for the trials that are not over; the others are kept
    json_array_foreach (trials, index, trial) {
        const char *id = json_string_value (json_object_get (trial, "id"));
        const char *status = json_string_value (json_object_get (trial, "status"));
        if (!json_is_number (json_object_get (trial, "value")))
            continue;
        json_t *known = json_object_get (self->curves, id);
        if (!known || !wb_store_status_final (status) || !json_object_get (self->noted, id))
            json_object_set_new (self->curves, id, s_curve (self->store, id, self->metric));
    }
    if (!self->policy)
        return;
    json_array_foreach (trials, index, trial) {
        const char *id = json_string_value (json_object_get (trial, "id"));
        const char *status = json_string_value (json_object_get (trial, "status"));
        if (!streq (status, "running"))
            continue;
        json_t *curve = json_object_get (self->curves, id);
        size_t points = json_array_size (curve);
        if (!points)
            continue;
        int64_t last = json_integer_value (json_array_get (json_array_get (curve, points - 1), 0));
        json_t *was = json_object_get (self->checked, id);
        int64_t from = was? json_integer_value (was) + 1: 0;
        //  Every step reached since the last look, in order
        for (size_t p = 0; p < points; p++) {
            int64_t step = json_integer_value (json_array_get (json_array_get (curve, p), 0));
            if (step < from)
                continue;
            char *reason = NULL;
            if (wb_policy_stop (self->policy, self->maximize, self->curves, id, step, &reason)) {
                char *text = wb_sprintf ("stopped by %s", reason);
                json_t *tags = json_pack ("{s:s}", "sweep.stop_reason", text);
                wb_store_tags (self->store, id, tags, NULL);
                json_decref (tags);
                json_t *detail = json_pack ("{s:s, s:I, s:s}", "sweep", self->id, "step", (json_int_t) step,
                                            "reason", text);
                wb_store_event (self->store, "trial.stop", id, detail, NULL);
                json_decref (detail);
                wb_job_cancel (self->store, id, NULL);
                printf ("trial %s: %s\n", id, text);
                free (text);
                free (reason);
                break;
            }
        }
        json_object_set_new (self->checked, id, json_integer (last));
    }
}

//  Trials that just ended: the best so far, and a note for those that
//  never logged the metric.
static void
s_account (s_controller_t *self, json_t *trials)
{
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial) {
        const char *id = json_string_value (json_object_get (trial, "id"));
        const char *status = json_string_value (json_object_get (trial, "status"));
        if (!wb_store_status_final (status) || json_object_get (self->noted, id))
            continue;
        json_object_set_new (self->noted, id, json_true ());
        self->finished++;
        json_t *value = json_object_get (trial, "value");
        if (!json_is_number (value) && !json_is_string (json_object_get (trial, "note"))
        &&  !streq (status, "failed")) {
            //  Say what it did log, so a misspelt --metric is obvious
            json_t *keys = wb_store_metric_keys (self->store, id);
            wb_buf_t *logged = wb_buf_new ();
            size_t k;
            json_t *key;
            json_array_foreach (keys, k, key)
                if (!streq (json_string_value (key), "progress"))
                    wb_buf_printf (logged, "%s%s", wb_buf_size (logged)? ", ": "", json_string_value (key));
            char *note = wb_sprintf ("never logged %s (it logged: %s)", self->metric,
                                     wb_buf_size (logged)? wb_buf_data (logged): "nothing");
            json_t *tags = json_pack ("{s:s}", "sweep.note", note);
            wb_store_tags (self->store, id, tags, NULL);
            json_decref (tags);
            printf ("trial %s: %s\n", id, note);
            free (note);
            wb_buf_destroy (&logged);
            json_decref (keys);
        }
        if (streq (status, "completed") && json_is_number (value)
        &&  (isnan (self->best) || s_better (json_number_value (value), self->best, self->maximize)))
            self->best = json_number_value (value);
        if (!isnan (self->best)) {
            char *key = wb_sprintf ("best_%s", self->metric);
            wb_metric_t point = { key, self->finished, self->best, 0 };
            wb_store_log (self->store, self->id, &point, 1, NULL);
            free (key);
        }
    }
}

//  The sampler's view of the trials so far.
static json_t *
s_history (json_t *trials)
{
    json_t *history = json_array ();
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial) {
        const char *status = json_string_value (json_object_get (trial, "status"));
        json_array_append_new (history, json_pack ("{s:O, s:O, s:s}",
            "params", json_object_get (trial, "params"),
            "value", streq (status, "failed")? json_null (): json_object_get (trial, "value"),
            "state", wb_store_status_final (status)? "done": "running"));
    }
    return history;
}

static void
s_end (wb_store_t *store, const char *id, json_t *state, const char *metric, bool canceled,
       const char *reason)
{
    json_t *trials = json_object_get (state, "trials");
    json_t *best = json_object_get (state, "best");
    json_t *tags = json_object ();
    if (reason)
        json_object_set_new (tags, "sweep.end_reason", json_string (reason));
    char *error = NULL;
    if (json_is_integer (best)) {
        json_t *trial = json_array_get (trials, (size_t) json_integer_value (best));
        json_object_set (tags, "sweep.best_trial", json_object_get (trial, "id"));
        wb_metric_t point = { metric, -1, json_number_value (json_object_get (trial, "value")), 0 };
        wb_store_log (store, id, &point, 1, NULL);
    }
    else
    if (!canceled) {
        json_t *counts = json_object_get (state, "counts");
        if (reason && streq (reason, "timeout"))
            error = wb_sprintf ("the sweep's --timeout of %g s came before any trial completed",
                                json_number_value (json_object_get (json_object_get (state, "spec"), "timeout")));
        else
        if (!json_array_size (trials))
            error = wb_sprintf ("no trial was run");
        else
        if (json_integer_value (json_object_get (counts, "no_metric")))
            error = wb_sprintf ("no trial completed with a value of %s: %lld trial%s never logged it "
                                "(check --metric against what the trials log: %%sweep show %s)", metric,
                                (long long) json_integer_value (json_object_get (counts, "no_metric")),
                                json_integer_value (json_object_get (counts, "no_metric")) == 1? "": "s", id);
        else
            error = wb_sprintf ("no trial completed: %lld failed, %lld stopped, %lld canceled",
                                (long long) json_integer_value (json_object_get (counts, "failed")),
                                (long long) json_integer_value (json_object_get (counts, "stopped")),
                                (long long) json_integer_value (json_object_get (counts, "canceled")));
    }
    wb_store_tags (store, id, tags, NULL);
    json_decref (tags);
    wb_error_t err;
    if (wb_store_run_status (store, id, canceled? "canceled": error? "failed": "completed", error, &err))
        fprintf (stderr, "workbench sweep: %s\n", err.text);
    free (error);
}

int
wb_sweeper_run (const char *path, const char *id)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_term;
    sigaction (SIGTERM, &action, NULL);
    setvbuf (stdout, NULL, _IOLBF, 0);
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, false, &err);
    json_t *run = store? wb_store_run_get (store, id, &err): NULL;
    json_t *spec = run? s_spec_read (store, run, &err): NULL;
    if (!spec) {
        fprintf (stderr, "workbench sweep-run: %s\n", err.text);
        json_decref (run);
        wb_store_destroy (&store);
        return 1;
    }
    json_decref (run);
    wb_store_run_set_owner (store, id, getpid (), NULL);
    wb_store_run_status (store, id, "starting", NULL, NULL);
    wb_store_run_status (store, id, "running", NULL, NULL);
    s_controller_t self = {
        store, id, spec, json_string_value (json_object_get (spec, "metric")),
        streq (json_string_value (json_object_get (spec, "goal")), "max"),
        NULL, json_object (), json_object (), json_object (), 0, NAN
    };
    wb_sampler_t *sampler = s_sampler (spec, &self.policy, &err);
    json_t *sweep_run = wb_store_run_get (store, id, NULL);
    s_maker_t maker = { store, spec, id, json_string_value (json_object_get (sweep_run, "name")),
                        s_frame (store, spec, &err) };
    json_t *state = wb_sweeper_state (store, id, &err);
    if (!sampler || !state
    ||  (streq (json_string_value (json_object_get (json_object_get (spec, "trial"), "kind")), "train")
         && !maker.frame)) {
        fprintf (stderr, "workbench sweep-run: %s\n", err.text);
        wb_store_run_status (store, id, "failed", err.text, NULL);
        json_decref (state);
        json_decref (sweep_run);
        json_decref (self.curves);
        json_decref (self.checked);
        json_decref (self.noted);
        wb_policy_destroy (&self.policy);
        wb_sampler_destroy (&sampler);
        json_decref (spec);
        wb_store_destroy (&store);
        return 1;
    }
    int budget = (int) json_integer_value (json_object_get (spec, "trials"));
    int parallel = (int) json_integer_value (json_object_get (spec, "parallel"));
    double timeout = json_number_value (json_object_get (spec, "timeout"));
    int made = (int) json_array_size (json_object_get (state, "trials"));
    //  A resumed sweep: the samplers' sequences go on where they were
    for (int i = 0; i < made; i++) {
        json_t *skipped = wb_sampler_next (sampler, NULL, NULL);
        json_decref (skipped);
    }
    printf ("sweep %s: %d of %d trials made, %d at once\n", id, made, budget, parallel);
    double started = wb_time_mono ();
    bool exhausted = false, timed_out = false, canceled = false;
    double winding_since = 0;
    while (true) {
        json_t *trials = json_object_get (state, "trials");
        const char *status = json_string_value (json_object_get (json_object_get (state, "sweep"), "status"));
        if (!canceled && (s_terminated || streq (status, "cancel_requested") || wb_store_status_final (status))) {
            canceled = true;
            winding_since = wb_time_mono ();
            s_cancel_trials (store, trials);
        }
        if (!canceled && !timed_out && timeout > 0 && wb_time_mono () - started > timeout) {
            timed_out = true;
            winding_since = wb_time_mono ();
            printf ("sweep %s: the timeout of %g s is reached; canceling the trials that run\n", id, timeout);
            s_cancel_trials (store, trials);
        }
        s_judge (&self, trials);
        s_account (&self, trials);
        int active = 0;
        size_t index;
        json_t *trial;
        json_array_foreach (trials, index, trial)
            if (!wb_store_status_final (json_string_value (json_object_get (trial, "status"))))
                active++;
        //  New trials while there is room and budget
        bool submitted = false;
        while (!canceled && !timed_out && !exhausted && active < parallel && made < budget) {
            json_t *history = s_history (trials);
            json_t *sampled = wb_sampler_next (sampler, history, &err);
            json_decref (history);
            if (!sampled) {
                exhausted = true;
                break;
            }
            made++;
            char trial_id [9];
            if (s_trial_make (&maker, made, sampled, trial_id, &err)) {
                printf ("trial %d cannot run: %s\n", made, err.text);
                s_trial_failed (&maker, made, sampled, err.text);
            }
            else {
                active++;
                printf ("trial %d: %s\n", made, trial_id);
            }
            json_decref (sampled);
            submitted = true;
        }
        if (submitted) {
            json_decref (state);
            state = wb_sweeper_state (store, id, NULL);
            if (!state)
                break;
            continue;
        }
        if (active == 0 && (canceled || timed_out || exhausted || made >= budget))
            break;
        //  Canceled trials that do not end are left to their supervisors
        if ((canceled || timed_out) && wb_time_mono () - winding_since > S_WIND_DOWN)
            break;
        usleep ((useconds_t) (S_TICK * 1e6));
        json_t *fresh = wb_sweeper_state (store, id, NULL);
        if (fresh) {
            json_decref (state);
            state = fresh;
        }
    }
    if (state) {
        if (exhausted) {
            json_t *tags = json_pack ("{s:s}", "sweep.exhausted", "true");
            wb_store_tags (store, id, tags, NULL);
            json_decref (tags);
        }
        s_end (store, id, state, self.metric, canceled,
               canceled? "canceled": timed_out? "timeout": exhausted? "grid exhausted": "trials done");
        printf ("sweep %s: %s\n", id, canceled? "canceled": timed_out? "timed out": "done");
    }
    json_decref (state);
    json_decref (sweep_run);
    wb_frame_destroy (&maker.frame);
    json_decref (self.curves);
    json_decref (self.checked);
    json_decref (self.noted);
    wb_policy_destroy (&self.policy);
    wb_sampler_destroy (&sampler);
    json_decref (spec);
    wb_store_destroy (&store);
    return 0;
}

//  ---- Self-test ----

void
wb_sweeper_test (bool verbose)
{
    if (verbose)
        printf (" * wb_sweeper: ");
    //  Values as jobs see them
    json_t *values = json_pack ("{s:i, s:f, s:s, s:b}", "a", 3, "b", 0.001, "c", "adam", "d", 1);
    json_t *texts = s_texts (values);
    assert (streq (json_string_value (json_object_get (texts, "a")), "3"));
    assert (streq (json_string_value (json_object_get (texts, "b")), "0.001"));
    assert (streq (json_string_value (json_object_get (texts, "c")), "adam"));
    assert (streq (json_string_value (json_object_get (texts, "d")), "true"));
    json_decref (texts);
    json_decref (values);
    //  Training params: body, --param, then the space's own
    wb_error_t err;
    json_t *trial = json_pack ("{s:s, s:{s:s}}", "body", "epochs = 5\nhidden = ${{params.width}},${{params.width}}\n",
                               "params", "l2", "0.01");
    json_t *sampled = json_pack ("{s:s, s:s}", "width", "32", "learning_rate", "0.01");
    json_t *params = s_train_params (trial, sampled, &err);
    assert (params);
    assert (streq (json_string_value (json_object_get (params, "hidden")), "32,32"));
    assert (streq (json_string_value (json_object_get (params, "learning_rate")), "0.01"));
    assert (streq (json_string_value (json_object_get (params, "l2")), "0.01"));
    assert (json_object_get (params, "width") == NULL);
    json_decref (params);
    json_object_set_new (sampled, "epochs", json_string ("9"));
    assert (s_train_params (trial, sampled, &err) == NULL);
    assert (strstr (err.text, "'epochs'"));
    json_decref (sampled);
    json_decref (trial);
    assert (s_better (2, 1, true) && s_better (1, 2, false) && !s_better (1, 1, true));
    if (verbose)
        printf ("OK\n");
}
