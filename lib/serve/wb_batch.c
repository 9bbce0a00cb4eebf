/*  wb_batch - batch scoring of a dataset version by a model version, as a
    job (wb_batch.h says what it does)
*/
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_batch.h"
#include "wb_pool.h"
#include "wb_registry.h"
#include "wb_scorer.h"
#include "data/wb_dataset.h"
#include "jobs/wb_job.h"
#include "base/wb_fs.h"
#include "base/wb_util.h"

#define S_PROGRESS_EVERY  0.25  //  seconds between progress metrics

//  Set by SIGTERM (a cancel), read by every thread (lock-free, so a
//  signal handler may store it)
static atomic_bool s_canceled = false;

static void
s_on_term (int signal)
{
    (void) signal;
    atomic_store (&s_canceled, true);
}

//  ---- Submitting ----

int
wb_batch_submit (wb_store_t *store, const wb_batch_job_t *job, char *id, wb_error_t *err)
{
    assert (store && job && job->model && job->data && id);
    json_t *spec = json_pack ("{s:s, s:s, s:I, s:i, s:I, s:s?}", "model", job->model,
                              "data", job->data, "mini_batch", (json_int_t) job->mini_batch,
                              "parallel", job->parallel,
                              "error_threshold", (json_int_t) job->error_threshold,
                              "output", job->output);
    char *spec_text = json_dumps (spec, JSON_COMPACT);
    json_t *params = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (spec, key, value) {
        char *text = json_is_string (value)? wb_strdup (json_string_value (value))
                                           : json_dumps (value, JSON_ENCODE_ANY);
        json_object_set_new (params, key, json_string (text));
        free (text);
    }
    json_t *env = job->env? json_deep_copy (job->env): json_object ();
    json_object_set_new (env, "WORKBENCH_BATCH_SPEC", json_string (spec_text));
    char binary [4096] = "";
    wb_self_path (binary, sizeof (binary));
    char *script = wb_sprintf ("exec '%s' batch-run", *binary? binary: "workbench");
    wb_job_spec_t job_spec = { .experiment = job->experiment, .name = job->name,
                               .kind = "batch", .target = job->target, .script = script,
                               .params = params, .env = env };
    int rc = wb_job_submit (store, &job_spec, id, err);
    free (script);
    json_decref (env);
    json_decref (params);
    free (spec_text);
    json_decref (spec);
    return rc;
}

//  ---- Scoring ----

typedef struct {
    wb_frame_t *frame;          //  the dataset version
    size_t rows, mini, batches; //  rows, rows a mini-batch, mini-batches
    wb_scorer_t *scorer;        //  a built-in model, or
    wb_pool_t *pool;            //  a user's own, in Python workers
    json_t *columns;            //  the column names the workers get
    size_t *send;               //  their indexes in the frame
    size_t nsend;               //  how many
    bool matrix;                //  all numeric and the workers take raw numbers:
    const double **numbers;     //  then the columns they get
    json_t *classes;            //  class labels when there are probabilities
    size_t nclasses;            //  their count (0: no probabilities)
    bool classify;              //  built-in: the prediction is a class index
    char **cells;               //  each row's prediction as a CSV field (NULL: none)
    double *proba;              //  rows x nclasses
    long threshold;             //  mini-batches that may fail, -1 = any
    atomic_size_t next;         //  the next mini-batch to take
    atomic_size_t done;         //  mini-batches finished
    atomic_size_t failed;       //  of them failed
    atomic_size_t scored;       //  rows with a prediction
    atomic_bool stop;           //  over the threshold, or canceled
    pthread_mutex_t lock;       //  guards first_error and finished
    char first_error [1100];    //  what went wrong first
    double finished;            //  monotonic: when the last thread ran out of mini-batches
} s_batch_t;

