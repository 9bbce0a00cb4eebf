/*  wb_model_mlp - the multi-layer perceptron: float32 mini-batch GEMM,
    ReLU hidden layers, Adam, early stopping; each batch is shared by the
    training threads (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- Multi-layer perceptron: float32 mini-batch GEMM, Adam ----

//  v = max (v + bias, 0), rows x out
static void
s_bias_relu (float *v, size_t rows, size_t out, const float *bias)
{
    for (size_t row = 0; row < rows; row++, v += out) {
        size_t j = 0;
#ifdef WB_MODEL__SSE
        __m128 zero = _mm_setzero_ps ();
        for (; j + 4 <= out; j += 4)
            _mm_storeu_ps (v + j, _mm_max_ps (_mm_add_ps (_mm_loadu_ps (v + j),
                                                          _mm_loadu_ps (bias + j)), zero));
#endif
        for (; j < out; j++) {
            float value = v [j] + bias [j];
            v [j] = value > 0? value: 0;
        }
    }
}

//  delta = 0 where the unit's output a was not positive
static void
s_relu_mask (float *delta, const float *a, size_t count)
{
    size_t i = 0;
#ifdef WB_MODEL__SSE
    __m128 zero = _mm_setzero_ps ();
    for (; i + 4 <= count; i += 4)
        _mm_storeu_ps (delta + i, _mm_and_ps (_mm_cmpgt_ps (_mm_loadu_ps (a + i), zero),
                                              _mm_loadu_ps (delta + i)));
#endif
    for (; i < count; i++)
        delta [i] = a [i] > 0? delta [i]: 0;
}

//  One Adam step over count parameters, whose gradient is the sum of
//  sources partial gradients (added in order)
static void
s_adam (float *params, const float *const *grads, size_t sources, float *m1, float *m2,
        size_t count, float rate, float beta1, float beta2, float epsilon)
{
    size_t i = 0;
#ifdef WB_MODEL__SSE
    __m128 b1 = _mm_set1_ps (beta1), c1 = _mm_set1_ps (1 - beta1);
    __m128 b2 = _mm_set1_ps (beta2), c2 = _mm_set1_ps (1 - beta2);
    __m128 r = _mm_set1_ps (rate), e = _mm_set1_ps (epsilon);
    for (; i + 4 <= count; i += 4) {
        __m128 g = _mm_loadu_ps (grads [0] + i);
        for (size_t source = 1; source < sources; source++)
            g = _mm_add_ps (g, _mm_loadu_ps (grads [source] + i));
        __m128 m = _mm_add_ps (_mm_mul_ps (b1, _mm_loadu_ps (m1 + i)), _mm_mul_ps (c1, g));
        __m128 v = _mm_add_ps (_mm_mul_ps (b2, _mm_loadu_ps (m2 + i)),
                               _mm_mul_ps (c2, _mm_mul_ps (g, g)));
        _mm_storeu_ps (m1 + i, m);
        _mm_storeu_ps (m2 + i, v);
        __m128 step = _mm_div_ps (_mm_mul_ps (r, m), _mm_add_ps (_mm_sqrt_ps (v), e));
        _mm_storeu_ps (params + i, _mm_sub_ps (_mm_loadu_ps (params + i), step));
    }
#endif
    for (; i < count; i++) {
        float g = grads [0][i];
        for (size_t source = 1; source < sources; source++)
            g += grads [source][i];
        m1 [i] = beta1 * m1 [i] + (1 - beta1) * g;
        m2 [i] = beta2 * m2 [i] + (1 - beta2) * (g * g);
        params [i] -= (rate * m1 [i]) / (sqrtf (m2 [i]) + epsilon);
    }
}

//  The network being trained, in floats
typedef struct {
    size_t layers;              //  dense layers (hidden + output)
    size_t sizes [WB_MODEL__MAX_LAYERS + 2]; //  units: [0] inputs, [layers] outputs
    float *params;              //  every layer's weights (in x out) then bias
    size_t count;               //  numbers in params
    size_t offsets [WB_MODEL__MAX_LAYERS + 1]; //  where each layer starts in params
    bool softmax;               //  classification output (else identity)
} s_net_t;

static float *
s_net_weights (s_net_t *net, float *base, size_t layer)
{
    return base + net->offsets [layer];
}

static float *
s_net_bias (s_net_t *net, float *base, size_t layer)
{
    return base + net->offsets [layer] + net->sizes [layer] * net->sizes [layer + 1];
}

//  Forward pass over rows of x: acts[l] gets layer l's output (acts[0] is
//  x itself); acts[layers] holds probabilities (softmax) or values
static void
s_net_forward (s_net_t *net, const wb_blas_t *blas, const float *x, size_t rows, float **acts)
{
    const float *input = x;
    for (size_t l = 0; l < net->layers; l++) {
        size_t in = net->sizes [l], out = net->sizes [l + 1];
        float *output = acts [l + 1];
        blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS, (int) rows,
                     (int) out, (int) in, 1.0f, input, (int) in,
                     s_net_weights (net, net->params, l), (int) out, 0.0f, output, (int) out);
        const float *bias = s_net_bias (net, net->params, l);
        bool last = l + 1 == net->layers;
        if (!last)
            s_bias_relu (output, rows, out, bias);
        else
        if (net->softmax)
            for (size_t row = 0; row < rows; row++) {
                float *v = output + row * out;
                float top = v [0] + bias [0];
                for (size_t j = 0; j < out; j++) {
                    v [j] += bias [j];
                    top = v [j] > top? v [j]: top;
                }
                float sum = 0;
                for (size_t j = 0; j < out; j++)
                    sum += (v [j] = expf (v [j] - top));
                for (size_t j = 0; j < out; j++)
                    v [j] /= sum;
            }
        else
            for (size_t row = 0; row < rows; row++)
                output [row] += bias [0];
        input = output;
    }
}

//  Validation loss (log loss, or MSE over the target's variance) and
//  accuracy or RMSE / R^2 of the network, in blocks of rows
static json_t *
s_net_validate (wb_model__train_t *t, s_net_t *net, float **acts)
{
    wb_model_t *self = t->model;
    size_t outputs = net->sizes [net->layers];
    double loss = 0, squares = 0, total = 0, mean = 0;
    size_t correct = 0;
    if (!net->softmax) {
        for (size_t row = 0; row < t->vrows; row++)
            mean += t->vy [row];
        mean /= (double) t->vrows;
    }
    for (size_t first = 0; first < t->vrows; first += WB_MODEL__BLOCK) {
        size_t count = t->vrows - first < WB_MODEL__BLOCK? t->vrows - first: WB_MODEL__BLOCK;
        s_net_forward (net, t->blas, t->vxf + first * net->sizes [0], count, acts);
        const float *out = acts [net->layers];
        for (size_t row = 0; row < count; row++) {
            if (net->softmax) {
                const float *p = out + row * outputs;
                size_t best = 0;
                for (size_t j = 1; j < outputs; j++)
                    if (p [j] > p [best])
                        best = j;
                int32_t code = t->vcodes [first + row];
                double q = code >= 0? p [code]: 0;
                q = q < WB_MODEL__EPS? WB_MODEL__EPS: q > 1 - WB_MODEL__EPS? 1 - WB_MODEL__EPS: q;
                loss -= log (q);
                correct += code >= 0 && (size_t) code == best;
            }
            else {
                double truth = t->vy [first + row];
                double value = out [row] * self->target_std + self->target_mean;
                squares += (value - truth) * (value - truth);
                total += (truth - mean) * (truth - mean);
            }
        }
    }
    double n = (double) t->vrows;
    json_t *metrics = json_object ();
    if (net->softmax) {
        json_object_set_new (metrics, "val_loss", wb_model__real (loss / n));
        json_object_set_new (metrics, "val_accuracy", wb_model__real ((double) correct / n));
    }
    else {
        double variance = self->target_std * self->target_std;
        json_object_set_new (metrics, "val_loss", wb_model__real (squares / n / variance));
        json_object_set_new (metrics, "val_rmse", wb_model__real (sqrt (squares / n)));
        json_object_set_new (metrics, "val_r2", wb_model__real (total > 0? 1 - squares / total: 0));
    }
    return metrics;
}

//  ---- Data-parallel mini-batches ----

//  Each batch is shared by the pool's threads: each runs the forward and
//  backward GEMMs for its slice of the rows into its own gradient; then
//  each sums one slice of the parameters' gradients, in thread order, and
//  takes the Adam step there.

typedef struct _s_mlp_t s_mlp_t;

//  One training thread: its share of a batch and its buffers
typedef struct {
    s_mlp_t *mlp;               //  the training it works for
    size_t index;               //  its thread in the pool
    float *acts [WB_MODEL__MAX_LAYERS + 2]; //  each layer's output for its rows
    float *delta;               //  error at a layer's output, rows x widest
    float *delta_in;            //  the same one layer down
    float *grads;               //  its gradient, laid out as the parameters
    float *targets;             //  regression: its rows' targets
    int32_t *labels;            //  classification: its rows' classes
    double loss;                //  summed loss of its rows in this batch
} s_worker_t;

struct _s_mlp_t {
    wb_model__train_t *t;       //  the training
    s_net_t net;                //  the network
    size_t workers;             //  threads sharing each batch (the pool's)
    s_worker_t *worker;         //  their state
    const size_t *order;        //  this epoch's row order
    size_t batch;               //  rows per batch
    int64_t steps;              //  Adam steps taken before this epoch
    int64_t batches;            //  batches run in this epoch
    double loss;                //  summed loss of this epoch's rows
    bool go;                    //  thread 0's answer: run the next batch
    float *m1;                  //  Adam first moments
    float *m2;                  //  Adam second moments
    float *ones;                //  ones, for bias gradients by GEMV
};

#define S_BETA1     0.9f        //  Adam, as scikit-learn
#define S_BETA2     0.999f
#define S_EPSILON   1e-8f

//  A worker's share of the batch order [first .. first + count): forward,
//  loss, backward into its grads
static void
s_mlp_share (s_worker_t *w, size_t first, size_t count)
{
    s_mlp_t *mlp = w->mlp;
    s_net_t *net = &mlp->net;
    wb_model__train_t *t = mlp->t;
    const wb_blas_t *blas = t->blas;
    size_t lo = count * w->index / mlp->workers;
    size_t rows = count * (w->index + 1) / mlp->workers - lo;
    size_t inputs = net->sizes [0], outputs = net->sizes [net->layers];
    float scale = 1.0f / (float) count, decay = (float) t->params->l2 * scale;
    w->loss = 0;
    if (rows) {
        for (size_t i = 0; i < rows; i++) {
            size_t row = mlp->order [first + lo + i];
            memcpy (w->acts [0] + i * inputs, t->xf + row * inputs, inputs * sizeof (float));
            if (net->softmax)
                w->labels [i] = t->codes [row];
            else
                w->targets [i] = (float) t->y [row];
        }
        s_net_forward (net, blas, w->acts [0], rows, w->acts);
        //  Output error (probability - truth, or value - truth) and loss
        const float *out = w->acts [net->layers];
        for (size_t i = 0; i < rows; i++)
            if (net->softmax) {
                float *d = w->delta + i * outputs;
                memcpy (d, out + i * outputs, outputs * sizeof (float));
                float q = d [w->labels [i]];
                w->loss -= log (q > 1e-7f? q: 1e-7f);
                d [w->labels [i]] -= 1;
            }
            else {
                float error = out [i] - w->targets [i];
                w->delta [i] = error;
                w->loss += (double) error * error;
            }
    }
    //  Back-propagate: gW = A^T delta / rows (+ l2 W / rows, once, by
    //  worker 0), gb = delta^T 1 / rows, delta_in = delta W^T * relu'
    for (size_t l = net->layers; l-- > 0;) {
        size_t in = net->sizes [l], out = net->sizes [l + 1];
        float *gw = s_net_weights (net, w->grads, l), *gb = s_net_bias (net, w->grads, l);
        const float *weights = s_net_weights (net, net->params, l);
        if (w->index == 0)
            memcpy (gw, weights, in * out * sizeof (float));
        if (rows) {
            blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, WB_BLAS_NO_TRANS, (int) in,
                         (int) out, (int) rows, scale, w->acts [l], (int) in, w->delta,
                         (int) out, w->index == 0? decay: 0.0f, gw, (int) out);
            blas->sgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) out, scale,
                         w->delta, (int) out, mlp->ones, 1, 0.0f, gb, 1);
        }
        else {
            for (size_t i = 0; i < in * out; i++)
                gw [i] = w->index == 0? gw [i] * decay: 0;
            memset (gb, 0, out * sizeof (float));
        }
        if (l == 0 || !rows)
            continue;
        blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, (int) rows,
                     (int) in, (int) out, 1.0f, w->delta, (int) out, weights, (int) out,
                     0.0f, w->delta_in, (int) in);
        s_relu_mask (w->delta_in, w->acts [l], rows * in);
        float *swap = w->delta;
        w->delta = w->delta_in;
        w->delta_in = swap;
    }
}

//  A worker's slice of the parameters: Adam step number step with the
//  sum of the workers' gradients (in worker order)
static void
s_mlp_update (s_worker_t *w, int64_t step)
{
    s_mlp_t *mlp = w->mlp;
    size_t count = mlp->net.count;
    size_t lo = count * w->index / mlp->workers, hi = count * (w->index + 1) / mlp->workers;
    const float *grads [WB_MODEL__MAX_THREADS];
    for (size_t v = 0; v < mlp->workers; v++)
        grads [v] = mlp->worker [v].grads + lo;
    double rate = mlp->t->params->learning_rate * sqrt (1 - pow (S_BETA2, (double) step))
                / (1 - pow (S_BETA1, (double) step));
    s_adam (mlp->net.params + lo, grads, mlp->workers, mlp->m1 + lo, mlp->m2 + lo, hi - lo,
            (float) rate, S_BETA1, S_BETA2, S_EPSILON);
}

//  One epoch, on every thread: two meetings a batch (gradients done,
//  updates done). Thread 0, the caller's, asks the progress callback
//  before each batch, and the others follow its answer.
static void
s_mlp_epoch_task (void *arg, size_t index, size_t count)
{
    (void) count;
    s_mlp_t *mlp = arg;
    wb_model__train_t *t = mlp->t;
    s_worker_t *w = &mlp->worker [index];
    int64_t batches = 0;
    for (size_t first = 0; first < t->rows; first += mlp->batch) {
        if (index == 0)
            mlp->go = wb_model__go_on (t);
        wb_model__barrier_wait (&t->pool->barrier);
        if (!mlp->go)
            break;
        size_t rows = t->rows - first < mlp->batch? t->rows - first: mlp->batch;
        s_mlp_share (w, first, rows);
        wb_model__barrier_wait (&t->pool->barrier);
        if (index == 0)         //  the others write theirs after the next meeting
            for (size_t v = 0; v < mlp->workers; v++)
                mlp->loss += mlp->worker [v].loss;
        s_mlp_update (w, mlp->steps + ++batches);
    }
    if (index == 0)
        mlp->batches = batches;
}

int
wb_model__train_mlp (wb_model__train_t *t, wb_error_t *err)
{
    (void) err;
    wb_model_t *self = t->model;
    wb_model__params_t *p = t->params;
    s_mlp_t mlp = { 0 };
    mlp.t = t;
    s_net_t *net = &mlp.net;
    net->softmax = self->task == WB_MODEL__CLASSIFICATION;
    net->layers = p->layers + 1;
    net->sizes [0] = self->inputs;
    for (size_t l = 0; l < p->layers; l++)
        net->sizes [l + 1] = p->hidden [l];
    net->sizes [net->layers] = net->softmax? self->classes.count: 1;
    size_t widest = net->sizes [0];
    for (size_t l = 0; l < net->layers; l++) {
        net->offsets [l] = net->count;
        net->count += net->sizes [l] * net->sizes [l + 1] + net->sizes [l + 1];
        widest = net->sizes [l + 1] > widest? net->sizes [l + 1]: widest;
    }
    //  Glorot uniform initialisation, as scikit-learn: weights and biases
    //  from +-sqrt (6 / (in + out))
    net->params = wb_malloc (net->count * sizeof (float));
    for (size_t l = 0; l < net->layers; l++) {
        size_t in = net->sizes [l], out = net->sizes [l + 1];
        double bound = sqrt (6.0 / (double) (in + out));
        float *w = s_net_weights (net, net->params, l);
        for (size_t i = 0; i < in * out + out; i++)
            w [i] = (float) ((2 * wb_rng_uniform (&t->rng) - 1) * bound);
    }
    size_t batch = (size_t) p->batch_size < t->rows? (size_t) p->batch_size: t->rows;
    mlp.workers = t->pool->count;
    size_t share = (batch + mlp.workers - 1) / mlp.workers;
    mlp.worker = wb_calloc (mlp.workers, sizeof (s_worker_t));
    for (size_t v = 0; v < mlp.workers; v++) {
        s_worker_t *w = &mlp.worker [v];
        w->mlp = &mlp;
        w->index = v;
        //  worker 0 also runs validation, WB_MODEL__BLOCK rows at a time
        size_t rows = v == 0 && share < WB_MODEL__BLOCK? WB_MODEL__BLOCK: share;
        w->acts [0] = wb_malloc (share * net->sizes [0] * sizeof (float));
        for (size_t l = 1; l <= net->layers; l++)
            w->acts [l] = wb_malloc (rows * net->sizes [l] * sizeof (float));
        w->delta = wb_malloc (share * widest * sizeof (float));
        w->delta_in = wb_malloc (share * widest * sizeof (float));
        w->grads = wb_calloc (net->count, sizeof (float));
        w->targets = wb_malloc (share * sizeof (float));
        w->labels = wb_malloc (share * sizeof (int32_t));
    }
    mlp.m1 = wb_calloc (net->count, sizeof (float));
    mlp.m2 = wb_calloc (net->count, sizeof (float));
    mlp.ones = wb_malloc (share * sizeof (float));
    for (size_t i = 0; i < share; i++)
        mlp.ones [i] = 1;

    float *best = wb_malloc (net->count * sizeof (float));
    bool have_best = false;
    size_t *order = wb_malloc (t->rows * sizeof (size_t));
    for (size_t row = 0; row < t->rows; row++)
        order [row] = row;
    mlp.order = order;
    double best_score = INFINITY;
    int64_t since_best = 0;
    mlp.batch = batch;
    wb_model__set_stop (self, "epochs");

    for (int64_t epoch = 1; epoch <= p->epochs && !t->stopped; epoch++) {
        wb_rng_shuffle (&t->rng, order, t->rows);
        mlp.loss = 0;
        wb_model__pool_run (t->pool, s_mlp_epoch_task, &mlp);
        mlp.steps += mlp.batches;
        double epoch_loss = mlp.loss;
        if (t->stopped)
            break;
        //  The epoch's metrics
        json_t *metrics = t->vxf? s_net_validate (t, net, mlp.worker [0].acts): json_object ();
        double train_loss = epoch_loss / (double) t->rows;
        json_t *entry = json_pack ("{s:o}", "loss", wb_model__real (train_loss));
        json_object_update (entry, metrics);
        double score = t->vxf? json_real_value (json_object_get (metrics, "val_loss")): train_loss;
        json_decref (metrics);
        wb_model__step_done (t, entry);
        if (score < best_score - p->tol || !isfinite (best_score))
            since_best = 0;
        else
            since_best++;
        if (score < best_score) {
            best_score = score;
            self->best_step = self->steps;
            if (t->vxf) {
                memcpy (best, net->params, net->count * sizeof (float));
                have_best = true;
            }
        }
        if (p->patience > 0 && since_best >= p->patience) {
            wb_model__set_stop (self, "early_stopping");
            break;
        }
    }
    if (t->stopped)
        wb_model__set_stop (self, "interrupted");
    if (have_best)
        memcpy (net->params, best, net->count * sizeof (float));
    else
        self->best_step = self->steps;
    //  The weights, in double, into the model's layers
    if (self->steps > 0)
        for (size_t l = 0; l < net->layers; l++) {
            bool last = l + 1 == net->layers;
            int activation = !last? WB_MODEL__RELU
                           : net->softmax? WB_MODEL__SOFTMAX: WB_MODEL__IDENTITY;
            wb_model__layer_t *layer = wb_model__add_layer (self, net->sizes [l],
                                                            net->sizes [l + 1], activation);
            const float *w = s_net_weights (net, net->params, l);
            const float *b = s_net_bias (net, net->params, l);
            for (size_t i = 0; i < layer->in * layer->out; i++)
                layer->weights [i] = w [i];
            for (size_t j = 0; j < layer->out; j++)
                layer->bias [j] = b [j];
        }
    for (size_t v = 0; v < mlp.workers; v++) {
        s_worker_t *w = &mlp.worker [v];
        for (size_t l = 0; l <= net->layers; l++)
            free (w->acts [l]);
        free (w->delta);
        free (w->delta_in);
        free (w->grads);
        free (w->targets);
        free (w->labels);
    }
    free (mlp.worker);
    free (mlp.m1);
    free (mlp.m2);
    free (mlp.ones);
    free (best);
    free (order);
    free (net->params);
    return 0;
}


//  @selftest
void
wb_model_mlp_test (bool verbose)
{
    wb_error_t err;
    wb_rng_t rng;
    wb_rng_seed (&rng, 42);
    wb_buf_t *buf;
    wb_model_t *model;
    json_t *metrics;

    //  ---- MLP: XOR (not linearly separable) ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "p,q,xor\n");
    for (int i = 0; i < 200; i++) {
        int p = i % 2, q = (i / 2) % 2;
        wb_buf_printf (buf, "%.4f,%.4f,%s\n", p + 0.1 * wb_rng_uniform (&rng),
                       q + 0.1 * wb_rng_uniform (&rng), p != q? "yes": "no");
    }
    wb_frame_t *xor = wb_model__test_buf_frame (&buf);
    model = wb_model__test_train (xor, NULL, "xor", "mlp", "{\"hidden\": \"16\", \"epochs\": 150, "
                                  "\"learning_rate\": 0.02, \"batch_size\": 20, \"validation\": 0, "
                                  "\"threads\": 1}");
    assert (streq (wb_model_task (model), "classification"));
    metrics = wb_model_evaluate (model, xor, NULL, &err);
    if (verbose)
        printf ("  xor: accuracy %g after %lld epochs\n",
                wb_model__test_metric (metrics, "accuracy"), (long long) wb_model_steps (model));
    assert (wb_model__test_metric (metrics, "accuracy") == 1);
    json_decref (metrics);
    //  A logistic regression cannot: XOR is not linearly separable
    wb_model_t *linear = wb_model__test_train (xor, NULL, "xor", "logistic", "{\"threads\": 1}");
    metrics = wb_model_evaluate (linear, xor, NULL, &err);
    assert (wb_model__test_metric (metrics, "accuracy") < 0.8);
    json_decref (metrics);
    wb_model_destroy (&linear);
    wb_model__test_round_trip (model, xor);
    wb_model_destroy (&model);

    //  ---- MLP regression of a smooth curve, early stopping on validation ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "t,wave\n");
    for (int i = 0; i < 300; i++) {
        double t = 6 * wb_rng_uniform (&rng) - 3;
        wb_buf_printf (buf, "%.17g,%.17g\n", t, sin (t) + 0.5 * t);
    }
    wb_frame_t *wave = wb_model__test_buf_frame (&buf);
    wb_frame_t *wave_train, *wave_valid;
    assert (wb_model_split (wave, "wave", 0.2, 3, &wave_train, &wave_valid, &err) == 0);
    assert (wb_frame_rows (wave_valid) == 60);
    model = wb_model__test_train (wave_train, wave_valid, "wave", "mlp",
                                  "{\"hidden\": [32, 32], \"epochs\": 300, \"learning_rate\": 0.01, "
                                  "\"batch_size\": 16, \"patience\": 20, \"threads\": 1}");
    assert (streq (wb_model_task (model), "regression"));
    double r2 = wb_model__test_metric (wb_model_metrics (model), "r2");
    if (verbose)
        printf ("  wave: R^2 %.4f, %lld epochs, stop %s, best %lld\n", r2,
                (long long) wb_model_steps (model), wb_model_stop (model),
                (long long) model->best_step);
    assert (r2 > 0.98);
    json_t *first = json_array_get (wb_model_history (model), 0);
    assert (json_object_get (first, "loss") && json_object_get (first, "val_r2"));
    wb_model__test_round_trip (model, wave_valid);
    wb_model_destroy (&model);
    wb_frame_destroy (&xor);
    wb_frame_destroy (&wave);
    wb_frame_destroy (&wave_train);
    wb_frame_destroy (&wave_valid);
}
//  @end
