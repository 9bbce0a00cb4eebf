/*  wb_model_logistic - logistic regression, binary (sigmoid) or
    multinomial (softmax) with an L2 penalty, by full-batch L-BFGS; the
    loss and gradient are summed over the training threads (part of
    wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- Logistic regression: full-batch L-BFGS ----

//  Validation loss and accuracy (classification) of probabilities;
//  unseen classes count as wrong, with the clipped probability
static void
s_val_class (const double *proba, const int32_t *codes, size_t rows, size_t classes,
             double *loss, double *accuracy)
{
    double sum = 0;
    size_t correct = 0;
    for (size_t row = 0; row < rows; row++) {
        const double *p = proba + row * classes;
        size_t best = 0;
        for (size_t j = 1; j < classes; j++)
            if (p [j] > p [best])
                best = j;
        int32_t code = codes [row];
        double q = code >= 0? p [code]: 0;
        q = q < WB_MODEL__EPS? WB_MODEL__EPS: q > 1 - WB_MODEL__EPS? 1 - WB_MODEL__EPS: q;
        sum -= log (q);
        correct += code >= 0 && (size_t) code == best;
    }
    *loss = sum / (double) (rows? rows: 1);
    *accuracy = (double) correct / (double) (rows? rows: 1);
}

#define S_LOGIT_ROWS    512     //  rows per block: read once from memory, used twice

//  The objective, evaluated by the pool over blocks of rows
typedef struct {
    wb_model__train_t *t;       //  the training
    size_t outputs;             //  1 (binary, sigmoid) or classes (softmax)
    const double *w;            //  the point: weights (inputs x outputs) then biases
    double **z;                 //  per thread: a block's logits, then residuals
    double **g;                 //  per thread: the gradient's sum over its rows
    double *loss;               //  per thread: the loss summed over its rows
} s_logit_t;

//  Summed log loss of rows x outputs logits in z against codes; z becomes
//  the residual (probability - truth)
static double
s_logit_loss (double *z, const int32_t *codes, size_t rows, size_t outputs)
{
    double loss = 0;
    if (outputs == 1)
        for (size_t row = 0; row < rows; row++) {
            double v = z [row], y = codes [row] == 1;
            //  log (1 + e^v) - y v and the sigmoid, with one exp
            double e = exp (-fabs (v));
            loss += (v > 0? v: 0) + log1p (e) - y * v;
            z [row] = (v >= 0? 1 / (1 + e): e / (1 + e)) - y;
        }
    else
        for (size_t row = 0; row < rows; row++) {
            double *v = z + row * outputs;
            double top = v [0], sum = 0;
            for (size_t j = 1; j < outputs; j++)
                top = v [j] > top? v [j]: top;
            for (size_t j = 0; j < outputs; j++)
                sum += (v [j] = exp (v [j] - top));
            int32_t code = codes [row];
            loss += log (sum) - log (v [code]);
            for (size_t j = 0; j < outputs; j++)
                v [j] = v [j] / sum - ((int32_t) j == code);
        }
    return loss;
}

static void
s_logit_task (void *arg, size_t index, size_t count)
{
    s_logit_t *o = arg;
    wb_model__train_t *t = o->t;
    size_t p = t->model->inputs, k = o->outputs, lo, hi;
    wb_model__share (t->rows, index, count, &lo, &hi);
    double *z = o->z [index], *g = o->g [index];
    const double *bias = o->w + p * k;
    memset (g, 0, (p * k + k) * sizeof (double));
    double loss = 0;
    for (size_t first = lo; first < hi; first += S_LOGIT_ROWS) {
        size_t rows = hi - first < S_LOGIT_ROWS? hi - first: S_LOGIT_ROWS;
        const double *x = t->x + first * p;
        for (size_t row = 0; row < rows; row++)
            memcpy (z + row * k, bias, k * sizeof (double));
        if (k == 1)
            t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, (int) rows, (int) p, 1.0,
                            x, (int) p, o->w, 1, 1.0, z, 1);
        else
            t->blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS, (int) rows,
                            (int) k, (int) p, 1.0, x, (int) p, o->w, (int) k, 1.0, z, (int) k);
        loss += s_logit_loss (z, t->codes + first, rows, k);
        if (k == 1)
            t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) p, 1.0, x,
                            (int) p, z, 1, 1.0, g, 1);
        else
            t->blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, WB_BLAS_NO_TRANS, (int) p,
                            (int) k, (int) rows, 1.0, x, (int) p, z, (int) k, 1.0, g, (int) k);
        for (size_t row = 0; row < rows; row++)
            for (size_t j = 0; j < k; j++)
                g [p * k + j] += z [row * k + j];
    }
    o->loss [index] = loss;
}

//  f (w) = mean log loss + l2 / (2 n) |W|^2 (the same minimum as
//  scikit-learn's sum of losses + |W|^2 / 2C), and its gradient; the
//  penalty-free mean log loss into *data_loss
static double
s_logit_eval (s_logit_t *o, const double *w, double *g, double *data_loss)
{
    wb_model__train_t *t = o->t;
    size_t n = t->rows, p = t->model->inputs, k = o->outputs, dim = p * k + k;
    o->w = w;
    wb_model__pool_run (t->pool, s_logit_task, o);
    double loss = 0;
    memset (g, 0, dim * sizeof (double));
    for (size_t i = 0; i < t->pool->count; i++) {
        loss += o->loss [i];
        for (size_t j = 0; j < dim; j++)
            g [j] += o->g [i][j];
    }
    double scale = 1 / (double) n, l2 = t->params->l2 / (double) n, penalty = 0;
    for (size_t j = 0; j < dim; j++)
        g [j] *= scale;
    for (size_t j = 0; j < p * k; j++) {
        penalty += w [j] * w [j];
        g [j] += l2 * w [j];
    }
    *data_loss = loss * scale;
    return loss * scale + 0.5 * l2 * penalty;
}

static double
s_dot (const double *a, const double *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += a [i] * b [i];
    return sum;
}

//  Put the weights w into the model's single layer
static void
s_logit_store (wb_model__train_t *t, s_logit_t *o, const double *w)
{
    wb_model_t *self = t->model;
    size_t p = self->inputs, k = o->outputs;
    if (!self->nlayers)
        wb_model__add_layer (self, p, k, k == 1? WB_MODEL__SIGMOID: WB_MODEL__SOFTMAX);
    memcpy (self->layers [0].weights, w, p * k * sizeof (double));
    memcpy (self->layers [0].bias, w + p * k, k * sizeof (double));
}

int
wb_model__train_logistic (wb_model__train_t *t, wb_error_t *err)
{
    (void) err;
    wb_model_t *self = t->model;
    size_t classes = self->classes.count, threads = t->pool->count;
    size_t p = self->inputs, k = classes == 2? 1: classes, dim = p * k + k, memory = 10;
    s_logit_t o = { t, k, NULL, wb_malloc (threads * sizeof (double *)),
                    wb_malloc (threads * sizeof (double *)), wb_malloc (threads * sizeof (double)) };
    for (size_t i = 0; i < threads; i++) {
        o.z [i] = wb_malloc (S_LOGIT_ROWS * k * sizeof (double));
        o.g [i] = wb_malloc (dim * sizeof (double));
    }
    double *w = wb_calloc (dim, sizeof (double)), *g = wb_malloc (dim * sizeof (double));
    double *w_new = wb_malloc (dim * sizeof (double)), *g_new = wb_malloc (dim * sizeof (double));
    double *d = wb_malloc (dim * sizeof (double)), *alpha = wb_malloc (memory * sizeof (double));
    double *s = wb_malloc (memory * dim * sizeof (double)), *y = wb_malloc (memory * dim * sizeof (double));
    double *rho = wb_malloc (memory * sizeof (double));
    double *vvalues = t->vx? wb_malloc (t->vrows * sizeof (double)): NULL;
    double *vproba = t->vx? wb_malloc (t->vrows * classes * sizeof (double)): NULL;
    size_t stored = 0, newest = 0;          //  pairs (s, y) kept, the next slot

    if (wb_model__go_on (t)) {
        double data_loss = 0, data_loss_new = 0;
        double f = s_logit_eval (&o, w, g, &data_loss);
        wb_model__set_stop (self, "max_iter");
        for (int64_t iteration = 1; iteration <= t->params->max_iter; iteration++) {
            //  Direction: the two-loop recursion over the stored pairs
            for (size_t i = 0; i < dim; i++)
                d [i] = -g [i];
            for (size_t m = 0; m < stored; m++) {
                size_t at = (newest + memory - 1 - m) % memory;
                alpha [at] = rho [at] * s_dot (s + at * dim, d, dim);
                for (size_t i = 0; i < dim; i++)
                    d [i] -= alpha [at] * y [at * dim + i];
            }
            if (stored) {
                size_t last = (newest + memory - 1) % memory;
                double gamma = s_dot (s + last * dim, y + last * dim, dim)
                             / s_dot (y + last * dim, y + last * dim, dim);
                for (size_t i = 0; i < dim; i++)
                    d [i] *= gamma;
            }
            for (size_t m = stored; m-- > 0;) {
                size_t at = (newest + memory - 1 - m) % memory;
                double beta = rho [at] * s_dot (y + at * dim, d, dim);
                for (size_t i = 0; i < dim; i++)
                    d [i] += s [at * dim + i] * (alpha [at] - beta);
            }
            double slope = s_dot (g, d, dim);
            if (slope >= 0) {           //  not a descent direction: start over
                stored = 0;
                for (size_t i = 0; i < dim; i++)
                    d [i] = -g [i];
                slope = s_dot (g, d, dim);
            }
            //  Backtracking line search (Armijo); the first step scaled to 1/|g|
            double step = stored? 1: 1 / sqrt (s_dot (g, g, dim));
            double f_new = f;
            bool accepted = false;
            for (int tries = 0; tries < 40 && wb_model__go_on (t); tries++) {
                for (size_t i = 0; i < dim; i++)
                    w_new [i] = w [i] + step * d [i];
                f_new = s_logit_eval (&o, w_new, g_new, &data_loss_new);
                if (f_new <= f + 1e-4 * step * slope) {
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if (t->stopped)
                break;
            if (!accepted) {
                wb_model__set_stop (self, "converged"); //  no further progress possible
                break;
            }
            //  Keep the pair (s, y) when the curvature is positive
            double *s_at = s + newest * dim, *y_at = y + newest * dim;
            for (size_t i = 0; i < dim; i++) {
                s_at [i] = w_new [i] - w [i];
                y_at [i] = g_new [i] - g [i];
            }
            double sy = s_dot (s_at, y_at, dim);
            if (sy > 1e-12) {
                rho [newest] = 1 / sy;
                newest = (newest + 1) % memory;
                stored = stored < memory? stored + 1: memory;
            }
            double f_old = f;
            memcpy (w, w_new, dim * sizeof (double));
            memcpy (g, g_new, dim * sizeof (double));
            f = f_new;
            data_loss = data_loss_new;

            //  The step's metrics
            s_logit_store (t, &o, w);
            json_t *metrics = json_pack ("{s:o}", "loss", wb_model__real (data_loss));
            if (t->vx) {
                wb_model__predict_encoded (self, t->blas, t->vx, t->vrows, vvalues, vproba);
                double loss, accuracy;
                s_val_class (vproba, t->vcodes, t->vrows, classes, &loss, &accuracy);
                json_object_set_new (metrics, "val_loss", wb_model__real (loss));
                json_object_set_new (metrics, "val_accuracy", wb_model__real (accuracy));
            }
            wb_model__step_done (t, metrics);
            self->best_step = self->steps;
            //  Converged: the largest gradient component is small, or the
            //  objective no longer moves (relative to its size)
            double largest = 0;
            for (size_t i = 0; i < dim; i++)
                largest = fabs (g [i]) > largest? fabs (g [i]): largest;
            double scale = fabs (f_old) > fabs (f)? fabs (f_old): fabs (f);
            if (largest <= t->params->tol
            ||  f_old - f <= 2.2e-9 * (scale > 1? scale: 1)) {
                wb_model__set_stop (self, "converged");
                break;
            }
            if (t->stopped)
                break;
        }
    }
    if (t->stopped)
        wb_model__set_stop (self, "interrupted");
    if (self->steps > 0)
        s_logit_store (t, &o, w);
    for (size_t i = 0; i < threads; i++) {
        free (o.z [i]);
        free (o.g [i]);
    }
    free (o.z);
    free (o.g);
    free (o.loss);
    free (vvalues);
    free (vproba);
    free (w);
    free (g);
    free (w_new);
    free (g_new);
    free (d);
    free (alpha);
    free (s);
    free (y);
    free (rho);
    return 0;
}


//  @selftest
void
wb_model_logistic_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_rng_t rng;
    wb_rng_seed (&rng, 42);
    wb_buf_t *buf;
    wb_model_t *model;
    json_t *metrics;

    //  ---- Logistic, separable: every row right; numeric labels ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "a,b,label\n");
    for (int i = 0; i < 200; i++) {
        double x = 4 * wb_rng_uniform (&rng) - 2, y = 4 * wb_rng_uniform (&rng) - 2;
        if (fabs (x + y) < 0.3)
            continue;           //  a margin
        wb_buf_printf (buf, "%.6f,%.6f,%d\n", x, y, x + y > 0);
    }
    wb_frame_t *separable = wb_model__test_buf_frame (&buf);
    wb_frame_t *sep_train, *sep_valid;
    assert (wb_model_split (separable, "label", 0.25, 1, &sep_train, &sep_valid, &err) == 0);
    model = wb_model__test_train (sep_train, sep_valid, "label", "logistic",
                                  "{\"l2\": 0.001, \"threads\": 1}");
    assert (wb_model_classes (model) == 2);
    assert (streq (wb_model_class (model, 0), "0") && streq (wb_model_class (model, 1), "1"));
    metrics = wb_model_evaluate (model, separable, NULL, &err);
    assert (wb_model__test_metric (metrics, "accuracy") == 1);
    assert (wb_model__test_metric (metrics, "roc_auc") == 1);
    assert (wb_model__test_metric (metrics, "f1") == 1);
    json_decref (metrics);
    assert (wb_model__test_metric (wb_model_metrics (model), "accuracy") == 1);
    assert (json_array_size (wb_model_history (model)) == (size_t) wb_model_steps (model));
    assert (json_object_get (json_array_get (wb_model_history (model), 0), "val_accuracy"));
    wb_model__test_round_trip (model, separable);
    wb_model_destroy (&model);

    //  ---- Multinomial: three well-separated blobs, text labels ----
    wb_frame_t *blobs = wb_model__test_blobs ();
    model = wb_model__test_train (blobs, NULL, "kind", "logistic", "{\"threads\": 1}");
    assert (wb_model_classes (model) == 3);
    assert (streq (wb_model_class (model, 0), "east"));     //  sorted
    assert (model->layers [0].activation == WB_MODEL__SOFTMAX);
    metrics = wb_model_evaluate (model, blobs, NULL, &err);
    assert (wb_model__test_metric (metrics, "accuracy") == 1);
    assert (!json_object_get (metrics, "roc_auc"));         //  binary only
    json_t *confusion = json_object_get (metrics, "confusion_matrix");
    assert (json_array_size (json_object_get (confusion, "labels")) == 3);
    json_t *matrix = json_object_get (confusion, "matrix");
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            assert (json_integer_value (json_array_get (json_array_get (matrix, i), j))
                    == (i == j? 50: 0));
    json_decref (metrics);
    //  A class the model never saw is counted, in the matrix and as wrong
    wb_frame_t *surprise = wb_model__test_frame ("u,v,kind\n0,0,origin\n10,0,west\n");
    metrics = wb_model_evaluate (model, surprise, NULL, &err);
    assert (wb_model__test_metric (metrics, "accuracy") == 0.5);
    confusion = json_object_get (metrics, "confusion_matrix");
    assert (json_array_size (json_object_get (confusion, "labels")) == 4);
    assert (streq (json_string_value (json_array_get (json_object_get (confusion, "labels"), 3)),
                   "west"));
    json_decref (metrics);
    wb_frame_destroy (&surprise);
    wb_model__test_round_trip (model, blobs);
    wb_model_destroy (&model);
    wb_frame_destroy (&blobs);
    wb_frame_destroy (&separable);
    wb_frame_destroy (&sep_train);
    wb_frame_destroy (&sep_valid);
}
//  @end