//  A JSON value as a CSV field: text quoted, numbers shortest, null empty
static char *
s_csv_cell (json_t *value)
{
    if (json_is_null (value) || !value)
        return wb_strdup ("");
    //  A class index or label as a number: the digits %.17g would give,
    //  without its multi-precision work (a third of the C side's time)
    json_int_t whole = json_integer_value (value);
    if (json_is_integer (value) && whole > -((json_int_t) 1 << 53) && whole < (json_int_t) 1 << 53) {
        char digits [24], *at = digits + sizeof (digits);
        *--at = 0;
        uint64_t left = whole < 0? (uint64_t) -whole: (uint64_t) whole;
        do
            *--at = (char) ('0' + left % 10);
        while (left /= 10);
        if (whole < 0)
            *--at = '-';
        return wb_strdup (at);
    }
    if (json_is_number (value)) {
        double number = json_number_value (value);
        return isfinite (number)? wb_sprintf ("%.17g", number): wb_strdup ("");
    }
    char *text = json_is_string (value)? wb_strdup (json_string_value (value))
                                       : json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    wb_buf_t *buf = wb_buf_new ();
    wb_buf_puts (buf, "\"");
    for (const char *c = text; *c; c++)
        wb_buf_append (buf, *c == '"'? "\"\"": c, *c == '"'? 2: 1);
    wb_buf_puts (buf, "\"");
    char *cell = wb_strdup (wb_buf_data (buf));
    wb_buf_destroy (&buf);
    free (text);
    return cell;
}

static void
s_fail (s_batch_t *self, size_t batch, const char *why)
{
    size_t failed = atomic_fetch_add (&self->failed, 1) + 1;
    pthread_mutex_lock (&self->lock);
    if (!*self->first_error)
        snprintf (self->first_error, sizeof (self->first_error), "mini-batch %zu: %s",
                  batch + 1, why);
    pthread_mutex_unlock (&self->lock);
    fprintf (stderr, "batch: mini-batch %zu failed: %s\n", batch + 1, why);
    if (self->threshold >= 0 && (long) failed > self->threshold)
        atomic_store (&self->stop, true);
}

//  Score rows [first, first + count) with the C scorer. 0, or -1 with err.
static int
s_score_builtin (s_batch_t *self, size_t first, size_t count, wb_error_t *err)
{
    size_t *rows = wb_calloc (count, sizeof (size_t));
    for (size_t i = 0; i < count; i++)
        rows [i] = first + i;
    wb_frame_t *part = wb_frame_select (self->frame, rows, count);
    free (rows);
    double *values = NULL, *proba = NULL;
    int rc = wb_scorer_frame (self->scorer, part, &values, self->nclasses? &proba: NULL, NULL, err);
    wb_frame_destroy (&part);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        json_t *label = self->classify? json_array_get (self->classes, (size_t) values [i]): NULL;
        json_t *number = label? NULL: json_real (values [i]);
        self->cells [first + i] = label && json_is_string (label)? s_csv_cell (label)
                                : s_csv_cell (label? label: number);
        json_decref (number);
        if (proba)
            memcpy (self->proba + (first + i) * self->nclasses, proba + i * self->nclasses,
                    self->nclasses * sizeof (double));
    }
    free (values);
    free (proba);
    return rc;
}

