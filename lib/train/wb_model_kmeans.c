/*  wb_model_kmeans - k-means: k-means++ seeding (greedy, as
    scikit-learn), Lloyd iterations with distances by SGEMM, the best of
    n_init runs (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- k-means: k-means++ seeding, Lloyd iterations ----

//  The rows are float32, as the mlp's: k-means reads them a dozen times
//  (seeding, iterations), each pass bound by memory. Distances are taken
//  in double from a float GEMM, and sums and inertia are double.

#define S_KMEANS_ROWS   1024    //  rows per GEMM of distances
#define S_MAX_TRIALS    16      //  k-means++ candidates per centre, at most (2 + log k)

//  Squared distances from the rows to count centres, by GEMM
//  (|x|^2 - 2 x.c + |c|^2), and what each thread sums from them
typedef struct {
    wb_model__train_t *t;       //  the training: its rows (t->xf)
    const double *norms;        //  |x|^2 of every row
    float *centers;             //  count x inputs, as floats for the GEMM
    size_t count;               //  centres
    double *cnorms;             //  |c|^2 of each
    float *fnorms;              //  the same as floats
    float **dots;               //  per thread: S_KMEANS_ROWS x count scratch
    float **block;              //  per thread: count x inputs sums of a block
    //  seeding: every distance, and potentials against the closest so far
    float *out;                 //  rows x count, or NULL (then Lloyd)
    const double *closest;      //  rows: distance to the nearest centre yet, or NULL
    double **potential;         //  per thread: count sums of min (out, closest)
    //  Lloyd: the nearest centre of each row, per-thread sums
    int32_t *labels;            //  rows
    double *distances;          //  rows: squared distance to it
    double **sums;              //  per thread: count x inputs sums of rows by label
    size_t **counts;            //  per thread: rows by label
    double *inertia;            //  per thread: summed distances
    size_t *changed;            //  per thread: rows whose label changed
} s_dist_t;

static void
s_dist_task (void *arg, size_t index, size_t threads)
{
    s_dist_t *o = arg;
    wb_model__train_t *t = o->t;
    size_t d = t->model->inputs, k = o->count, lo, hi;
    wb_model__share (t->rows, index, threads, &lo, &hi);
    float *dots = o->dots [index];
    //  Accumulators in locals: through the pointers, every add would be a
    //  store the next one waits for
    double potential [S_MAX_TRIALS] = { 0 }, inertia = 0;
    size_t changed = 0;
    if (o->labels) {
        memset (o->sums [index], 0, k * d * sizeof (double));
        memset (o->counts [index], 0, k * sizeof (size_t));
    }
    for (size_t first = lo; first < hi; first += S_KMEANS_ROWS) {
        size_t rows = hi - first < S_KMEANS_ROWS? hi - first: S_KMEANS_ROWS;
        const float *x = t->xf + first * d;
        t->blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, (int) rows,
                        (int) k, (int) d, -2.0f, x, (int) d, o->centers, (int) d, 0.0f,
                        dots, (int) k);
        if (o->out)                 //  seeding: k is a handful of candidates
            for (size_t row = 0; row < rows; row++) {
                const float *dot = dots + row * k;
                double norm = o->norms [first + row];
                float *out = o->out + (first + row) * k;
                double closest = o->closest? o->closest [first + row]: INFINITY;
                for (size_t j = 0; j < k; j++) {
                    double value = (double) dot [j] + norm + o->cnorms [j];
                    out [j] = value > 0? (float) value: 0;     //  as kept
                    potential [j] += out [j] < closest? out [j]: closest;
                }
            }
        else {                      //  Lloyd: the nearest centre, sums by it
            //  the block's sums in floats (a few hundred rows a centre), then
            //  added to the double sums
            float *block = o->block [index];
            memset (block, 0, k * d * sizeof (float));
            for (size_t row = 0; row < rows; row++) {
                const float *dot = dots + row * k;
                float nearest = INFINITY;
                size_t best = 0;
                for (size_t j = 0; j < k; j++) {
                    float value = dot [j] + o->fnorms [j];
                    if (value < nearest) {
                        nearest = value;
                        best = j;
                    }
                }
                double distance = (double) dot [best] + o->cnorms [best] + o->norms [first + row];
                distance = distance > 0? distance: 0;
                changed += o->labels [first + row] != (int32_t) best;
                o->labels [first + row] = (int32_t) best;
                o->distances [first + row] = distance;
                inertia += distance;
                o->counts [index][best]++;
                float *sum = block + best * d;
                const float *v = x + row * d;
                size_t i = 0;
#ifdef WB_MODEL__SSE
                for (; i + 4 <= d; i += 4)
                    _mm_storeu_ps (sum + i, _mm_add_ps (_mm_loadu_ps (sum + i),
                                                        _mm_loadu_ps (v + i)));
#endif
                for (; i < d; i++)
                    sum [i] += v [i];
            }
            double *sums = o->sums [index];
            for (size_t i = 0; i < k * d; i++)
                sums [i] += block [i];
        }
    }
    if (o->out)
        memcpy (o->potential [index], potential, k * sizeof (double));
    else {
        o->inertia [index] = inertia;
        o->changed [index] = changed;
    }
}

//  Distances to centers (count x inputs, double) through the pool, and
//  what o is set to collect
static void
s_dist_run (s_dist_t *o, const double *centers, size_t count)
{
    size_t d = o->t->model->inputs;
    o->count = count;
    for (size_t j = 0; j < count; j++) {
        double norm = 0;
        for (size_t i = 0; i < d; i++) {
            float value = (float) centers [j * d + i];
            o->centers [j * d + i] = value;
            norm += (double) value * value;
        }
        o->cnorms [j] = norm;
        o->fnorms [j] = (float) norm;
    }
    wb_model__pool_run (o->t->pool, s_dist_task, o);
}

//  Row i of the training rows as doubles
static void
s_row_double (wb_model__train_t *t, size_t row, double *out)
{
    size_t d = t->model->inputs;
    for (size_t i = 0; i < d; i++)
        out [i] = t->xf [row * d + i];
}

//  k-means++ (greedy, as scikit-learn: 2 + log k candidates per centre,
//  the one that lowers the potential most) into centers
static void
s_kmeans_seed (wb_model__train_t *t, s_dist_t *o, size_t k, double *centers)
{
    size_t n = t->rows, d = t->model->inputs, threads = t->pool->count;
    size_t trials = 2 + (size_t) log ((double) k);
    assert (trials <= S_MAX_TRIALS);
    double *closest = wb_malloc (n * sizeof (double));
    double *cumulative = wb_malloc (n * sizeof (double));
    double *candidates = wb_malloc (trials * d * sizeof (double));
    o->out = wb_malloc (n * trials * sizeof (float));
    o->closest = NULL;
    o->labels = NULL;
    s_row_double (t, wb_rng_below (&t->rng, n), centers);
    s_dist_run (o, centers, 1);
    for (size_t row = 0; row < n; row++)
        closest [row] = o->out [row];
    for (size_t c = 1; c < k; c++) {
        double sum = 0;
        for (size_t row = 0; row < n; row++)
            cumulative [row] = (sum += closest [row]);
        for (size_t i = 0; i < trials; i++) {
            double target = wb_rng_uniform (&t->rng) * sum;
            size_t low = 0, high = n - 1;
            while (low < high) {            //  the first row past target
                size_t mid = (low + high) / 2;
                if (cumulative [mid] <= target)
                    low = mid + 1;
                else
                    high = mid;
            }
            s_row_double (t, low, candidates + i * d);
        }
        o->closest = closest;
        s_dist_run (o, candidates, trials);
        size_t best = 0;
        double best_potential = INFINITY;
        for (size_t i = 0; i < trials; i++) {
            double potential = 0;
            for (size_t thread = 0; thread < threads; thread++)
                potential += o->potential [thread][i];
            if (potential < best_potential) {
                best_potential = potential;
                best = i;
            }
        }
        for (size_t row = 0; row < n; row++) {
            double distance = o->out [row * trials + best];
            if (distance < closest [row])
                closest [row] = distance;
        }
        memcpy (centers + c * d, candidates + best * d, d * sizeof (double));
    }
    free (o->out);
    o->out = NULL;
    o->closest = NULL;
    free (closest);
    free (cumulative);
    free (candidates);
}

//  One run of Lloyd's algorithm from k-means++ seeds: its centres and the
//  inertia of them. The steps of the first run are reported.
static double
s_kmeans_run (wb_model__train_t *t, s_dist_t *o, double tol_abs, size_t k, double *centers,
              bool report, bool *converged, size_t *sizes)
{
    size_t n = t->rows, d = t->model->inputs, threads = t->pool->count;
    s_kmeans_seed (t, o, k, centers);
    double *sums = wb_malloc (k * d * sizeof (double));
    double *far_row = wb_malloc (d * sizeof (double));
    size_t *counts = wb_malloc (k * sizeof (size_t));
    o->labels = wb_malloc (n * sizeof (int32_t));
    o->distances = wb_malloc (n * sizeof (double));
    bool same = false;
    //  -1: no label yet, so the first pass counts every row as changed
    memset (o->labels, 0xff, n * sizeof (int32_t));
    double inertia = 0;
    *converged = false;
    for (int64_t iteration = 1; iteration <= t->params->max_iter; iteration++) {
        if (!wb_model__go_on (t))
            break;
        s_dist_run (o, centers, k);
        inertia = 0;
        memset (sums, 0, k * d * sizeof (double));
        memset (counts, 0, k * sizeof (size_t));
        for (size_t thread = 0; thread < threads; thread++) {
            inertia += o->inertia [thread];
            for (size_t j = 0; j < k; j++)
                counts [j] += o->counts [thread][j];
            for (size_t i = 0; i < k * d; i++)
                sums [i] += o->sums [thread][i];
        }
        size_t changed = 0;
        for (size_t thread = 0; thread < threads; thread++)
            changed += o->changed [thread];
        same = changed == 0;
        double shift = 0;
        for (size_t j = 0; j < k; j++) {
            double *center = centers + j * d;
            const double *from = sums + j * d;
            double divisor = (double) counts [j];
            if (counts [j] == 0) {
                //  An empty cluster takes the row farthest from its centre
                size_t far = 0;
                for (size_t row = 1; row < n; row++)
                    if (o->distances [row] > o->distances [far])
                        far = row;
                o->distances [far] = 0;
                s_row_double (t, far, far_row);
                from = far_row;
                divisor = 1;
            }
            for (size_t i = 0; i < d; i++) {
                double value = from [i] / divisor;
                shift += (value - center [i]) * (value - center [i]);
                center [i] = value;
            }
        }
        if (report) {
            t->model->steps = iteration - 1;
            wb_model__step_done (t, json_pack ("{s:o, s:o}", "inertia", wb_model__real (inertia),
                                               "shift", wb_model__real (shift)));
        }
        if (same || shift <= tol_abs) {
            *converged = true;
            break;
        }
    }
    //  The inertia of the final centres: the last step's when the labels
    //  did not change (the centres are then the same), else one more pass
    if (!same) {
        s_dist_run (o, centers, k);
        inertia = 0;
        memset (counts, 0, k * sizeof (size_t));
        for (size_t thread = 0; thread < threads; thread++) {
            inertia += o->inertia [thread];
            for (size_t j = 0; j < k; j++)
                counts [j] += o->counts [thread][j];
        }
    }
    memcpy (sizes, counts, k * sizeof (size_t));
    free (o->labels);
    free (o->distances);
    o->labels = NULL;
    o->distances = NULL;
    free (sums);
    free (far_row);
    free (counts);
    return inertia;
}

//  Per thread: |x|^2 of its rows, and sums and squares of each column
typedef struct {
    wb_model__train_t *t;       //  the rows
    double *norms;              //  rows
    double **sums;              //  per thread: inputs
    double **squares;           //  per thread: inputs
} s_row_stats_t;

static void
s_row_stats_task (void *arg, size_t index, size_t count)
{
    s_row_stats_t *o = arg;
    size_t d = o->t->model->inputs, lo, hi;
    wb_model__share (o->t->rows, index, count, &lo, &hi);
    double *sums = o->sums [index], *squares = o->squares [index];
    memset (sums, 0, d * sizeof (double));
    memset (squares, 0, d * sizeof (double));
    for (size_t row = lo; row < hi; row++) {
        const float *v = o->t->xf + row * d;
        double norm = 0;
        for (size_t i = 0; i < d; i++) {
            double value = v [i];
            norm += value * value;
            sums [i] += value;
            squares [i] += value * value;
        }
        o->norms [row] = norm;
    }
}

int
wb_model__train_kmeans (wb_model__train_t *t, wb_error_t *err)
{
    (void) err;
    wb_model_t *self = t->model;
    size_t n = t->rows, d = self->inputs, k = (size_t) t->params->k;
    size_t threads = t->pool->count, slots = k > 64? k: 64;
    s_row_stats_t stats = { t, wb_malloc (n * sizeof (double)),
                            wb_malloc (threads * sizeof (double *)),
                            wb_malloc (threads * sizeof (double *)) };
    for (size_t i = 0; i < threads; i++) {
        stats.sums [i] = wb_malloc (d * sizeof (double));
        stats.squares [i] = wb_malloc (d * sizeof (double));
    }
    wb_model__pool_run (t->pool, s_row_stats_task, &stats);
    //  as scikit-learn: tol relative to the mean variance of the columns
    double variance = 0;
    for (size_t i = 0; i < d; i++) {
        double sum = 0, squares = 0;
        for (size_t thread = 0; thread < threads; thread++) {
            sum += stats.sums [thread][i];
            squares += stats.squares [thread][i];
        }
        double mean = sum / (double) n;
        variance += squares / (double) n - mean * mean;
    }
    for (size_t i = 0; i < threads; i++) {
        free (stats.sums [i]);
        free (stats.squares [i]);
    }
    free (stats.sums);
    free (stats.squares);
    double tol_abs = t->params->tol * (variance > 0? variance: 0) / (double) (d? d: 1);
    s_dist_t o = { 0 };
    o.t = t;
    o.norms = stats.norms;
    o.centers = wb_malloc (slots * d * sizeof (float));
    o.cnorms = wb_malloc (slots * sizeof (double));
    o.fnorms = wb_malloc (slots * sizeof (float));
    o.dots = wb_malloc (threads * sizeof (float *));
    o.block = wb_malloc (threads * sizeof (float *));
    o.potential = wb_malloc (threads * sizeof (double *));
    o.sums = wb_malloc (threads * sizeof (double *));
    o.counts = wb_malloc (threads * sizeof (size_t *));
    o.inertia = wb_malloc (threads * sizeof (double));
    o.changed = wb_malloc (threads * sizeof (size_t));
    for (size_t i = 0; i < threads; i++) {
        o.dots [i] = wb_malloc (S_KMEANS_ROWS * slots * sizeof (float));
        o.block [i] = wb_malloc (k * d * sizeof (float));
        o.potential [i] = wb_malloc (slots * sizeof (double));
        o.sums [i] = wb_malloc (k * d * sizeof (double));
        o.counts [i] = wb_malloc (k * sizeof (size_t));
    }
    double *centers = wb_malloc (k * d * sizeof (double));
    double best_inertia = INFINITY;
    size_t *sizes = wb_malloc (k * sizeof (size_t)), *best_sizes = wb_calloc (k, sizeof (size_t));
    self->k = k;
    self->centers = wb_calloc (k * d, sizeof (double));
    bool converged = false;
    int64_t steps = 0;
    for (int64_t run = 0; run < t->params->n_init && !t->stopped; run++) {
        bool done = false;
        double inertia = s_kmeans_run (t, &o, tol_abs, k, centers, run == 0, &done, sizes);
        if (run == 0) {
            steps = self->steps;
            converged = done;
        }
        if (t->stopped && self->steps == 0)
            break;
        if (inertia < best_inertia) {
            best_inertia = inertia;
            memcpy (best_sizes, sizes, k * sizeof (size_t));
            memcpy (self->centers, centers, k * d * sizeof (double));
        }
    }
    self->steps = steps;
    self->best_step = steps;
    wb_model__set_stop (self, t->stopped? "interrupted": converged? "converged": "max_iter");
    //  The final metrics of the training rows (evaluation replaces them
    //  when there are validation rows)
    json_t *counts = json_array ();
    for (size_t j = 0; j < k; j++)
        json_array_append_new (counts, json_integer ((json_int_t) best_sizes [j]));
    self->metrics = json_pack ("{s:I, s:o, s:o}", "rows", (json_int_t) n,
                               "inertia", wb_model__real (best_inertia), "sizes", counts);
    free (sizes);
    free (best_sizes);
    for (size_t i = 0; i < threads; i++) {
        free (o.dots [i]);
        free (o.block [i]);
        free (o.potential [i]);
        free (o.sums [i]);
        free (o.counts [i]);
    }
    free (o.dots);
    free (o.block);
    free (o.fnorms);
    free (o.potential);
    free (o.sums);
    free (o.counts);
    free (o.inertia);
    free (o.changed);
    free (o.cnorms);
    free (o.centers);
    free (centers);
    free (stats.norms);
    return 0;
}


//  @selftest
void
wb_model_kmeans_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    double *values, *proba;
    json_t *metrics;
    wb_frame_t *blobs = wb_model__test_blobs ();
    wb_model_t *model;

    //  ---- k-means recovers three planted clusters ----
    //  (a target given to kmeans is left out of its features)
    model = wb_model__test_train (blobs, NULL, "kind", "kmeans", "{\"k\": 3, \"threads\": 1}");
    assert (streq (wb_model_task (model), "clustering"));
    assert (wb_model_target (model) == NULL);
    assert (wb_model_inputs (model) == 2);
    assert (wb_model_predict (model, blobs, &values, &proba, &err) == 0);
    assert (proba == NULL);
    int cluster_of [3] = { -1, -1, -1 };
    for (size_t row = 0; row < 150; row++) {
        int planted = (int) (row % 3), found = (int) values [row];
        assert (found >= 0 && found < 3);
        if (cluster_of [planted] < 0)
            cluster_of [planted] = found;
        assert (cluster_of [planted] == found);
    }
    assert (cluster_of [0] != cluster_of [1] && cluster_of [1] != cluster_of [2]
         && cluster_of [0] != cluster_of [2]);
    free (values);
    metrics = wb_model_evaluate (model, blobs, NULL, &err);
    assert (wb_model__test_metric (metrics, "inertia") < 150 * 2.0 / 3 * 1.3); //  E = 2/3 a row
    assert (json_array_size (json_object_get (metrics, "sizes")) == 3);
    json_decref (metrics);
    assert (streq (wb_model_stop (model), "converged"));
    //  the training rows' metrics, as evaluation gives them
    json_t *own = wb_model_metrics (model);
    metrics = wb_model_evaluate (model, blobs, NULL, &err);
    assert (wb_model__test_metric (own, "rows") == 150);
    double inertia = wb_model__test_metric (metrics, "inertia");
    assert (fabs (wb_model__test_metric (own, "inertia") - inertia) < 1e-6 * inertia);
    assert (json_equal (json_object_get (own, "sizes"), json_object_get (metrics, "sizes")));
    json_decref (metrics);
    wb_model__test_round_trip (model, blobs);
    wb_model_destroy (&model);
    wb_frame_destroy (&blobs);
}
//  @end
