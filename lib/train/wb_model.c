/*  wb_model - built-in training on OpenBLAS (wb_model.h describes the
    kinds, the hyperparameters and the model file)

    A model is a preprocessing step (the features: standardisation and
    one-hot encoding) followed either by a stack of dense layers (linear,
    logistic and mlp are all one) or by k-means centres. Training checks
    the request and builds the untrained model (wb_model__prepare; every
    check on the input happens there, before any work), fits the
    preprocessing on the training rows, encodes the tables into row-major
    matrices, then fits. Prediction encodes, runs the layers with DGEMM in
    blocks of rows, and reads the outputs.

    The class is one file a part (wb_model_int.h lists them); this one
    holds the model itself, its accessors, and the self-test, which runs
    every part's.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- Kinds and tasks, numbers as JSON ----

const char *wb_model__task_names [] = { "regression", "classification", "clustering" };

const char *
wb_model__kind_name (int kind)
{
    switch (kind) {
        case WB_MODEL__LINEAR:   return "linear";
        case WB_MODEL__LOGISTIC: return "logistic";
        case WB_MODEL__MLP:      return "mlp";
        default:                 return "kmeans";
    }
}

int
wb_model__kind_parse (const char *name)
{
    if (!name)
        return 0;
    return streq (name, "linear")?   WB_MODEL__LINEAR
         : streq (name, "logistic")? WB_MODEL__LOGISTIC
         : streq (name, "mlp")?      WB_MODEL__MLP
         : streq (name, "kmeans")?   WB_MODEL__KMEANS: 0;
}

//  A finite number as JSON, null otherwise (jansson refuses NaN and inf)
json_t *
wb_model__real (double value)
{
    return isfinite (value)? json_real (value): json_null ();
}

int
wb_model__double_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}


//  ---- The model ----

wb_model_t *
wb_model__new (int kind)
{
    wb_model_t *self = wb_calloc (1, sizeof (wb_model_t));
    self->kind = kind;
    self->task = kind == WB_MODEL__KMEANS? WB_MODEL__CLUSTERING
               : kind == WB_MODEL__LINEAR? WB_MODEL__REGRESSION: WB_MODEL__CLASSIFICATION;
    self->target_std = 1;
    self->history = json_array ();
    self->stop = wb_strdup ("solved");
    return self;
}

void
wb_model_destroy (wb_model_t **self_p)
{
    assert (self_p);
    wb_model_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->params);
    free (self->target);
    for (size_t i = 0; i < self->nfeatures; i++) {
        free (self->features [i].name);
        wb_model__set_free (&self->features [i].categories);
    }
    free (self->features);
    wb_model__set_free (&self->classes);
    free (self->class_values);
    for (size_t i = 0; i < self->nlayers; i++) {
        free (self->layers [i].weights);
        free (self->layers [i].bias);
    }
    free (self->layers);
    free (self->centers);
    json_decref (self->history);
    json_decref (self->metrics);
    free (self->stop);
    free (self);
    *self_p = NULL;
}

void
wb_model__set_stop (wb_model_t *self, const char *stop)
{
    free (self->stop);
    self->stop = wb_strdup (stop);
}

wb_model__layer_t *
wb_model__add_layer (wb_model_t *self, size_t in, size_t out, int activation)
{
    self->layers = wb_realloc (self->layers, (self->nlayers + 1) * sizeof (wb_model__layer_t));
    wb_model__layer_t *layer = &self->layers [self->nlayers++];
    layer->in = in;
    layer->out = out;
    layer->weights = wb_calloc (in * out, sizeof (double));
    layer->bias = wb_calloc (out, sizeof (double));
    layer->activation = activation;
    return layer;
}


//  ---- Accessors ----

const char *
wb_model_kind (wb_model_t *self)
{
    assert (self);
    return wb_model__kind_name (self->kind);
}

const char *
wb_model_task (wb_model_t *self)
{
    assert (self);
    return wb_model__task_names [self->task];
}

const char *
wb_model_target (wb_model_t *self)
{
    assert (self);
    return self->target;
}

size_t
wb_model_classes (wb_model_t *self)
{
    assert (self);
    return self->classes.count;
}

const char *
wb_model_class (wb_model_t *self, size_t index)
{
    assert (self && index < self->classes.count);
    return self->classes.items [index];
}

size_t
wb_model_inputs (wb_model_t *self)
{
    assert (self);
    return self->inputs;
}

json_t *
wb_model_params (wb_model_t *self)
{
    assert (self);
    return self->params;
}

json_t *
wb_model_history (wb_model_t *self)
{
    assert (self);
    return self->history;
}

json_t *
wb_model_metrics (wb_model_t *self)
{
    assert (self);
    return self->metrics;
}

const char *
wb_model_stop (wb_model_t *self)
{
    assert (self);
    return self->stop;
}

int64_t
wb_model_steps (wb_model_t *self)
{
    assert (self);
    return self->steps;
}


//  @selftest
//  A frame from CSV text (asserts it parses)
wb_frame_t *
wb_model__test_frame (const char *text)
{
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (text, strlen (text), "test.csv", &err);
    if (!frame)
        fprintf (stderr, "%s\n", err.text);
    assert (frame);
    return frame;
}

wb_frame_t *
wb_model__test_buf_frame (wb_buf_t **buf_p)
{
    wb_frame_t *frame = wb_model__test_frame (wb_buf_data (*buf_p));
    wb_buf_destroy (buf_p);
    return frame;
}

json_t *
wb_model__test_params (const char *text)
{
    json_t *params = json_loads (text, 0, NULL);
    assert (params);
    return params;
}

//  Train, asserting it works
wb_model_t *
wb_model__test_train (wb_frame_t *train, wb_frame_t *valid, const char *target,
                      const char *kind, const char *params_text)
{
    wb_error_t err;
    json_t *params = wb_model__test_params (params_text);
    wb_model_t *model = wb_model_train (train, valid, target, kind, params, NULL, NULL, &err);
    if (!model)
        fprintf (stderr, "%s\n", err.text);
    assert (model);
    json_decref (params);
    return model;
}

double
wb_model__test_metric (json_t *metrics, const char *name)
{
    json_t *value = json_object_get (metrics, name);
    assert (json_is_number (value));
    return json_number_value (value);
}

//  Predictions of a model on a frame, and the same after a save/load round
//  trip: identical, bit for bit; the reloaded model saves the same bytes
void
wb_model__test_round_trip (wb_model_t *model, wb_frame_t *frame)
{
    wb_error_t err;
    size_t size, size2;
    char *text = wb_model_save (model, &size);
    assert (text && size == strlen (text));
    wb_model_t *loaded = wb_model_load (text, size, &err);
    if (!loaded)
        fprintf (stderr, "%s\n", err.text);
    assert (loaded);
    char *text2 = wb_model_save (loaded, &size2);
    assert (size == size2 && memcmp (text, text2, size) == 0);
    double *values, *proba, *values2, *proba2;
    assert (wb_model_predict (model, frame, &values, &proba, &err) == 0);
    assert (wb_model_predict (loaded, frame, &values2, &proba2, &err) == 0);
    size_t rows = wb_frame_rows (frame);
    assert (memcmp (values, values2, rows * sizeof (double)) == 0);
    assert ((proba == NULL) == (proba2 == NULL));
    if (proba)
        assert (memcmp (proba, proba2, rows * wb_model_classes (model) * sizeof (double)) == 0);
    assert (streq (wb_model_kind (loaded), wb_model_kind (model)));
    assert (streq (wb_model_task (loaded), wb_model_task (model)));
    assert (wb_model_classes (loaded) == wb_model_classes (model));
    free (values);
    free (proba);
    free (values2);
    free (proba2);
    free (text);
    free (text2);
    wb_model_destroy (&loaded);
}

//  Three well-separated blobs of 50 rows each (the rows take them in
//  turn): u, v and a text label kind; several parts' tests use them
wb_frame_t *
wb_model__test_blobs (void)
{
    wb_rng_t rng;
    wb_rng_seed (&rng, 42);
    wb_buf_t *buf = wb_buf_new ();
    wb_buf_puts (buf, "u,v,kind\n");
    const double centres [3][2] = { { 0, 0 }, { 10, 0 }, { 0, 10 } };
    const char *names [3] = { "north", "east", "origin" };
    for (int i = 0; i < 150; i++) {
        int c = i % 3;
        wb_buf_printf (buf, "%.6f,%.6f,%s\n", centres [c][0] + 2 * wb_rng_uniform (&rng) - 1,
                       centres [c][1] + 2 * wb_rng_uniform (&rng) - 1,
                       c == 0? names [2]: c == 1? names [1]: names [0]);
    }
    return wb_model__test_buf_frame (&buf);
}

void
wb_model_test (bool verbose)
{
    wb_model_params_test (verbose);
    wb_model_check_test (verbose);
    wb_model_prep_test (verbose);
    wb_model_linear_test (verbose);
    wb_model_logistic_test (verbose);
    wb_model_kmeans_test (verbose);
    wb_model_mlp_test (verbose);
    wb_model_fit_test (verbose);
    wb_model_file_test (verbose);
    wb_blas_stop_threads ();        //  for leak checkers
}
//  @end