//  Score rows [first, first + count) in a Python worker. 0, or -1 with err.
//  Numbers alone go as a matrix (raw float64, row by row, NaN = missing:
//  no JSON to format in C or parse in Python) made in the thread's own
//  buffer (mini x nsend); anything else as JSON rows.
static int
s_score_python (s_batch_t *self, size_t first, size_t count, double *matrix, wb_error_t *err)
{
    json_t *reply = NULL;
    char *detail = NULL;
    int status;
    if (self->matrix) {
        //  Eight columns at a time, so that what is written of each row
        //  stays in cache: 0.04 ms for 1,000 x 64, 0.19 ms row by row
        for (size_t from = 0; from < self->nsend; from += 8) {
            size_t to = from + 8 < self->nsend? from + 8: self->nsend;
            for (size_t r = 0; r < count; r++) {
                double *row = matrix + r * self->nsend;
                for (size_t i = from; i < to; i++)
                    row [i] = self->numbers [i][first + r];
            }
        }
        status = wb_pool_score_matrix (self->pool, matrix, count, self->nsend, self->columns,
                                       self->nclasses > 0, &reply, &detail);
    }
    else {
        json_t *rows = json_array ();
        for (size_t r = first; r < first + count; r++) {
            json_t *row = json_array ();
            for (size_t i = 0; i < self->nsend; i++) {
                size_t c = self->send [i];
                const double *numbers = wb_frame_numbers (self->frame, c);
                const char *text = numbers? NULL: wb_frame_text (self->frame, c, r);
                json_array_append_new (row, numbers? (isnan (numbers [r])? json_null (): json_real (numbers [r]))
                                                   : text? json_string (text): json_null ());
            }
            json_array_append_new (rows, row);
        }
        status = wb_pool_score (self->pool, rows, self->columns, self->nclasses > 0, &reply, &detail);
        json_decref (rows);
    }
    json_t *predictions = json_object_get (reply, "predictions");
    json_t *proba = json_object_get (reply, "probabilities");
    int rc = 0;
    if (status != 200) {
        const char *message = json_string_value (json_object_get (json_object_get (reply, "error"), "message"));
        rc = wb_error_set (err, "%d %s", status, message? message: "the worker failed");
        if (detail)
            fprintf (stderr, "%s\n", detail);
    }
    else
    if (json_array_size (predictions) != count)
        rc = wb_error_set (err, "the model gave %zu predictions for %zu rows",
                           json_array_size (predictions), count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        self->cells [first + i] = s_csv_cell (json_array_get (predictions, i));
        json_t *row = json_array_get (proba, i);
        for (size_t k = 0; k < self->nclasses; k++)
            self->proba [(first + i) * self->nclasses + k] =
                json_is_number (json_array_get (row, k))? json_number_value (json_array_get (row, k)): NAN;
    }
    json_decref (reply);
    free (detail);
    return rc;
}

static void *
s_worker (void *arg)
{
    s_batch_t *self = arg;
    size_t mini = self->mini < self->rows? self->mini: self->rows;
    double *matrix = self->matrix? wb_malloc ((mini * self->nsend + 1) * sizeof (double)): NULL;
    while (!atomic_load (&self->stop) && !atomic_load (&s_canceled)) {
        size_t batch = atomic_fetch_add (&self->next, 1);
        if (batch >= self->batches)
            break;
        size_t first = batch * self->mini;
        size_t count = first + self->mini > self->rows? self->rows - first: self->mini;
        wb_error_t err;
        int rc = self->scorer? s_score_builtin (self, first, count, &err)
                             : s_score_python (self, first, count, matrix, &err);
        if (rc)
            s_fail (self, batch, err.text);
        else
            atomic_fetch_add (&self->scored, count);
        atomic_fetch_add (&self->done, 1);
    }
    free (matrix);
    double now = wb_time_mono ();
    pthread_mutex_lock (&self->lock);
    if (now > self->finished)
        self->finished = now;
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

//  Log progress, rows_scored, failed_batches at step done
static void
s_progress (wb_store_t *store, const char *id, s_batch_t *self)
{
    size_t done = atomic_load (&self->done);
    wb_metric_t points [3] = {
        { "progress", (int64_t) done, self->batches? (double) done / (double) self->batches: 1, 0 },
        { "rows_scored", (int64_t) done, (double) atomic_load (&self->scored), 0 },
        { "failed_batches", (int64_t) done, (double) atomic_load (&self->failed), 0 },
    };
    wb_error_t err;
    if (wb_store_log (store, id, points, 3, &err))
        fprintf (stderr, "batch: cannot log progress: %s\n", err.text);
}

//  outputs/predictions.csv: the input rows, then prediction and the
//  probabilities, as %predict writes them
static int
s_write (s_batch_t *self, const char *path, wb_error_t *err)
{
    FILE *file = fopen (path, "w");
    if (!file)
        return wb_error_set (err, "cannot write '%s': %s", path, strerror (errno));
    size_t cols = wb_frame_cols (self->frame);
    for (size_t c = 0; c < cols; c++)
        fprintf (file, "%s\"%s\"", c? ",": "", wb_frame_name (self->frame, c));
    fprintf (file, ",prediction");
    for (size_t k = 0; k < self->nclasses; k++) {
        json_t *label = json_array_get (self->classes, k);
        char *text = json_is_string (label)? wb_strdup (json_string_value (label))
                                           : json_dumps (label, JSON_ENCODE_ANY);
        fprintf (file, ",\"probability_%s\"", text? text: "");
        free (text);
    }
    fprintf (file, "\n");
    for (size_t r = 0; r < self->rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            const char *text = wb_frame_text (self->frame, c, r);
            fputs (c? ",": "", file);
            if (text) {
                fputc ('"', file);
                for (const char *ch = text; *ch; ch++) {
                    if (*ch == '"')
                        fputc ('"', file);
                    fputc (*ch, file);
                }
                fputc ('"', file);
            }
        }
        fprintf (file, ",%s", self->cells [r]? self->cells [r]: "");
        for (size_t k = 0; k < self->nclasses; k++) {
            double p = self->proba [r * self->nclasses + k];
            if (self->cells [r] && isfinite (p))
                fprintf (file, ",%.6g", p);
            else
                fputs (",", file);
        }
        fputs ("\n", file);
    }
    return fclose (file)? wb_error_set (err, "cannot write '%s': %s", path, strerror (errno)): 0;
}

