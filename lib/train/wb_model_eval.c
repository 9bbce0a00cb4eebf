/*  wb_model_eval - a model's forward pass in double (DGEMM in blocks of
    rows), the nearest k-means centre, prediction, and the metrics of
    evaluation (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- Forward pass in double (prediction, evaluation) ----

//  Number of outputs of the last layer
static size_t
s_outputs (wb_model_t *self)
{
    if (self->kind == WB_MODEL__KMEANS)
        return self->k;
    return self->layers [self->nlayers - 1].out;
}

static void
s_activate (double *z, size_t rows, size_t out, const double *bias, int activation)
{
    for (size_t row = 0; row < rows; row++) {
        double *v = z + row * out;
        for (size_t j = 0; j < out; j++)
            v [j] += bias [j];
        if (activation == WB_MODEL__RELU)
            for (size_t j = 0; j < out; j++)
                v [j] = v [j] > 0? v [j]: 0;
        else
        if (activation == WB_MODEL__SIGMOID)
            for (size_t j = 0; j < out; j++)
                v [j] = 1 / (1 + exp (-v [j]));
        else
        if (activation == WB_MODEL__SOFTMAX) {
            double top = v [0], sum = 0;
            for (size_t j = 1; j < out; j++)
                top = v [j] > top? v [j]: top;
            for (size_t j = 0; j < out; j++)
                sum += (v [j] = exp (v [j] - top));
            for (size_t j = 0; j < out; j++)
                v [j] /= sum;
        }
    }
}

//  The last layer's activations for rows x inputs of X, into out (rows x
//  outputs); blocks of rows through DGEMM
static void
s_forward (wb_model_t *self, const wb_blas_t *blas, const double *x, size_t rows, double *out)
{
    size_t widest = 1;
    for (size_t l = 0; l < self->nlayers; l++)
        widest = self->layers [l].out > widest? self->layers [l].out: widest;
    double *a = wb_malloc (WB_MODEL__BLOCK * widest * sizeof (double));
    double *b = wb_malloc (WB_MODEL__BLOCK * widest * sizeof (double));
    for (size_t first = 0; first < rows; first += WB_MODEL__BLOCK) {
        size_t count = rows - first < WB_MODEL__BLOCK? rows - first: WB_MODEL__BLOCK;
        const double *input = x + first * self->inputs;
        for (size_t l = 0; l < self->nlayers; l++) {
            wb_model__layer_t *layer = &self->layers [l];
            bool last = l + 1 == self->nlayers;
            double *output = last? out + first * layer->out: (l % 2? b: a);
            blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS,
                         (int) count, (int) layer->out, (int) layer->in, 1.0,
                         input, (int) layer->in, layer->weights, (int) layer->out,
                         0.0, output, (int) layer->out);
            s_activate (output, count, layer->out, layer->bias, layer->activation);
            input = output;
        }
    }
    free (a);
    free (b);
}

//  Nearest centre of every row: labels, and squared distances if wanted.
//  Distances by GEMM: |x|^2 - 2 x.c + |c|^2, in blocks of rows.
static void
s_nearest (const wb_blas_t *blas, const double *x, size_t rows, size_t width,
           const double *centers, size_t k, int32_t *labels, double *distances)
{
    double *norms = wb_malloc (k * sizeof (double));
    for (size_t j = 0; j < k; j++) {
        double sum = 0;
        for (size_t i = 0; i < width; i++)
            sum += centers [j * width + i] * centers [j * width + i];
        norms [j] = sum;
    }
    double *dots = wb_malloc (WB_MODEL__BLOCK * k * sizeof (double));
    for (size_t first = 0; first < rows; first += WB_MODEL__BLOCK) {
        size_t count = rows - first < WB_MODEL__BLOCK? rows - first: WB_MODEL__BLOCK;
        const double *block = x + first * width;
        blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, (int) count,
                     (int) k, (int) width, -2.0, block, (int) width, centers, (int) width,
                     0.0, dots, (int) k);
        for (size_t row = 0; row < count; row++) {
            const double *d = dots + row * k;
            size_t best = 0;
            double nearest = d [0] + norms [0];
            for (size_t j = 1; j < k; j++)
                if (d [j] + norms [j] < nearest) {
                    nearest = d [j] + norms [j];
                    best = j;
                }
            labels [first + row] = (int32_t) best;
            if (distances) {
                const double *v = block + row * width;
                double squares = 0;
                for (size_t i = 0; i < width; i++)
                    squares += v [i] * v [i];
                double distance = squares + nearest;
                distances [first + row] = distance > 0? distance: 0;
            }
        }
    }
    free (dots);
    free (norms);
}

//  Predictions for an encoded matrix: values (one a row) and, for
//  classifiers, probabilities (rows x classes) if proba is not NULL
void
wb_model__predict_encoded (wb_model_t *self, const wb_blas_t *blas, const double *x,
                           size_t rows, double *values, double *proba)
{
    if (self->kind == WB_MODEL__KMEANS) {
        int32_t *labels = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        s_nearest (blas, x, rows, self->inputs, self->centers, self->k, labels, NULL);
        for (size_t row = 0; row < rows; row++)
            values [row] = labels [row];
        free (labels);
        return;
    }
    size_t outputs = s_outputs (self);
    double *out = wb_malloc ((rows? rows: 1) * outputs * sizeof (double));
    s_forward (self, blas, x, rows, out);
    if (self->task == WB_MODEL__REGRESSION)
        for (size_t row = 0; row < rows; row++)
            values [row] = out [row] * self->target_std + self->target_mean;
    else {
        size_t classes = self->classes.count;
        bool sigmoid = self->layers [self->nlayers - 1].activation == WB_MODEL__SIGMOID;
        for (size_t row = 0; row < rows; row++) {
            size_t best = 0;
            if (sigmoid) {
                double p = out [row];
                best = p > 0.5? 1: 0;
                if (proba) {
                    proba [row * 2] = 1 - p;
                    proba [row * 2 + 1] = p;
                }
            }
            else {
                const double *p = out + row * classes;
                for (size_t j = 1; j < classes; j++)
                    if (p [j] > p [best])
                        best = j;
                if (proba)
                    memcpy (proba + row * classes, p, classes * sizeof (double));
            }
            values [row] = (double) best;
        }
    }
    free (out);
}

int
wb_model_predict (wb_model_t *self, wb_frame_t *frame, double **values_p, double **proba_p,
                  wb_error_t *err)
{
    assert (self && frame && values_p);
    *values_p = NULL;
    if (proba_p)
        *proba_p = NULL;
    const wb_blas_t *blas = wb_blas (err);
    if (!blas)
        return -1;
    double *x = wb_model__encode (self, frame, false, NULL, "the table", err);
    if (!x)
        return -1;
    size_t rows = wb_frame_rows (frame);
    double *values = wb_malloc ((rows? rows: 1) * sizeof (double));
    double *proba = NULL;
    if (proba_p && self->task == WB_MODEL__CLASSIFICATION)
        proba = wb_malloc ((rows? rows: 1) * self->classes.count * sizeof (double));
    wb_model__predict_encoded (self, blas, x, rows, values, proba);
    free (x);
    *values_p = values;
    if (proba_p)
        *proba_p = proba;
    return 0;
}


//  ---- Metrics ----

//  Area under the ROC curve from scores and 0/1 truth (ties share ranks);
//  NaN when one class is absent
static double
s_roc_auc (const double *scores, const int32_t *truth, size_t rows)
{
    typedef struct { double score; int positive; } s_pair_t;
    s_pair_t *pairs = wb_malloc ((rows? rows: 1) * sizeof (s_pair_t));
    size_t count = 0, positives = 0;
    for (size_t row = 0; row < rows; row++)
        if (truth [row] == 0 || truth [row] == 1) {
            pairs [count].score = scores [row];
            pairs [count].positive = truth [row];
            positives += truth [row] == 1;
            count++;
        }
    size_t negatives = count - positives;
    if (positives == 0 || negatives == 0) {
        free (pairs);
        return NAN;
    }
    qsort (pairs, count, sizeof (s_pair_t), wb_model__double_cmp); //  score is first
    double ranks = 0;
    for (size_t i = 0; i < count;) {
        size_t j = i;
        size_t tied_positives = 0;
        while (j < count && pairs [j].score == pairs [i].score)
            tied_positives += pairs [j++].positive;
        double rank = (double) (i + 1 + j) / 2;     //  average of ranks i+1 .. j
        ranks += rank * (double) tied_positives;
        i = j;
    }
    free (pairs);
    double p = (double) positives, n = (double) negatives;
    return (ranks - p * (p + 1) / 2) / (p * n);
}

//  Classification metrics from probabilities (rows x classes) and truth
//  codes (0 .. labels-1; codes from classes on are unseen labels)
static json_t *
s_class_metrics (const double *proba, const int32_t *truth, size_t rows, size_t classes,
                 char **labels, size_t nlabels)
{
    size_t *matrix = wb_calloc (nlabels * nlabels, sizeof (size_t));
    double log_loss = 0;
    size_t correct = 0;
    for (size_t row = 0; row < rows; row++) {
        const double *p = proba + row * classes;
        size_t best = 0;
        for (size_t j = 1; j < classes; j++)
            if (p [j] > p [best])
                best = j;
        size_t actual = (size_t) truth [row];
        matrix [actual * nlabels + best]++;
        correct += actual == best;
        double q = actual < classes? p [actual]: 0;
        q = q < WB_MODEL__EPS? WB_MODEL__EPS: q > 1 - WB_MODEL__EPS? 1 - WB_MODEL__EPS: q;
        log_loss -= log (q);
    }
    //  Macro averages over the labels that occur (as truth or prediction)
    double precision = 0, recall = 0, f1 = 0;
    size_t occurring = 0;
    for (size_t i = 0; i < nlabels; i++) {
        size_t tp = matrix [i * nlabels + i], predicted = 0, actual = 0;
        for (size_t j = 0; j < nlabels; j++) {
            predicted += matrix [j * nlabels + i];
            actual += matrix [i * nlabels + j];
        }
        if (predicted == 0 && actual == 0)
            continue;
        occurring++;
        double pr = predicted? (double) tp / (double) predicted: 0;
        double re = actual? (double) tp / (double) actual: 0;
        precision += pr;
        recall += re;
        f1 += pr + re > 0? 2 * pr * re / (pr + re): 0;
    }
    double n = rows? (double) rows: 1, m = occurring? (double) occurring: 1;
    json_t *metrics = json_object ();
    json_object_set_new (metrics, "rows", json_integer ((json_int_t) rows));
    json_object_set_new (metrics, "accuracy", wb_model__real ((double) correct / n));
    json_object_set_new (metrics, "precision", wb_model__real (precision / m));
    json_object_set_new (metrics, "recall", wb_model__real (recall / m));
    json_object_set_new (metrics, "f1", wb_model__real (f1 / m));
    json_object_set_new (metrics, "log_loss", wb_model__real (log_loss / n));
    if (classes == 2) {
        double *scores = wb_malloc ((rows? rows: 1) * sizeof (double));
        for (size_t row = 0; row < rows; row++)
            scores [row] = proba [row * 2 + 1];
        json_object_set_new (metrics, "roc_auc", wb_model__real (s_roc_auc (scores, truth, rows)));
        free (scores);
    }
    json_t *names = json_array (), *table = json_array ();
    for (size_t i = 0; i < nlabels; i++) {
        json_array_append_new (names, json_string (labels [i]));
        json_t *line = json_array ();
        for (size_t j = 0; j < nlabels; j++)
            json_array_append_new (line, json_integer ((json_int_t) matrix [i * nlabels + j]));
        json_array_append_new (table, line);
    }
    json_object_set_new (metrics, "confusion_matrix",
                         json_pack ("{s:o, s:o}", "labels", names, "matrix", table));
    free (matrix);
    return metrics;
}

//  RMSE, MAE and R^2 of predictions against truth
void
wb_model__reg_scores (const double *predicted, const double *truth, size_t rows,
                      double *rmse, double *mae, double *r2)
{
    double mean = 0, squares = 0, absolute = 0, total = 0;
    for (size_t row = 0; row < rows; row++)
        mean += truth [row];
    mean /= rows? (double) rows: 1;
    for (size_t row = 0; row < rows; row++) {
        double error = predicted [row] - truth [row];
        squares += error * error;
        absolute += fabs (error);
        total += (truth [row] - mean) * (truth [row] - mean);
    }
    double n = rows? (double) rows: 1;
    *rmse = sqrt (squares / n);
    if (mae)
        *mae = absolute / n;
    //  as scikit-learn: a constant truth scores 1 when matched exactly, else 0
    *r2 = total > 0? 1 - squares / total: squares == 0? 1: 0;
}

static json_t *
s_reg_metrics (const double *predicted, const double *truth, size_t rows)
{
    double rmse, mae, r2;
    wb_model__reg_scores (predicted, truth, rows, &rmse, &mae, &r2);
    json_t *metrics = json_object ();
    json_object_set_new (metrics, "rows", json_integer ((json_int_t) rows));
    json_object_set_new (metrics, "rmse", wb_model__real (rmse));
    json_object_set_new (metrics, "mae", wb_model__real (mae));
    json_object_set_new (metrics, "r2", wb_model__real (r2));
    return metrics;
}

//  The column of the truth in frame for metrics (target NULL: the
//  model's), checked; -1 for clustering, which has none; -2 with err
static int
s_truth_column (wb_model_t *self, wb_frame_t *frame, const char *target, wb_error_t *err)
{
    if (self->task == WB_MODEL__CLUSTERING)
        return -1;
    if (!target)
        target = self->target;
    int col = wb_frame_find (frame, target);
    if (col < 0)
        return wb_model__unknown_column (frame, target, "the table", err), -2;
    if (self->task == WB_MODEL__REGRESSION
    &&  wb_model__check_numeric_target (frame, (size_t) col, self->kind, "the table", err))
        return -2;
    return col;
}

//  Metrics from predictions (values, proba, distances as
//  wb_model_evaluate_scores takes them) against the truth in column col
static json_t *
s_metrics (wb_model_t *self, wb_frame_t *frame, int col, const double *values,
           const double *proba, const double *distances, wb_error_t *err)
{
    size_t rows = wb_frame_rows (frame);
    json_t *metrics = NULL;
    if (self->task == WB_MODEL__CLUSTERING) {
        double inertia = 0;
        json_t *sizes = json_array ();
        size_t *counts = wb_calloc (self->k, sizeof (size_t));
        for (size_t row = 0; row < rows; row++) {
            inertia += distances [row];
            counts [(size_t) values [row]]++;
        }
        for (size_t j = 0; j < self->k; j++)
            json_array_append_new (sizes, json_integer ((json_int_t) counts [j]));
        metrics = json_pack ("{s:I, s:o, s:o}", "rows", (json_int_t) rows,
                             "inertia", wb_model__real (inertia), "sizes", sizes);
        free (counts);
    }
    else
    if (self->task == WB_MODEL__REGRESSION) {
        const double *truth = wb_frame_numbers (frame, (size_t) col);
        for (size_t row = 0; row < rows; row++)
            if (isnan (truth [row])) {
                wb_error_set (err, "target '%s' in the table is missing at row %zu: drop the "
                              "rows without a target first", wb_frame_name (frame, (size_t) col),
                              row + 1);
                return NULL;
            }
        metrics = s_reg_metrics (values, truth, rows);
    }
    else {
        size_t classes = self->classes.count;
        int32_t *truth = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        wb_model__set_t unseen = { 0 };
        if (wb_model__target_codes (self, frame, (size_t) col, truth, &unseen, "the table", err)) {
            free (truth);
            wb_model__set_free (&unseen);
            return NULL;
        }
        size_t nlabels = classes + unseen.count;
        char **labels = wb_malloc (nlabels * sizeof (char *));
        memcpy (labels, self->classes.items, classes * sizeof (char *));
        if (unseen.count)
            memcpy (labels + classes, unseen.items, unseen.count * sizeof (char *));
        metrics = s_class_metrics (proba, truth, rows, classes, labels, nlabels);
        free (labels);
        free (truth);
        wb_model__set_free (&unseen);
    }
    return metrics;
}

json_t *
wb_model_evaluate (wb_model_t *self, wb_frame_t *frame, const char *target, wb_error_t *err)
{
    assert (self && frame);
    const wb_blas_t *blas = wb_blas (err);
    if (!blas)
        return NULL;
    int col = s_truth_column (self, frame, target, err);
    if (col == -2)
        return NULL;
    double *x = wb_model__encode (self, frame, false, NULL, "the table", err);
    if (!x)
        return NULL;
    size_t rows = wb_frame_rows (frame);
    double *values = wb_malloc ((rows? rows: 1) * sizeof (double));
    double *proba = NULL, *distances = NULL;
    if (self->task == WB_MODEL__CLUSTERING) {
        int32_t *labels = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        distances = wb_malloc ((rows? rows: 1) * sizeof (double));
        s_nearest (blas, x, rows, self->inputs, self->centers, self->k, labels, distances);
        for (size_t row = 0; row < rows; row++)
            values [row] = labels [row];
        free (labels);
    }
    else {
        if (self->task == WB_MODEL__CLASSIFICATION)
            proba = wb_malloc ((rows? rows: 1) * self->classes.count * sizeof (double));
        wb_model__predict_encoded (self, blas, x, rows, values, proba);
    }
    free (x);
    json_t *metrics = s_metrics (self, frame, col, values, proba, distances, err);
    free (values);
    free (proba);
    free (distances);
    return metrics;
}

json_t *
wb_model_evaluate_scores (wb_model_t *self, wb_frame_t *frame, const char *target,
                          const double *values, const double *proba, const double *distances,
                          wb_error_t *err)
{
    assert (self && frame && values);
    assert (self->task != WB_MODEL__CLASSIFICATION || proba);
    assert (self->task != WB_MODEL__CLUSTERING || distances);
    int col = s_truth_column (self, frame, target, err);
    return col == -2? NULL: s_metrics (self, frame, col, values, proba, distances, err);
}
