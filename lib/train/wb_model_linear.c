/*  wb_model_linear - linear and ridge regression: the normal equations
    summed over the training threads, solved by Cholesky, with the
    minimum-norm SVD solution when they are singular (part of wb_model;
    see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- Linear and ridge regression: normal equations, Cholesky ----

//  Minimum-norm least squares of [X 1] w = y (+ ridge rows) by SVD, when
//  the normal equations are singular. w gets inputs + 1 numbers.
static int
s_linear_svd (wb_model__train_t *t, double *w, wb_error_t *err)
{
    const wb_blas_t *blas = t->blas;
    size_t n = t->rows, p = t->model->inputs;
    bool ridge = t->params->l2 > 0;
    size_t m = n + (ridge? p: 0), cols = p + 1;
    double *a = wb_calloc (m * cols, sizeof (double));     //  column-major
    double *b = wb_calloc (m, sizeof (double));
    for (size_t row = 0; row < n; row++) {
        for (size_t j = 0; j < p; j++)
            a [j * m + row] = t->x [row * p + j];
        a [p * m + row] = 1;
        b [row] = t->y [row];
    }
    if (ridge)
        for (size_t j = 0; j < p; j++)
            a [j * m + n + j] = sqrt (t->params->l2);
    int im = (int) m, in = (int) cols, one = 1, rank = 0, info = 0, lwork = -1, iquery = 0;
    double rcond = 1e-12, query = 0;
    double *s = wb_malloc (cols * sizeof (double));
    blas->dgelsd (&im, &in, &one, a, &im, b, &im, s, &rcond, &rank, &query, &lwork,
                  &iquery, &info);
    lwork = (int) query + 1;
    int liwork = iquery > 1? iquery: 1;
    double *work = wb_malloc ((size_t) lwork * sizeof (double));
    int *iwork = wb_malloc ((size_t) liwork * sizeof (int));
    blas->dgelsd (&im, &in, &one, a, &im, b, &im, s, &rcond, &rank, work, &lwork,
                  iwork, &info);
    memcpy (w, b, cols * sizeof (double));
    free (work);
    free (iwork);
    free (s);
    free (a);
    free (b);
    if (info != 0)
        return wb_error_set (err, "the least squares solver did not converge (LAPACK "
                             "dgelsd info %d): check the data for extreme values", info);
    return 0;
}

//  A thread's part of the normal equations: X^T X (lower triangle,
//  column-major), X^T y, X^T 1, and the sum of y, over its rows
typedef struct {
    wb_model__train_t *t;       //  the training
    const double *ones;         //  rows ones
    double **xx;                //  per thread: inputs x inputs
    double **xy;                //  per thread: inputs
    double **sums;              //  per thread: inputs
    double *ysum;               //  per thread
} s_normal_t;

static void
s_normal_task (void *arg, size_t index, size_t count)
{
    s_normal_t *ne = arg;
    wb_model__train_t *t = ne->t;
    size_t p = t->model->inputs, lo, hi;
    wb_model__share (t->rows, index, count, &lo, &hi);
    size_t rows = hi - lo;
    memset (ne->xx [index], 0, p * p * sizeof (double));
    memset (ne->xy [index], 0, p * sizeof (double));
    memset (ne->sums [index], 0, p * sizeof (double));
    ne->ysum [index] = 0;
    if (!rows)
        return;
    const double *x = t->x + lo * p;
    //  row-major X is column-major X^T (inputs x rows)
    t->blas->dsyrk (WB_BLAS_COL_MAJOR, WB_BLAS_LOWER, WB_BLAS_NO_TRANS, (int) p, (int) rows,
                    1.0, x, (int) p, 0.0, ne->xx [index], (int) p);
    t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) p, 1.0, x, (int) p,
                    t->y + lo, 1, 0.0, ne->xy [index], 1);
    t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) p, 1.0, x, (int) p,
                    ne->ones, 1, 0.0, ne->sums [index], 1);
    double sum = 0;
    for (size_t row = lo; row < hi; row++)
        sum += t->y [row];
    ne->ysum [index] = sum;
}

int
wb_model__train_linear (wb_model__train_t *t, wb_error_t *err)
{
    wb_model_t *self = t->model;
    const wb_blas_t *blas = t->blas;
    size_t n = t->rows, p = self->inputs, q = p + 1, threads = t->pool->count;
    if (!wb_model__go_on (t))
        return 0;
    //  A = [X 1]^T [X 1] + l2 diag (1 .. 1 0), c = [X 1]^T y: q x q,
    //  column-major, lower triangle; partial sums added in thread order
    s_normal_t ne = { t, NULL, wb_malloc (threads * sizeof (double *)),
                      wb_malloc (threads * sizeof (double *)),
                      wb_malloc (threads * sizeof (double *)),
                      wb_malloc (threads * sizeof (double)) };
    double *ones = wb_malloc (n * sizeof (double));
    for (size_t row = 0; row < n; row++)
        ones [row] = 1;
    ne.ones = ones;
    for (size_t i = 0; i < threads; i++) {
        ne.xx [i] = wb_malloc (p * p * sizeof (double));
        ne.xy [i] = wb_malloc (p * sizeof (double));
        ne.sums [i] = wb_malloc (p * sizeof (double));
    }
    wb_model__pool_run (t->pool, s_normal_task, &ne);
    double *a = wb_calloc (q * q, sizeof (double));
    double *c = wb_calloc (q, sizeof (double));
    for (size_t i = 0; i < threads; i++) {
        for (size_t j = 0; j < p; j++) {
            for (size_t k = j; k < p; k++)
                a [j * q + k] += ne.xx [i][j * p + k];
            a [j * q + p] += ne.sums [i][j];        //  last row, lower triangle
            c [j] += ne.xy [i][j];
        }
        c [p] += ne.ysum [i];
        free (ne.xx [i]);
        free (ne.xy [i]);
        free (ne.sums [i]);
    }
    free (ne.xx);
    free (ne.xy);
    free (ne.sums);
    free (ne.ysum);
    free (ones);
    for (size_t j = 0; j < p; j++)
        a [j * q + j] += t->params->l2;
    a [p * q + p] = (double) n;
    //  1-norm of A for the condition estimate (symmetric: from the lower part)
    double anorm = 0;
    for (size_t j = 0; j < q; j++) {
        double sum = 0;
        for (size_t i = 0; i < q; i++)
            sum += fabs (i >= j? a [j * q + i]: a [i * q + j]);
        anorm = sum > anorm? sum: anorm;
    }
    int iq = (int) q, one = 1, info = 0;
    blas->dpotrf ("L", &iq, a, &iq, &info, 1);
    double rcond = 0;
    if (info == 0) {
        double *work = wb_malloc (3 * q * sizeof (double));
        int *iwork = wb_malloc (q * sizeof (int));
        int info2 = 0;
        blas->dpocon ("L", &iq, a, &iq, &anorm, &rcond, work, iwork, &info2, 1);
        free (work);
        free (iwork);
    }
    double *w = wb_calloc (q, sizeof (double));
    int rc = 0;
    if (info == 0 && rcond > 1e-12) {
        memcpy (w, c, q * sizeof (double));
        blas->dpotrs ("L", &iq, &one, a, &iq, w, &iq, &info, 1);
    }
    else
        rc = s_linear_svd (t, w, err);      //  singular: collinear columns
    free (a);
    free (c);
    if (rc == 0) {
        wb_model__layer_t *layer = wb_model__add_layer (self, p, 1, WB_MODEL__IDENTITY);
        memcpy (layer->weights, w, p * sizeof (double));
        layer->bias [0] = w [p];
        wb_model__set_stop (self, "solved");
        //  The step's metrics: training and validation fit
        double *predicted = wb_malloc (n * sizeof (double));
        double *truth = wb_malloc (n * sizeof (double));
        wb_model__predict_encoded (self, t->blas, t->x, n, predicted, NULL);
        for (size_t row = 0; row < n; row++)
            truth [row] = t->y [row] * self->target_std + self->target_mean;
        double rmse, r2;
        wb_model__reg_scores (predicted, truth, n, &rmse, NULL, &r2);
        json_t *metrics = json_pack ("{s:o, s:o}", "rmse", wb_model__real (rmse),
                                     "r2", wb_model__real (r2));
        free (predicted);
        free (truth);
        if (t->vx) {
            predicted = wb_malloc (t->vrows * sizeof (double));
            wb_model__predict_encoded (self, t->blas, t->vx, t->vrows, predicted, NULL);
            wb_model__reg_scores (predicted, t->vy, t->vrows, &rmse, NULL, &r2);
            json_object_set_new (metrics, "val_rmse", wb_model__real (rmse));
            json_object_set_new (metrics, "val_r2", wb_model__real (r2));
            free (predicted);
        }
        wb_model__step_done (t, metrics);
        self->best_step = 1;
    }
    free (w);
    return rc;
}


//  @selftest
void
wb_model_linear_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_rng_t rng;
    wb_rng_seed (&rng, 42);

    //  ---- Exact least squares: y = 2 x1 - 3 x2 + 5 ----
    wb_buf_t *buf = wb_buf_new ();
    wb_buf_puts (buf, "x1,x2,y\n");
    for (int i = 0; i < 20; i++) {
        double x1 = i * 0.5 - 3, x2 = (i * 7 % 11) - 4.5;
        wb_buf_printf (buf, "%.17g,%.17g,%.17g\n", x1, x2, 2 * x1 - 3 * x2 + 5);
    }
    wb_frame_t *line = wb_model__test_buf_frame (&buf);
    wb_frame_t *probe = wb_model__test_frame ("x1,x2\n0,0\n1,0\n0,1\n10,-10\n");
    const double expected [] = { 5, 7, 2, 55 };
    wb_model_t *model = wb_model__test_train (line, NULL, "y", "linear", "{\"threads\": 1}");
    assert (streq (wb_model_kind (model), "linear"));
    assert (streq (wb_model_task (model), "regression"));
    assert (streq (wb_model_stop (model), "solved") && wb_model_steps (model) == 1);
    double *values, *proba;
    assert (wb_model_predict (model, probe, &values, &proba, &err) == 0);
    assert (proba == NULL);
    for (int i = 0; i < 4; i++)
        assert (fabs (values [i] - expected [i]) < 1e-9);
    free (values);
    json_t *metrics = wb_model_evaluate (model, line, NULL, &err);
    assert (wb_model__test_metric (metrics, "rmse") < 1e-9);
    assert (fabs (wb_model__test_metric (metrics, "r2") - 1) < 1e-12);
    assert (wb_model__test_metric (metrics, "rows") == 20);
    json_decref (metrics);
    wb_model__test_round_trip (model, probe);
    wb_model_destroy (&model);

    //  A repeated column makes X^T X singular: the SVD fallback gives the
    //  same fit
    buf = wb_buf_new ();
    wb_buf_puts (buf, "x1,x2,copy,y\n");
    for (int i = 0; i < 20; i++) {
        double x1 = i * 0.5 - 3, x2 = (i * 7 % 11) - 4.5;
        wb_buf_printf (buf, "%.17g,%.17g,%.17g,%.17g\n", x1, x2, x1, 2 * x1 - 3 * x2 + 5);
    }
    wb_frame_t *collinear = wb_model__test_buf_frame (&buf);
    wb_frame_t *probe3 = wb_model__test_frame ("x1,x2,copy\n0,0,0\n1,0,1\n0,1,0\n10,-10,10\n");
    model = wb_model__test_train (collinear, NULL, "y", "linear", "{\"threads\": 1}");
    assert (wb_model_predict (model, probe3, &values, NULL, &err) == 0);
    for (int i = 0; i < 4; i++)
        assert (fabs (values [i] - expected [i]) < 1e-8);
    free (values);
    wb_model_destroy (&model);
    wb_frame_destroy (&collinear);
    wb_frame_destroy (&probe3);

    //  ---- Ridge: a larger l2 shrinks the weights ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "x1,x2,y\n");
    for (int i = 0; i < 50; i++) {
        double x1 = wb_rng_uniform (&rng), x2 = wb_rng_uniform (&rng);
        wb_buf_printf (buf, "%.17g,%.17g,%.17g\n", x1, x2,
                       3 * x1 + x2 + 0.1 * (wb_rng_uniform (&rng) - 0.5));
    }
    wb_frame_t *noisy = wb_model__test_buf_frame (&buf);
    double last_norm = INFINITY;
    const char *ridges [] = { "{\"l2\": 0}", "{\"l2\": 1}", "{\"l2\": 10}", "{\"l2\": 1000}" };
    for (int i = 0; i < 4; i++) {
        model = wb_model__test_train (noisy, NULL, "y", "linear", ridges [i]);
        wb_model__layer_t *layer = &model->layers [0];
        double norm = sqrt (layer->weights [0] * layer->weights [0]
                            + layer->weights [1] * layer->weights [1]);
        assert (norm < last_norm);
        last_norm = norm;
        if (i == 3)
            assert (norm < 0.1);
        wb_model_destroy (&model);
    }
    wb_frame_destroy (&noisy);
    wb_frame_destroy (&line);
    wb_frame_destroy (&probe);
}
//  @end