//  The model's scorer or pool, and what its predictions are (classes)
static int
s_load_model (s_batch_t *self, wb_store_t *store, json_t *model, int parallel, wb_error_t *err)
{
    const char *flavor = json_string_value (json_object_get (model, "flavor"));
    if (!flavor || streq (flavor, "workbench")) {
        char *file = wb_store_blob_path (store, json_string_value (json_object_get (model, "hash")));
        size_t size;
        char *data = wb_fs_read (file, &size, err);
        free (file);
        self->scorer = data? wb_scorer_new (data, size, err): NULL;
        free (data);
        if (!self->scorer)
            return -1;
        json_t *expects = wb_scorer_expects (self->scorer);
        self->classify = streq (json_string_value (json_object_get (expects, "task"))
                                ? json_string_value (json_object_get (expects, "task")): "", "classification");
        self->classes = json_incref (json_object_get (expects, "classes"));
        self->nclasses = self->classify? json_array_size (self->classes): 0;
        return 0;
    }
    const char *name = json_string_value (json_object_get (model, "name"));
    int64_t version = json_integer_value (json_object_get (model, "version"));
    char *worker = wb_registry_worker (store, err);
    char *dir = wb_registry_model_dir (store, name, version);
    char *path = wb_sprintf ("%s/%s", dir, json_string_value (json_object_get (model, "file")));
    const char *scorer_rel = json_string_value (json_object_get (model, "scorer"));
    char *scorer = scorer_rel? wb_sprintf ("%s/%s", dir, scorer_rel): NULL;
    const char *python = json_string_value (json_object_get (model, "python"));
    wb_pool_config_t config = {
        .python = python? python: "python3", .worker = worker, .flavor = flavor, .model = path,
        .scorer = scorer, .model_dir = dir, .label = "batch", .workers = parallel,
        .max_batch_rows = 1, .request_timeout = 0, .start_timeout = 300, .log_fd = STDERR_FILENO,
    };
    char *detail = NULL;
    self->pool = worker? wb_pool_new (&config, &detail, err): NULL;
    if (!self->pool && detail)
        fprintf (stderr, "%s\n", detail);
    free (detail);
    free (scorer);
    free (path);
    free (dir);
    free (worker);
    if (!self->pool)
        return -1;
    json_t *hello = wb_pool_hello (self->pool);
    if (json_is_true (json_object_get (hello, "proba")) && json_is_array (json_object_get (hello, "classes"))) {
        self->classes = json_incref (json_object_get (hello, "classes"));
        self->nclasses = json_array_size (self->classes);
    }
    return 0;
}

