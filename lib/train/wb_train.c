/*  wb_train - a training run, inside its job process: read the dataset
    version (recording lineage), split it, train through wb_model while
    logging each step's metrics, evaluate, and keep the model and its
    confusion matrix as outputs
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_train.h"
#include "store/wb_store.h"
#include "data/wb_dataset.h"
#include "wb_model.h"
#include "jobs/wb_job.h"
#include "base/wb_interrupt.h"
#include "base/wb_util.h"

#define S_FLUSH_SECONDS 0.25    //  how often step metrics are written

//  What the progress callback carries.
typedef struct {
    wb_store_t *store;          //  the workspace
    const char *id;             //  the run
    json_t *keys;               //  keeps metric key strings alive
    wb_metric_t *points;        //  metrics not yet written
    size_t count;               //  how many
    size_t room;                //  room for
    double flushed_at;          //  when they were last written
    int64_t total;              //  steps expected (for progress), 0 if unknown
} s_progress_t;

static void
s_flush (s_progress_t *self)
{
    if (self->count) {
        wb_error_t err;
        if (wb_store_log (self->store, self->id, self->points, self->count, &err))
            fprintf (stderr, "workbench: metrics not stored: %s\n", err.text);
        self->count = 0;
        json_array_clear (self->keys);
    }
    self->flushed_at = wb_time_mono ();
}

static void
s_add (s_progress_t *self, const char *key, int64_t step, double value)
{
    if (self->count == self->room) {
        self->room = self->room? self->room * 2: 64;
        self->points = wb_realloc (self->points, self->room * sizeof (wb_metric_t));
    }
    json_t *kept = json_string (key);
    json_array_append_new (self->keys, kept);
    self->points [self->count++] = (wb_metric_t) { json_string_value (kept), step, value, 0 };
}

//  Per-step metrics that share a name with a final (validation) metric are
//  the training rows' values: they are logged as train_NAME.
static const char *s_final_names [] = {
    "rmse", "mae", "r2", "accuracy", "precision", "recall", "f1", "log_loss", "roc_auc", NULL
};

static bool
s_is_final_name (const char *key)
{
    for (const char **name = s_final_names; *name; name++)
        if (streq (*name, key))
            return true;
    return false;
}

static int
s_on_step (void *arg, int64_t step, json_t *metrics)
{
    s_progress_t *self = arg;
    if (metrics) {
        const char *key;
        json_t *value;
        json_object_foreach (metrics, key, value) {
            if (!json_is_number (value) || streq (key, "step"))
                continue;
            if (s_is_final_name (key)) {
                char *renamed = wb_sprintf ("train_%s", key);
                s_add (self, renamed, step, json_number_value (value));
                free (renamed);
            }
            else
                s_add (self, key, step, json_number_value (value));
        }
        if (self->total > 0)
            s_add (self, "progress", step, (double) step / (double) self->total);
        if (wb_time_mono () - self->flushed_at >= S_FLUSH_SECONDS)
            s_flush (self);
    }
    return wb_interrupt_pending ()? 1: 0;
}

static void
s_on_term (int signum)
{
    (void) signum;
    wb_interrupt_raise ();
}

//  Steps training will take at most, for the progress bar: epochs or
//  max_iter with the defaults filled in (linear is solved in one step).
static int64_t
s_total_steps (const char *kind, json_t *params)
{
    json_t *resolved = wb_model_params_resolved (kind, params, NULL);
    const char *name = streq (kind, "mlp")? "epochs": streq (kind, "linear")? NULL: "max_iter";
    json_t *value = name? json_object_get (resolved, name): NULL;
    int64_t total = json_is_integer (value)? (int64_t) json_integer_value (value): 1;
    json_decref (resolved);
    return total;
}


static int
s_write (const char *outputs, const char *name, const char *data, size_t size)
{
    char *path = wb_sprintf ("%s/%s", outputs, name);
    FILE *file = fopen (path, "wb");
    free (path);
    if (!file)
        return -1;
    bool ok = fwrite (data, 1, size, file) == size;
    return fclose (file) == 0 && ok? 0: -1;
}

int
wb_train_run (const char *path, const char *id, json_t *spec, const char *outputs)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_term;
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);

    const char *ref = json_string_value (json_object_get (spec, "data"));
    const char *target = json_string_value (json_object_get (spec, "target"));
    const char *kind = json_string_value (json_object_get (spec, "model"));
    json_t *params = json_object_get (spec, "params");
    double validation = json_is_number (json_object_get (spec, "validation"))
                      ? json_number_value (json_object_get (spec, "validation"))
                      : streq (kind? kind: "", "kmeans")? 0: WB_TRAIN_VALIDATION;
    uint64_t seed = (uint64_t) json_integer_value (json_object_get (spec, "seed"));
    if (!ref || !kind) {
        fprintf (stderr, "workbench train: the training spec needs data and model\n");
        return 1;
    }
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, false, &err);
    json_t *record = NULL;
    wb_frame_t *frame = store? wb_dataset_use (store, ref, id, &record, &err): NULL;
    wb_frame_t *train = NULL, *valid = NULL;
    wb_model_t *model = NULL;
    int rc = 1;
    if (!frame)
        goto done;
    printf ("data: %s:%lld, %zu rows x %zu columns\n", json_string_value (json_object_get (record, "name")),
            (long long) json_integer_value (json_object_get (record, "version")),
            wb_frame_rows (frame), wb_frame_cols (frame));
    if (validation > 0) {
        if (wb_model_split (frame, target, validation, seed, &train, &valid, &err))
            goto done;
        printf ("split: %zu training rows, %zu validation rows (seed %llu%s)\n",
                wb_frame_rows (train), wb_frame_rows (valid), (unsigned long long) seed,
                target? ", stratified when the target is a class": "");
    }
    else {
        train = frame;
        frame = NULL;
    }
    json_t *run_params = json_deep_copy (params);
    json_object_set_new (run_params, "seed", json_integer ((json_int_t) seed));
    //  The split is made here: the model holds out nothing more
    if (!json_object_get (run_params, "validation") && !streq (kind, "linear")
    &&  !streq (kind, "kmeans"))
        json_object_set_new (run_params, "validation", json_integer (0));
    s_progress_t progress = { store, id, json_array (), NULL, 0, 0, wb_time_mono (), 0 };
    if (wb_model_check (train, valid, target, kind, run_params, &err) == 0) {
        //  The defaults filled in, for the progress bar
        progress.total = s_total_steps (kind, run_params);
        printf ("training %s%s%s\n", kind, target? " on ": "", target? target: "");
        fflush (stdout);
        double started = wb_time_mono ();
        model = wb_model_train (train, valid, target, kind, run_params, s_on_step, &progress, &err);
        if (model)
            printf ("trained in %.2f s: %lld steps, stopped: %s\n", wb_time_mono () - started,
                    (long long) wb_model_steps (model), wb_model_stop (model));
    }
    json_decref (run_params);
    s_flush (&progress);
    if (!model)
        goto done_progress;

    //  Final metrics, at the last step; progress says how far it got (an
    //  interrupted run is not done)
    int64_t last = wb_model_steps (model);
    json_t *metrics = wb_model_metrics (model);
    const char *key;
    json_t *value;
    bool stopped = streq (wb_model_stop (model), "interrupted");
    json_object_foreach (metrics, key, value)
        if (json_is_number (value) && !streq (key, "rows")
        &&  !(streq (key, "inertia") && streq (kind, "kmeans")))     //  logged per step
            s_add (&progress, key, last, json_number_value (value));
    if (!stopped)
        s_add (&progress, "progress", last, 1.0);
    else
    if (progress.total > 0)
        s_add (&progress, "progress", last, (double) last / (double) progress.total);
    s_flush (&progress);
    //  The defaults filled in become params too (set once: only new keys)
    json_t *filled = json_object ();
    json_t *run = wb_store_run_get (store, id, NULL);
    json_object_foreach (wb_model_params (model), key, value) {
        //  validation: the split is made here, before the model sees rows
        if (json_object_get (json_object_get (run, "params"), key) || streq (key, "validation")
        ||  json_is_null (value))
            continue;
        if (json_is_string (value))
            json_object_set (filled, key, value);
        else
        if (json_is_real (value)) {
            char *text = wb_sprintf ("%.10g", json_real_value (value));
            json_object_set_new (filled, key, json_string (text));
            free (text);
        }
        else {
            char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
            json_object_set_new (filled, key, json_string (text));
            free (text);
        }
    }
    json_decref (run);
    if (json_object_size (filled) && wb_store_params (store, id, filled, &err))
        fprintf (stderr, "workbench: %s\n", err.text);
    json_decref (filled);

    size_t size;
    char *saved = wb_model_save (model, &size);
    json_t *confusion = json_object_get (metrics, "confusion_matrix");
    char *confusion_text = confusion? json_dumps (confusion, JSON_COMPACT): NULL;
    if (s_write (outputs, "model.json", saved, size)
    ||  (confusion_text && s_write (outputs, "confusion_matrix.json", confusion_text, strlen (confusion_text))))
        wb_error_set (&err, "cannot write the model to %s", outputs);
    else {
        rc = 0;
        if (json_object_size (metrics)) {
            printf ("final metrics (%s rows):", valid? "validation": "training");
            json_object_foreach (metrics, key, value)
                if (json_is_number (value) && !streq (key, "rows"))
                    printf (" %s=%.4g", key, json_number_value (value));
            printf ("\n");
        }
        if (wb_interrupt_pending ())
            printf ("stopped early: the model and metrics so far are kept\n");
    }
    free (saved);
    free (confusion_text);

done_progress:
    json_decref (progress.keys);
    free (progress.points);
done:
    if (rc)
        fprintf (stderr, "%s\n", err.text);
    fflush (stdout);
    wb_model_destroy (&model);
    wb_frame_destroy (&train);
    wb_frame_destroy (&valid);
    wb_frame_destroy (&frame);
    json_decref (record);
    wb_store_destroy (&store);
    return rc;
}

//  ---- The kernel's side: what a %%train cell or a sweep trial submits ----

json_t *
wb_train_body_params (const char *body, wb_error_t *err)
{
    json_t *params = json_object ();
    char *copy = wb_strdup (body);
    int line_number = 0;
    char *save = NULL;
    for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        line_number++;
        char *hash = strchr (line, '#');
        if (hash)
            *hash = 0;
        while (isspace ((unsigned char) *line))
            line++;
        size_t size = strlen (line);
        while (size && isspace ((unsigned char) line [size - 1]))
            line [--size] = 0;
        if (!*line)
            continue;
        char *equals = strchr (line, '=');
        if (!equals) {
            wb_error_set (err, "line %d of the body: '%s' is not `name = value`", line_number, line);
            json_decref (params);
            params = NULL;
            break;
        }
        *equals = 0;
        char *name = line, *value = equals + 1;
        size = strlen (name);
        while (size && isspace ((unsigned char) name [size - 1]))
            name [--size] = 0;
        while (isspace ((unsigned char) *value))
            value++;
        if (!*name || !*value) {
            wb_error_set (err, "line %d of the body: a name and a value are needed around '='", line_number);
            json_decref (params);
            params = NULL;
            break;
        }
        json_object_set_new (params, name, json_string (value));
    }
    free (copy);
    return params;
}

int
wb_train_submit (wb_store_t *store, const wb_train_job_t *job, char *id, wb_error_t *err)
{
    json_t *spec = json_pack ("{s:s, s:s?, s:s, s:O, s:I}", "data", job->data, "target", job->target,
                              "model", job->model, "params", job->params, "seed", (json_int_t) job->seed);
    if (job->validation >= 0)
        json_object_set_new (spec, "validation", json_real (job->validation));
    char *spec_text = json_dumps (spec, JSON_COMPACT);
    //  The spec reaches train-run as one environment variable, which
    //  Linux takes up to 128 KiB
    if (strlen (spec_text) + 32 > 32 * 4096) {
        wb_error_set (err, "the training spec (data, model and params) is %zu bytes: it goes to "
            "the training process as one environment variable, which holds at most 128 KiB; "
            "shorten the longest param", strlen (spec_text));
        free (spec_text);
        json_decref (spec);
        return -1;
    }
    //  The run's params: what was asked, by name
    json_t *run_params = json_deep_copy (job->params);
    json_object_set_new (run_params, "model", json_string (job->model));
    json_object_set_new (run_params, "data", json_string (job->data));
    if (job->target)
        json_object_set_new (run_params, "target", json_string (job->target));
    char *text = wb_sprintf ("%ld", job->seed);
    json_object_set_new (run_params, "seed", json_string (text));
    free (text);
    //  The fraction the job will hold out, as it will do it
    text = wb_sprintf ("%g", job->validation >= 0? job->validation
                       : streq (job->model, "kmeans")? 0: WB_TRAIN_VALIDATION);
    json_object_set_new (run_params, "validation", json_string (text));
    free (text);
    json_t *env = job->env? json_deep_copy (job->env): json_object ();
    json_object_set_new (env, "WORKBENCH_TRAIN_SPEC", json_string (spec_text));
    char binary [4096] = "";
    wb_self_path (binary, sizeof (binary));
    char *script = wb_sprintf ("exec '%s' train-run", *binary? binary: "workbench");
    wb_job_spec_t spec_job = { job->experiment, job->name, job->kind? job->kind: "train", job->parent,
                               NULL, script, run_params, env, NULL, job->timeout, 0, NULL };
    int rc = wb_job_submit (store, &spec_job, id, err);
    free (script);
    json_decref (env);
    json_decref (run_params);
    free (spec_text);
    json_decref (spec);
    return rc;
}
