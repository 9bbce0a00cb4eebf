/*  wb_model_fit - training: the state a training shares with the kinds'
    methods, seeded splits (stratified by class), and the driver that
    checks, holds out validation rows, fits the preprocessing, encodes,
    runs the kind's method on the training threads and takes the final
    metrics (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- Training: shared state ----

//  Between batches: should training go on?
bool
wb_model__go_on (wb_model__train_t *t)
{
    if (!t->stopped && t->fn && t->fn (t->arg, t->model->steps + 1, NULL))
        t->stopped = true;
    return !t->stopped;
}

//  The end of a step: record its metrics (steals them), tell the caller
void
wb_model__step_done (wb_model__train_t *t, json_t *metrics)
{
    wb_model_t *self = t->model;
    self->steps++;
    json_t *entry = json_pack ("{s:I}", "step", (json_int_t) self->steps);
    json_object_update (entry, metrics);
    json_decref (metrics);
    json_array_append_new (self->history, entry);
    if (t->fn && t->fn (t->arg, self->steps, entry))
        t->stopped = true;
}


//  ---- Training ----

//  Split row indexes: stratified by codes (classes 0 .. classes-1, -1 for
//  none) when codes is not NULL. Ascending index lists.
static void
s_split (size_t rows, const int32_t *codes, size_t classes, double fraction, wb_rng_t *rng,
         size_t *train, size_t *train_count, size_t *valid, size_t *valid_count)
{
    bool *held = wb_calloc (rows, sizeof (bool));
    size_t held_count = 0;
    size_t groups = codes? classes + 1: 1;
    size_t *members = wb_malloc (rows * sizeof (size_t));
    size_t largest_group = 0, largest_size = 0;
    for (size_t group = 0; group < groups; group++) {
        size_t count = 0;
        for (size_t row = 0; row < rows; row++) {
            int32_t code = codes? codes [row]: 0;
            size_t row_group = codes? (code < 0? classes: (size_t) code): 0;
            if (row_group == group)
                members [count++] = row;
        }
        if (count == 0)
            continue;
        wb_rng_shuffle (rng, members, count);
        size_t take = (size_t) floor (fraction * (double) count + 0.5);
        if (take >= count)
            take = count - 1;
        for (size_t i = 0; i < take; i++)
            held [members [i]] = true;
        held_count += take;
        if (count > largest_size) {
            largest_size = count;
            largest_group = group;
        }
    }
    //  At least one row on each side
    if (held_count == 0) {
        size_t count = 0;
        for (size_t row = 0; row < rows; row++) {
            int32_t code = codes? codes [row]: 0;
            size_t row_group = codes? (code < 0? classes: (size_t) code): 0;
            if (row_group == largest_group)
                members [count++] = row;
        }
        held [members [wb_rng_below (rng, count)]] = true;
    }
    *train_count = *valid_count = 0;
    for (size_t row = 0; row < rows; row++)
        if (held [row])
            valid [(*valid_count)++] = row;
        else
            train [(*train_count)++] = row;
    free (members);
    free (held);
}

//  Class codes of a column for stratifying (classes in order of first
//  sight; -1 for missing). Number of classes.
static size_t
s_strata (wb_frame_t *frame, size_t col, int32_t *codes)
{
    wb_model__set_t set = { 0 };
    size_t rows = wb_frame_rows (frame);
    const double *numbers = wb_frame_numbers (frame, col);
    double *values = NULL;
    int64_t count = numbers? wb_model__distinct_numbers (numbers, rows, WB_MODEL__MAX_CLASSES,
                                                         &values): -1;
    if (count >= 0) {
        //  a handful of numbers: look each row's up among them
        for (size_t row = 0; row < rows; row++) {
            codes [row] = -1;
            if (isnan (numbers [row]))
                continue;
            size_t low = 0, high = (size_t) count;
            while (low < high) {
                size_t mid = (low + high) / 2;
                if (values [mid] < numbers [row])
                    low = mid + 1;
                else
                    high = mid;
            }
            codes [row] = (int32_t) low;
        }
        free (values);
        return (size_t) count;
    }
    for (size_t row = 0; row < rows; row++) {
        char text [64];
        const char *label = NULL;
        if (numbers) {
            if (!isnan (numbers [row])) {
                wb_double_text (numbers [row], text, sizeof (text));
                label = text;
            }
        }
        else
            label = wb_frame_text (frame, col, row);
        codes [row] = label? (int32_t) wb_model__set_add (&set, label): -1;
    }
    size_t classes = set.count;
    wb_model__set_free (&set);
    return classes;
}

int
wb_model_split_rows (wb_frame_t *frame, const char *target, double fraction, uint64_t seed,
                     size_t **train_p, size_t *train_count, size_t **valid_p,
                     size_t *valid_count, wb_error_t *err)
{
    assert (frame && train_p && train_count && valid_p && valid_count);
    if (!(fraction > 0 && fraction < 1))
        return wb_error_set (err, "a validation fraction of %g is out of range: use a "
                             "number between 0 and 1, e.g. 0.2", fraction);
    size_t rows = wb_frame_rows (frame);
    if (rows < 2)
        return wb_error_set (err, "the table has %zu row%s: a split needs at least 2",
                             rows, rows == 1? "": "s");
    int32_t *codes = NULL;
    size_t classes = 0;
    if (target) {
        int col = wb_frame_find (frame, target);
        if (col < 0)
            return wb_model__unknown_column (frame, target, "the table", err);
        if (wb_model__looks_like_classes (frame, (size_t) col)) {
            codes = wb_malloc (rows * sizeof (int32_t));
            classes = s_strata (frame, (size_t) col, codes);
        }
    }
    wb_rng_t rng;
    wb_rng_seed (&rng, seed);
    *train_p = wb_malloc (rows * sizeof (size_t));
    *valid_p = wb_malloc (rows * sizeof (size_t));
    s_split (rows, codes, classes, fraction, &rng, *train_p, train_count, *valid_p, valid_count);
    free (codes);
    return 0;
}

int
wb_model_split (wb_frame_t *frame, const char *target, double fraction, uint64_t seed,
                wb_frame_t **train_p, wb_frame_t **valid_p, wb_error_t *err)
{
    assert (train_p && valid_p);
    size_t *train, *valid, train_count, valid_count;
    if (wb_model_split_rows (frame, target, fraction, seed, &train, &train_count,
                             &valid, &valid_count, err))
        return -1;
    *train_p = wb_frame_select (frame, train, train_count);
    *valid_p = wb_frame_select (frame, valid, valid_count);
    free (train);
    free (valid);
    return 0;
}

//  Threads to train on: as asked, or with threads=0 as many as have
//  enough work (64 rows of a mini-batch, 4096 rows otherwise), at most
//  one a core
static size_t
s_threads (wb_model__plan_t *plan, size_t rows)
{
    if (plan->params.threads)
        return (size_t) plan->params.threads;
    size_t batch = (size_t) plan->params.batch_size < rows? (size_t) plan->params.batch_size: rows;
    size_t useful = plan->kind == WB_MODEL__MLP? batch / 64: rows / 4096;
    size_t cores = (size_t) wb_blas_cores ();
    return useful < 1? 1: useful > cores? cores: useful;
}

//  The training target into t (codes or standardised values)
static int
s_train_target (wb_model__train_t *t, wb_frame_t *frame, int32_t **codes_p, double **values_p,
                const char *table, wb_error_t *err)
{
    wb_model_t *self = t->model;
    size_t rows = wb_frame_rows (frame);
    int col = wb_frame_find (frame, self->target);
    assert (col >= 0);
    if (self->task == WB_MODEL__CLASSIFICATION) {
        *codes_p = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        return wb_model__target_codes (self, frame, (size_t) col, *codes_p, NULL, table, err);
    }
    const double *numbers = wb_frame_numbers (frame, (size_t) col);
    *values_p = wb_malloc ((rows? rows: 1) * sizeof (double));
    for (size_t row = 0; row < rows; row++)
        (*values_p) [row] = numbers? numbers [row]: strtod (wb_frame_text (frame, (size_t) col, row), NULL);
    return 0;
}

wb_model_t *
wb_model_train (wb_frame_t *train, wb_frame_t *valid, const char *target, const char *kind,
                json_t *params, wb_model_progress_fn *fn, void *arg, wb_error_t *err)
{
    wb_model__plan_t plan;
    if (wb_model__prepare (&plan, train, valid, target, kind, params, err)) {
        wb_model__plan_free (&plan);
        return NULL;
    }
    const wb_blas_t *blas = wb_blas (err);
    if (!blas || wb_blas_set_threads (plan.params.threads, err)) {
        wb_model__plan_free (&plan);
        return NULL;
    }
    wb_model_t *self = wb_model__new (plan.kind);
    self->task = plan.task;
    self->params = wb_model__params_json (&plan.params, plan.kind, plan.task);
    wb_model__train_t t = { 0 };
    t.model = self;
    t.blas = blas;
    t.params = &plan.params;
    t.fn = fn;
    t.arg = arg;
    wb_rng_seed (&t.rng, plan.params.seed);
    //  Training runs on its own threads, each calling OpenBLAS alone;
    //  OpenBLAS's threads, which spin for a while after each call, are
    //  stopped so as not to take the cores from ours, and come back after
    int blas_threads = blas->get_num_threads ();
    blas->set_num_threads (1);
    wb_blas_stop_threads ();
    t.pool = wb_model__pool_new (s_threads (&plan, wb_frame_rows (train)));

    //  Hold out validation rows from train when there is no validation table
    wb_frame_t *own_train = NULL, *own_valid = NULL;
    if (!valid && plan.params.validation > 0 && plan.kind != WB_MODEL__KMEANS) {
        size_t rows = wb_frame_rows (train);
        int32_t *codes = NULL;
        size_t classes = 0;
        if (plan.task == WB_MODEL__CLASSIFICATION) {
            codes = wb_malloc (rows * sizeof (int32_t));
            classes = s_strata (train, (size_t) plan.target, codes);
        }
        size_t *train_rows = wb_malloc (rows * sizeof (size_t));
        size_t *valid_rows = wb_malloc (rows * sizeof (size_t));
        size_t train_count, valid_count;
        s_split (rows, codes, classes, plan.params.validation, &t.rng, train_rows,
                 &train_count, valid_rows, &valid_count);
        own_train = wb_frame_select (train, train_rows, train_count);
        own_valid = wb_frame_select (train, valid_rows, valid_count);
        train = own_train;
        valid = own_valid;
        free (codes);
        free (train_rows);
        free (valid_rows);
    }
    wb_model__fit_preprocessing (self, &plan, train, t.pool);
    self->rows = t.rows = wb_frame_rows (train);
    self->valid_rows = t.vrows = valid? wb_frame_rows (valid): 0;
    int rc = 0;
    bool single = plan.kind == WB_MODEL__MLP || plan.kind == WB_MODEL__KMEANS;
    void *x = wb_model__encode (self, train, single, t.pool, "the training table", err);
    if (!x)
        rc = -1;
    else
    if (single)
        t.xf = x;
    else
        t.x = x;
    if (rc == 0 && plan.kind != WB_MODEL__KMEANS)
        rc = s_train_target (&t, train, &t.codes, &t.y, "the training table", err);
    if (rc == 0 && t.y)
        for (size_t row = 0; row < t.rows; row++)
            t.y [row] = (t.y [row] - self->target_mean) / self->target_std;
    if (rc == 0 && valid && plan.kind != WB_MODEL__KMEANS) {
        void *vx = wb_model__encode (self, valid, single, t.pool, "the validation table", err);
        if (!vx)
            rc = -1;
        else
        if (single)
            t.vxf = vx;
        else
            t.vx = vx;
        if (rc == 0)
            rc = s_train_target (&t, valid, &t.vcodes, &t.vy, "the validation table", err);
    }
    if (rc == 0) {
        switch (plan.kind) {
            case WB_MODEL__LINEAR:   rc = wb_model__train_linear (&t, err); break;
            case WB_MODEL__LOGISTIC: rc = wb_model__train_logistic (&t, err); break;
            case WB_MODEL__MLP:      rc = wb_model__train_mlp (&t, err); break;
            default:                 rc = wb_model__train_kmeans (&t, err); break;
        }
    }
    wb_model__pool_destroy (&t.pool);
    blas->set_num_threads (blas_threads);
    if (rc == 0 && self->steps == 0 && streq (self->stop? self->stop: "", "interrupted")) {
        rc = wb_error_set (err, "training was stopped before its first %s finished: there "
                           "is no model to keep", plan.kind == WB_MODEL__MLP? "epoch": "iteration");
    }
    //  Final validation metrics
    if (rc == 0 && valid) {
        json_decref (self->metrics);
        self->metrics = wb_model_evaluate (self, valid, NULL, err);
        if (!self->metrics)
            rc = -1;
    }
    free (t.x);
    free (t.xf);
    free (t.vx);
    free (t.vxf);
    free (t.y);
    free (t.vy);
    free (t.codes);
    free (t.vcodes);
    wb_frame_destroy (&own_train);
    wb_frame_destroy (&own_valid);
    wb_model__plan_free (&plan);
    if (rc)
        wb_model_destroy (&self);
    return self;
}


//  @selftest
//  Progress callback: counts steps, stops after stop_after of them (0: never)
typedef struct {
    int64_t steps;              //  steps seen with metrics
    int64_t asks;               //  calls without metrics
    int64_t stop_after;         //  stop once this many steps were seen
    bool stop_at_once;          //  stop at the first call
} s_test_progress_t;

static int
s_test_progress (void *arg, int64_t step, json_t *metrics)
{
    s_test_progress_t *progress = arg;
    if (progress->stop_at_once)
        return 1;
    if (metrics) {
        progress->steps++;
        assert (step == progress->steps);
        assert (json_integer_value (json_object_get (metrics, "step")) == step);
    }
    else
        progress->asks++;
    return progress->stop_after && progress->steps >= progress->stop_after;
}

void
wb_model_fit_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_buf_t *buf;
    wb_model_t *model;
    wb_frame_t *blobs = wb_model__test_blobs ();

    //  ---- The same seed gives the same bytes; threads share the work ----
    const char *seeded = "{\"hidden\": [8, 8], \"epochs\": 4, \"batch_size\": 8, \"seed\": 7, "
                         "\"threads\": 2}";
    model = wb_model__test_train (blobs, NULL, "kind", "mlp", seeded);
    wb_model_t *again = wb_model__test_train (blobs, NULL, "kind", "mlp", seeded);
    char *bytes = wb_model_save (model, NULL), *bytes2 = wb_model_save (again, NULL);
    assert (streq (bytes, bytes2));
    free (bytes2);
    wb_model_destroy (&again);
    again = wb_model__test_train (blobs, NULL, "kind", "mlp", "{\"hidden\": [8, 8], \"epochs\": 4, "
                                  "\"batch_size\": 8, \"seed\": 8, \"threads\": 2}");
    bytes2 = wb_model_save (again, NULL);
    assert (!streq (bytes, bytes2));
    free (bytes2);
    wb_model_destroy (&again);
    //  ... for every kind
    const char *kinds [] = { "logistic", "kmeans", "linear" };
    const char *targets [] = { "kind", "kind", "u" };
    for (int i = 0; i < 3; i++) {
        wb_model_t *one = wb_model__test_train (blobs, NULL, targets [i], kinds [i],
                                                "{\"seed\": 5, \"threads\": 2}");
        wb_model_t *two = wb_model__test_train (blobs, NULL, targets [i], kinds [i],
                                                "{\"seed\": 5, \"threads\": 2}");
        char *x1 = wb_model_save (one, NULL), *x2 = wb_model_save (two, NULL);
        assert (streq (x1, x2));
        free (x1);
        free (x2);
        wb_model_destroy (&one);
        wb_model_destroy (&two);
    }
    free (bytes);
    wb_model_destroy (&model);

    //  ---- Interrupt: stop at the next batch, keep what there is ----
    s_test_progress_t progress = { 0, 0, 2, false };
    json_t *params = wb_model__test_params ("{\"hidden\": [4], \"epochs\": 50, \"batch_size\": 10, "
                                            "\"validation\": 0.2, \"threads\": 1}");
    model = wb_model_train (blobs, NULL, "kind", "mlp", params, s_test_progress, &progress, &err);
    assert (model);
    assert (progress.steps == 2 && wb_model_steps (model) == 2);
    assert (progress.asks >= 2 * 12);           //  asked before every batch
    assert (streq (wb_model_stop (model), "interrupted"));
    assert (json_array_size (wb_model_history (model)) == 2);
    assert (wb_model_metrics (model));          //  final metrics of what was kept
    wb_model_destroy (&model);
    progress = (s_test_progress_t) { 0, 0, 1, false };
    model = wb_model_train (blobs, NULL, "kind", "logistic", NULL, s_test_progress, &progress, &err);
    assert (model && wb_model_steps (model) == 1 && streq (wb_model_stop (model), "interrupted"));
    wb_model_destroy (&model);
    progress = (s_test_progress_t) { 0, 0, 0, true };
    model = wb_model_train (blobs, NULL, "kind", "mlp", params, s_test_progress, &progress, &err);
    assert (model == NULL && strstr (err.text, "stopped before its first epoch"));
    json_decref (params);

    //  ---- Splits: stratified, seeded ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "x,group\n");
    for (int i = 0; i < 100; i++)
        wb_buf_printf (buf, "%d,%s\n", i, i < 80? "big": "small");
    wb_frame_t *groups = wb_model__test_buf_frame (&buf);
    size_t *train_rows, *valid_rows, train_count, valid_count;
    assert (wb_model_split_rows (groups, "group", 0.25, 9, &train_rows, &train_count,
                                 &valid_rows, &valid_count, &err) == 0);
    assert (train_count == 75 && valid_count == 25);
    size_t small = 0;
    for (size_t i = 0; i < valid_count; i++) {
        small += valid_rows [i] >= 80;
        assert (i == 0 || valid_rows [i] > valid_rows [i - 1]);
    }
    assert (small == 5);                        //  a quarter of each class
    size_t *train_rows2, *valid_rows2, train_count2, valid_count2;
    assert (wb_model_split_rows (groups, "group", 0.25, 9, &train_rows2, &train_count2,
                                 &valid_rows2, &valid_count2, &err) == 0);
    assert (memcmp (valid_rows, valid_rows2, valid_count * sizeof (size_t)) == 0);
    free (train_rows2);
    free (valid_rows2);
    assert (wb_model_split_rows (groups, "group", 0.25, 10, &train_rows2, &train_count2,
                                 &valid_rows2, &valid_count2, &err) == 0);
    assert (memcmp (valid_rows, valid_rows2, valid_count * sizeof (size_t)) != 0);
    free (train_rows2);
    free (valid_rows2);
    free (train_rows);
    free (valid_rows);
    wb_frame_t *t1, *v1;
    assert (wb_model_split (groups, "group", 1.5, 0, &t1, &v1, &err) == -1);
    assert (strstr (err.text, "between 0 and 1"));
    assert (wb_model_split (groups, "nope", 0.5, 0, &t1, &v1, &err) == -1);
    assert (strstr (err.text, "unknown column 'nope'"));
    wb_frame_destroy (&groups);
    wb_frame_destroy (&blobs);
}
//  @end