int
wb_batch_run (const char *path, const char *id, json_t *spec, const char *outputs)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_term;
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    const char *model_ref = json_string_value (json_object_get (spec, "model"));
    const char *data_ref = json_string_value (json_object_get (spec, "data"));
    const char *output = json_string_value (json_object_get (spec, "output"));
    long mini = (long) json_integer_value (json_object_get (spec, "mini_batch"));
    int parallel = (int) json_integer_value (json_object_get (spec, "parallel"));
    if (!model_ref || !data_ref || mini < 1 || parallel < 1) {
        fprintf (stderr, "workbench batch-run: the spec needs model, data, mini_batch and parallel\n");
        return 1;
    }
    wb_error_t err = { .text = "" };
    s_batch_t self = { .threshold = (long) json_integer_value (json_object_get (spec, "error_threshold")),
                       .mini = (size_t) mini };
    pthread_mutex_init (&self.lock, NULL);
    wb_store_t *store = wb_store_open (path, false, &err);
    json_t *model = store? wb_registry_model_get (store, model_ref, &err): NULL;
    json_t *record = NULL;
    int rc = 1;
    if (model && wb_store_lineage (store, id, "input", "model",
                                   json_string_value (json_object_get (model, "name")),
                                   json_integer_value (json_object_get (model, "version")), &err))
        goto done;
    self.frame = model? wb_dataset_use (store, data_ref, id, &record, &err): NULL;
    if (!self.frame)
        goto done;
    self.rows = wb_frame_rows (self.frame);
    self.batches = (self.rows + self.mini - 1) / self.mini;
    printf ("batch: %s scores %s:%lld, %zu rows in %zu mini-batches of %zu, %d at once\n",
            model_ref, json_string_value (json_object_get (record, "name")),
            (long long) json_integer_value (json_object_get (record, "version")),
            self.rows, self.batches, self.mini, parallel);
    fflush (stdout);
    if (s_load_model (&self, store, model, parallel, &err))
        goto done;
    //  A model that names its columns gets those (the dataset may hold the
    //  target and more); one that does not gets every column in order
    self.columns = json_array ();
    self.send = wb_calloc (wb_frame_cols (self.frame) + 1, sizeof (size_t));
    json_t *named = self.pool? json_object_get (wb_pool_hello (self.pool), "columns"): NULL;
    if (json_array_size (named)) {
        size_t index;
        json_t *column;
        json_array_foreach (named, index, column) {
            int at = json_is_string (column)? wb_frame_find (self.frame, json_string_value (column)): -1;
            if (at < 0) {
                wb_error_set (&err, "the model takes column '%s', which dataset %s does not have",
                              json_is_string (column)? json_string_value (column): "?", data_ref);
                goto done;
            }
            if (self.nsend <= wb_frame_cols (self.frame)) {
                self.send [self.nsend++] = (size_t) at;
                json_array_append (self.columns, column);
            }
        }
    }
    else
        for (size_t c = 0; c < wb_frame_cols (self.frame); c++) {
            self.send [self.nsend++] = c;
            json_array_append_new (self.columns, json_string (wb_frame_name (self.frame, c)));
        }
    //  Numbers alone go to the workers as raw float64 (the hello says
    //  whether they take them: numpy is there), in a buffer a thread; a
    //  mini-batch over 256 MiB that way goes as JSON rows (and is refused)
    self.matrix = self.pool && json_is_true (json_object_get (wb_pool_hello (self.pool), "matrix"))
               && (self.mini < self.rows? self.mini: self.rows) <= (256u << 20) / 8 / (self.nsend + 1);
    self.numbers = wb_calloc (self.nsend + 1, sizeof (double *));
    const char *text_column = NULL;
    for (size_t i = 0; self.matrix && i < self.nsend; i++)
        if (!(self.numbers [i] = wb_frame_numbers (self.frame, self.send [i]))) {
            text_column = wb_frame_name (self.frame, self.send [i]);
            self.matrix = false;
        }
    if (self.pool && self.matrix)
        printf ("batch: the rows go to the workers as raw float64 (every column they take "
                "is numeric)\n");
    else
    if (self.pool)
        printf ("batch: the rows go to the workers as JSON (%s%s%s)\n",
                text_column? "column '": "", text_column? text_column: "their Python has no numpy",
                text_column? "' is not numeric": "");
    fflush (stdout);
    self.cells = wb_calloc (self.rows? self.rows: 1, sizeof (char *));
    self.proba = wb_calloc ((self.rows? self.rows: 1) * (self.nclasses? self.nclasses: 1), sizeof (double));
    double started = wb_time_mono ();
    //  Python workers get two threads each: while one waits for its
    //  mini-batch, the other makes the next and writes out the last, so
    //  that a worker always finds one queued (the pool's queue) and never
    //  waits for this process (a mini-batch of 1,000 rows x 64 numbers: a
    //  worker idled 0.7-0.9 ms of each 5 ms call with one thread)
    int callers = self.pool? 2 * parallel: parallel;
    pthread_t *threads = wb_calloc ((size_t) callers, sizeof (pthread_t));
    int running = 0;
    for (int t = 0; t < callers; t++)
        if (pthread_create (&threads [t], NULL, s_worker, &self) == 0)
            running++;
    double last = 0;
    while (atomic_load (&self.done) < self.batches && !atomic_load (&self.stop)) {
        if (atomic_load (&s_canceled))
            atomic_store (&self.stop, true);
        usleep (20 * 1000);
        if (wb_time_mono () - last >= S_PROGRESS_EVERY) {
            last = wb_time_mono ();
            s_progress (store, id, &self);
        }
        if (running == 0)
            break;
    }
    for (int t = 0; t < running; t++)
        pthread_join (threads [t], NULL);
    free (threads);
    s_progress (store, id, &self);
    //  From the first mini-batch to the last (not to this thread's next
    //  look, up to 20 ms later)
    double seconds = (self.finished > started? self.finished: wb_time_mono ()) - started;
    size_t failed = atomic_load (&self.failed), scored = atomic_load (&self.scored);
    wb_metric_t rate = { "rows_per_second", 0, seconds > 0? (double) scored / seconds: 0, 0 };
    wb_store_log (store, id, &rate, 1, NULL);
    printf ("batch: %zu of %zu rows scored in %.2f s (%.0f rows/s), %zu mini-batch%s failed\n",
            scored, self.rows, seconds, rate.value, failed, failed == 1? "": "es");
    if (atomic_load (&s_canceled)) {
        fprintf (stderr, "batch: canceled after %zu of %zu mini-batches\n",
                 atomic_load (&self.done), self.batches);
        goto done;
    }
    if (failed > 0 && failed == self.batches) {
        fprintf (stderr, "batch: every mini-batch failed; the first: %s\n", self.first_error);
        goto done;
    }
    if (self.threshold >= 0 && (long) failed > self.threshold) {
        fprintf (stderr, "batch: %zu mini-batch%s failed, over the error threshold of %ld "
                 "(--error-threshold -1 ignores failures); the first: %s\n", failed,
                 failed == 1? "": "es", self.threshold, self.first_error);
        goto done;
    }
    char *file = wb_sprintf ("%s/predictions.csv", outputs);
    rc = s_write (&self, file, &err)? 1: 0;
    if (rc == 0 && output) {
        json_t *made = wb_dataset_register (store, output, file, NULL, &err);
        int64_t version = json_integer_value (json_object_get (made, "version"));
        if (!made || wb_store_lineage (store, id, "output", "dataset", output, version, &err))
            rc = 1;
        else
            printf ("batch: the predictions are dataset %s:%lld\n", output, (long long) version);
        json_decref (made);
    }
    free (file);
done:
    if (rc && *err.text && !atomic_load (&s_canceled) && atomic_load (&self.failed) == 0)
        fprintf (stderr, "batch: %s\n", err.text);
    for (size_t r = 0; self.cells && r < self.rows; r++)
        free (self.cells [r]);
    free (self.cells);
    free (self.proba);
    free (self.send);
    free (self.numbers);
    wb_pool_destroy (&self.pool);
    wb_scorer_destroy (&self.scorer);
    json_decref (self.columns);
    json_decref (self.classes);
    wb_frame_destroy (&self.frame);
    json_decref (record);
    json_decref (model);
    wb_store_destroy (&store);
    pthread_mutex_destroy (&self.lock);
    return rc;
}

//  @selftest
void
wb_batch_test (bool verbose)
{
    (void) verbose;
    //  Prediction cells as %predict writes them
    json_t *values [] = { json_string ("a \"b\""), json_real (0.1), json_null (), json_true () };
    const char *cells [] = { "\"a \"\"b\"\"\"", "0.10000000000000001", "", "\"true\"" };
    for (size_t i = 0; i < 4; i++) {
        char *cell = s_csv_cell (values [i]);
        assert (streq (cell, cells [i]));
        free (cell);
        json_decref (values [i]);
    }
}
//  @end
