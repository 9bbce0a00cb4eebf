/*  wb_sweep_tpe - the bayesian sampler: a tree-structured Parzen estimator

    Part of wb_sweep (see wb_sweep_int.h). After S_TPE_STARTUP finished
    trials (random draws before), the trials are split into a good and a
    bad group; each parameter gets a Parzen density per group on its
    internal scale (the numeric ones drawn together, multivariate), and
    of the candidates drawn from the good density the one with the best
    ratio of good to bad wins. Running trials count as bad.
*/
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_sweep_int.h"
#include "base/wb_util.h"

#define S_TPE_STARTUP       10      //  finished trials before TPE takes over
#define S_TPE_CANDIDATES    24      //  draws from l(x) per parameter
#define S_TPE_GOOD_MAX      25      //  cap on the good group
#define S_TPE_JOINT_SCALE   0.05    //  joint kernels: Scott's rule times this

//  ---- TPE ----

//  A one-dimensional Parzen density: equal-weight Gaussian kernels
//  truncated to [lo, hi], the last one the prior.
typedef struct {
    size_t n;                   //  kernels, prior included
    double *mu;                 //  kernel centres
    double *sigma;              //  kernel widths
    double *logz;               //  log of each kernel's mass inside [lo, hi]
    double lo, hi;              //  truncation
} s_parzen_t;

int
wb_sweep__double_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

static double
s_phi (double z)
{
    return 0.5 * erfc (-z / M_SQRT2);
}

//  Fit to values v [0..n-1] (sorted here in place)
static void
s_parzen_fit (s_parzen_t *self, const wb_sweep__dim_t *dim, double *v, size_t n)
{
    self->n = n + 1;
    self->mu = malloc (self->n * sizeof (double));
    self->sigma = malloc (self->n * sizeof (double));
    self->logz = malloc (self->n * sizeof (double));
    assert (self->mu && self->sigma && self->logz);
    self->lo = dim->lo;
    self->hi = dim->hi;
    double range = dim->hi - dim->lo;
    qsort (v, n, sizeof (double), wb_sweep__double_cmp);
    double min_sigma = range / (n + 1 < 100? n + 1: 100);
    for (size_t i = 0; i < n; i++) {
        double left = v [i] - (i > 0? v [i - 1]: dim->lo);
        double right = (i + 1 < n? v [i + 1]: dim->hi) - v [i];
        double s = left > right? left: right;
        self->mu [i] = v [i];
        self->sigma [i] = s < min_sigma? min_sigma: s > range? range: s;
    }
    self->mu [n] = dim->dist->normal? dim->a: (dim->lo + dim->hi) / 2;
    self->sigma [n] = dim->dist->normal? dim->b: range;
    for (size_t i = 0; i < self->n; i++) {
        double z = s_phi ((self->hi - self->mu [i]) / self->sigma [i])
                 - s_phi ((self->lo - self->mu [i]) / self->sigma [i]);
        self->logz [i] = log (z > 1e-300? z: 1e-300) + log (self->sigma [i]);
    }
}

static void
s_parzen_free (s_parzen_t *self)
{
    free (self->mu);
    free (self->sigma);
    free (self->logz);
}

static double
s_parzen_sample (s_parzen_t *self, wb_rng_t *rng)
{
    size_t k = (size_t) (wb_rng_unit (rng) * self->n);
    if (k >= self->n)
        k = self->n - 1;
    double t = self->mu [k];
    for (int tries = 0; tries < 100; tries++) {
        t = self->mu [k] + self->sigma [k] * wb_rng_normal (rng);
        if (t >= self->lo && t <= self->hi)
            return t;
    }
    return t < self->lo? self->lo: t > self->hi? self->hi: t;
}

//  Log density at t, up to the constant -log(n) - log(sqrt(2 pi)) that
//  both densities would share only if they had equal n: so included.
static double
s_parzen_logpdf (s_parzen_t *self, double t)
{
    double top = -INFINITY;
    //  log-sum-exp in two passes; terms stay on the stack in chunks
    double terms [256];
    double sum = 0;
    size_t done = 0;
    while (done < self->n) {
        size_t chunk = self->n - done < 256? self->n - done: 256;
        double chunk_top = -INFINITY;
        for (size_t i = 0; i < chunk; i++) {
            double z = (t - self->mu [done + i]) / self->sigma [done + i];
            terms [i] = -0.5 * z * z - self->logz [done + i];
            if (terms [i] > chunk_top)
                chunk_top = terms [i];
        }
        if (chunk_top > top) {
            sum *= exp (top - chunk_top);
            top = chunk_top;
        }
        for (size_t i = 0; i < chunk; i++)
            sum += exp (terms [i] - top);
        done += chunk;
    }
    return top + log (sum) - log ((double) self->n) - 0.5 * log (2 * M_PI);
}

//  One trial of the history as TPE sees it
typedef struct {
    double value;               //  objective, or unused when running
    bool running;               //  pending: counts as the worst
    size_t row;                 //  row in the observation matrix
} s_obs_t;

//  Best first, running trials last; arg points to the bool maximize
static int
s_obs_cmp (const void *a, const void *b, void *arg)
{
    bool maximize = *(bool *) arg;
    const s_obs_t *x = a, *y = b;
    if (x->running != y->running)
        return x->running? 1: -1;
    if (x->running)
        return x->row < y->row? -1: 1;
    if (x->value == y->value)
        return x->row < y->row? -1: 1;
    bool x_better = maximize? x->value > y->value: x->value < y->value;
    return x_better? -1: 1;
}

//  Index of value among the options of a choice, or -1
static int
s_choice_index (const wb_sweep__dim_t *dim, json_t *value)
{
    size_t i;
    json_t *option;
    json_array_foreach (dim->values, i, option) {
        if (json_is_number (option) && json_is_number (value)) {
            if (json_number_value (option) == json_number_value (value))
                return (int) i;
        }
        else
        if (json_equal (option, value))
            return (int) i;
    }
    return -1;
}

//  ---- Multivariate TPE: the numeric parameters drawn together ----

//  A product-kernel Parzen density over m numeric dimensions: one kernel
//  per observation (every dimension centred on that observation's value),
//  plus the prior; bandwidth by Scott's rule per dimension, clipped as in
//  the univariate case.
typedef struct {
    size_t n;                   //  kernels, prior included
    size_t m;                   //  dimensions
    double *mu;                 //  n x m centres
    double *sigma;              //  n x m widths
    double *logz;               //  n x m: log of truncated mass + log sigma
} s_joint_t;

static void
s_joint_fit (s_joint_t *self, wb_sweep__dim_t **dims, size_t m, const double *rows, size_t n)
{
    self->n = n + 1;
    self->m = m;
    self->mu = malloc (self->n * m * sizeof (double));
    self->sigma = malloc (self->n * m * sizeof (double));
    self->logz = malloc (self->n * m * sizeof (double));
    assert (self->mu && self->sigma && self->logz);
    double scale = S_TPE_JOINT_SCALE * pow (n > 0? (double) n: 1.0, -1.0 / (m + 4.0));
    for (size_t d = 0; d < m; d++) {
        const wb_sweep__dim_t *dim = dims [d];
        double range = dim->hi - dim->lo;
        double min_sigma = range / (n + 1 < 100? n + 1: 100);
        double sigma = scale * range;
        sigma = sigma < min_sigma? min_sigma: sigma > range? range: sigma;
        for (size_t k = 0; k <= n; k++) {
            bool prior = k == n;
            double mu = prior? (dim->dist->normal? dim->a: (dim->lo + dim->hi) / 2): rows [k * m + d];
            double s = prior? (dim->dist->normal? dim->b: range): sigma;
            self->mu [k * m + d] = mu;
            self->sigma [k * m + d] = s;
            double z = s_phi ((dim->hi - mu) / s) - s_phi ((dim->lo - mu) / s);
            self->logz [k * m + d] = log (z > 1e-300? z: 1e-300) + log (s);
        }
    }
}

static void
s_joint_free (s_joint_t *self)
{
    free (self->mu);
    free (self->sigma);
    free (self->logz);
}

static void
s_joint_sample (s_joint_t *self, wb_sweep__dim_t **dims, wb_rng_t *rng, double *out)
{
    size_t k = (size_t) (wb_rng_unit (rng) * self->n);
    if (k >= self->n)
        k = self->n - 1;
    for (size_t d = 0; d < self->m; d++) {
        double mu = self->mu [k * self->m + d], sigma = self->sigma [k * self->m + d];
        double t = mu;
        int tries;
        for (tries = 0; tries < 100; tries++) {
            t = mu + sigma * wb_rng_normal (rng);
            if (t >= dims [d]->lo && t <= dims [d]->hi)
                break;
        }
        if (tries == 100)
            t = t < dims [d]->lo? dims [d]->lo: dims [d]->hi;
        out [d] = t;
    }
}

static double
s_joint_logpdf (s_joint_t *self, const double *t)
{
    double top = -INFINITY, sum = 0;
    for (size_t k = 0; k < self->n; k++) {
        double term = 0;
        for (size_t d = 0; d < self->m; d++) {
            double z = (t [d] - self->mu [k * self->m + d]) / self->sigma [k * self->m + d];
            term += -0.5 * z * z - self->logz [k * self->m + d];
        }
        if (term > top) {
            sum = sum * exp (top - term) + 1;
            top = term;
        }
        else
            sum += exp (term - top);
    }
    return top + log (sum) - log ((double) self->n);
}

json_t *
wb_sweep__next_tpe (wb_sampler_t *self, json_t *history, wb_error_t *err)
{
    wb_space_t *space = self->space;
    size_t ntrials = json_array_size (history);
    size_t ndims = space->ndims;
    s_obs_t *obs = calloc (ntrials + 1, sizeof (s_obs_t));
    //  Observation matrix: internal value, or choice index; NaN = missing
    double *x = malloc ((ntrials + 1) * (ndims + 1) * sizeof (double));
    assert (obs && x);
    size_t nobs = 0, ndone = 0;
    for (size_t i = 0; i < ntrials; i++) {
        json_t *trial = json_array_get (history, i);
        json_t *params = json_object_get (trial, "params");
        json_t *value = json_object_get (trial, "value");
        const char *state = json_string_value (json_object_get (trial, "state"));
        if (!json_is_object (trial) || !json_is_object (params)) {
            free (obs);
            free (x);
            wb_error_set (err, "history: trial %zu has no params object; pass "
                          "[{\"params\": {...}, \"value\": v, \"state\": "
                          "\"done\"|\"running\"}]", i);
            return NULL;
        }
        bool running = state && streq (state, "running");
        if (!running && !json_is_number (value))
            continue;           //  failed or unreported: no information
        s_obs_t *o = &obs [nobs];
        o->running = running;
        o->value = running? 0: json_number_value (value);
        o->row = nobs;
        for (size_t d = 0; d < ndims; d++) {
            wb_sweep__dim_t *dim = &space->dims [d];
            json_t *p = json_object_get (params, dim->name);
            double t = NAN;
            if (dim->kind == WB_SWEEP_CHOICE) {
                int k = p? s_choice_index (dim, p): -1;
                if (k >= 0)
                    t = k;
            }
            else
            if (dim->kind != WB_SWEEP_CONST && json_is_number (p))
                t = wb_sweep__to_internal (dim, json_number_value (p));
            x [nobs * ndims + d] = t;
        }
        if (!running)
            ndone++;
        nobs++;
    }
    json_t *params = NULL;
    if (ndone < S_TPE_STARTUP) {
        free (obs);
        free (x);
        return wb_sweep__next_random (self);
    }
    qsort_r (obs, nobs, sizeof (s_obs_t), s_obs_cmp, &self->maximize);
    size_t ngood = (size_t) ceil (0.25 * nobs);
    if (ngood > S_TPE_GOOD_MAX)
        ngood = S_TPE_GOOD_MAX;
    if (ngood > ndone)
        ngood = ndone;
    if (ngood < 1)
        ngood = 1;
    double *good = malloc ((nobs + 1) * sizeof (double));
    double *bad = malloc ((nobs + 1) * sizeof (double));
    assert (good && bad);
    params = json_object ();
    //  The numeric parameters together (their interactions count), the
    //  choices one by one below
    wb_sweep__dim_t **joint_dims = malloc ((ndims + 1) * sizeof (wb_sweep__dim_t *));
    size_t *joint_index = malloc ((ndims + 1) * sizeof (size_t));
    assert (joint_dims && joint_index);
    size_t m = 0;
    for (size_t d = 0; d < ndims; d++)
        if (space->dims [d].kind != WB_SWEEP_CONST && space->dims [d].kind != WB_SWEEP_CHOICE) {
            joint_dims [m] = &space->dims [d];
            joint_index [m++] = d;
        }
    if (m >= 2) {
        double *good_rows = malloc ((nobs + 1) * m * sizeof (double));
        double *bad_rows = malloc ((nobs + 1) * m * sizeof (double));
        double *t = malloc (m * sizeof (double)), *at = malloc (m * sizeof (double));
        double *best_t = malloc (m * sizeof (double));
        assert (good_rows && bad_rows && t && at && best_t);
        size_t ng = 0, nb = 0;
        for (size_t i = 0; i < nobs; i++) {
            bool complete = true;
            for (size_t j = 0; j < m; j++)
                complete = complete && !isnan (x [obs [i].row * ndims + joint_index [j]]);
            if (!complete)
                continue;
            double *into = i < ngood? good_rows + ng++ * m: bad_rows + nb++ * m;
            for (size_t j = 0; j < m; j++)
                into [j] = x [obs [i].row * ndims + joint_index [j]];
        }
        s_joint_t l, g;
        s_joint_fit (&l, joint_dims, m, good_rows, ng);
        s_joint_fit (&g, joint_dims, m, bad_rows, nb);
        double best_score = -INFINITY;
        for (int c = 0; c < S_TPE_CANDIDATES; c++) {
            s_joint_sample (&l, joint_dims, &self->rng, t);
            for (size_t j = 0; j < m; j++)
                at [j] = wb_sweep__to_internal (joint_dims [j],
                             wb_sweep__from_internal (joint_dims [j], t [j]));
            double score = s_joint_logpdf (&l, at) - s_joint_logpdf (&g, at);
            if (c == 0 || score > best_score) {
                best_score = score;
                memcpy (best_t, t, m * sizeof (double));
            }
        }
        for (size_t j = 0; j < m; j++)
            json_object_set_new (params, joint_dims [j]->name,
                wb_sweep__numeric_json (joint_dims [j],
                    wb_sweep__from_internal (joint_dims [j], best_t [j])));
        s_joint_free (&l);
        s_joint_free (&g);
        free (good_rows);
        free (bad_rows);
        free (t);
        free (at);
        free (best_t);
    }
    free (joint_dims);
    free (joint_index);
    for (size_t d = 0; d < ndims; d++) {
        wb_sweep__dim_t *dim = &space->dims [d];
        if (m >= 2 && dim->kind != WB_SWEEP_CONST && dim->kind != WB_SWEEP_CHOICE)
            continue;           //  drawn with the others above
        if (dim->kind == WB_SWEEP_CONST) {
            json_object_set (params, dim->name, json_array_get (dim->values, 0));
            continue;
        }
        size_t ng = 0, nb = 0;
        for (size_t i = 0; i < nobs; i++) {
            double t = x [obs [i].row * ndims + d];
            if (isnan (t))
                continue;
            if (i < ngood)
                good [ng++] = t;
            else
                bad [nb++] = t;
        }
        if (dim->kind == WB_SWEEP_CHOICE) {
            size_t n = json_array_size (dim->values);
            double *lw = calloc (2 * n, sizeof (double));
            assert (lw);
            double *gw = lw + n;
            for (size_t k = 0; k < n; k++)
                lw [k] = gw [k] = 1;        //  prior: one count each
            for (size_t i = 0; i < ng; i++)
                lw [(size_t) good [i]] += 1;
            for (size_t i = 0; i < nb; i++)
                gw [(size_t) bad [i]] += 1;
            double lsum = ng + n, gsum = nb + n;
            size_t best = 0;
            double best_score = -INFINITY;
            for (int c = 0; c < S_TPE_CANDIDATES; c++) {
                double u = wb_rng_unit (&self->rng) * lsum;
                size_t k = 0;
                while (k + 1 < n && u >= lw [k]) {
                    u -= lw [k];
                    k++;
                }
                double score = log (lw [k] / lsum) - log (gw [k] / gsum);
                if (score > best_score) {
                    best_score = score;
                    best = k;
                }
            }
            json_object_set (params, dim->name, json_array_get (dim->values, best));
            free (lw);
            continue;
        }
        s_parzen_t l, g;
        s_parzen_fit (&l, dim, good, ng);
        s_parzen_fit (&g, dim, bad, nb);
        double best = NAN, best_score = -INFINITY;
        for (int c = 0; c < S_TPE_CANDIDATES; c++) {
            double t = s_parzen_sample (&l, &self->rng);
            double value = wb_sweep__from_internal (dim, t);
            double at = wb_sweep__to_internal (dim, value);
            double score = s_parzen_logpdf (&l, at) - s_parzen_logpdf (&g, at);
            if (score > best_score || isnan (best)) {
                best_score = score;
                best = value;
            }
        }
        s_parzen_free (&l);
        s_parzen_free (&g);
        json_object_set_new (params, dim->name, wb_sweep__numeric_json (dim, best));
    }
    free (good);
    free (bad);
    free (obs);
    free (x);
    return params;
}


//  @selftest

//  Best objective over n trials of kind on f(x) = (x - 1.3)^2, minimized;
//  with two dimensions, f(x, y) = (x - 1.3)^2 + (y - x)^2, whose valley
//  runs diagonally (the joint model's case)
static double
s_test_quadratic (const char *kind, uint64_t seed, int n, int dims)
{
    wb_space_t *space = wb_space_parse (dims == 1? "x = uniform(-5, 5)"
                                        : "x = uniform(-5, 5)\ny = uniform(-5, 5)", NULL);
    wb_sampler_t *sampler = wb_sampler_new (&space, kind, seed, false, NULL);
    assert (sampler);
    json_t *history = json_array ();
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        json_t *params = wb_sampler_next (sampler, history, NULL);
        assert (params);
        double x = json_real_value (json_object_get (params, "x"));
        assert (x >= -5 && x <= 5);
        double f = (x - 1.3) * (x - 1.3);
        if (dims == 2) {
            double y = json_real_value (json_object_get (params, "y"));
            assert (y >= -5 && y <= 5);
            f += (y - x) * (y - x);
        }
        if (f < best)
            best = f;
        json_array_append_new (history, json_pack ("{s:o, s:f, s:s}", "params",
                               params, "value", f, "state", "done"));
    }
    json_decref (history);
    wb_sampler_destroy (&sampler);
    return best;
}

static double
s_test_median (double *v, size_t n)
{
    qsort (v, n, sizeof (double), wb_sweep__double_cmp);
    return v [n / 2];
}


void
wb_sweep_tpe_test (bool verbose)
{
    wb_error_t err;
    wb_space_t *space;
    json_t *p, *q;

    //  TPE on a 1-D quadratic: near the optimum in 40 trials, and better
    //  than random's median over the same seeds
    double tpe_best [11], random_best [11];
    for (int s = 0; s < 11; s++) {
        tpe_best [s] = s_test_quadratic ("bayesian", s, 40, 1);
        random_best [s] = s_test_quadratic ("random", s, 40, 1);
    }
    double tpe_median = s_test_median (tpe_best, 11);
    double random_median = s_test_median (random_best, 11);
    if (verbose)
        printf ("\n   quadratic, 40 trials: TPE median best %g, random %g\n",
                tpe_median, random_median);
    assert (tpe_median < 1e-3);
    assert (tpe_median < random_median);
    //  The same in two dimensions, drawn jointly: well below random
    for (int s = 0; s < 11; s++) {
        tpe_best [s] = s_test_quadratic ("bayesian", s, 60, 2);
        random_best [s] = s_test_quadratic ("random", s, 60, 2);
    }
    tpe_median = s_test_median (tpe_best, 11);
    random_median = s_test_median (random_best, 11);
    if (verbose)
        printf ("   diagonal valley, 60 trials: TPE median best %g, random %g\n",
                tpe_median, random_median);
    assert (tpe_median < random_median / 4);

    //  Pending-aware: for each seed, worker A proposes p1, then a second
    //  proposal comes from the same state either blind to p1 or seeing it
    //  as running (worst value, so it joins the bad group). Seeing it must
    //  change some proposals and push them away from p1 on average.
    json_t *history = json_array ();
    for (int i = 0; i < 15; i++) {
        double x = -4.5 + i * 0.6;
        json_array_append_new (history, json_pack ("{s:{s:f,s:s}, s:f}",
            "params", "x", x, "o", i % 2? "a": "b", "value", (x - 1) * (x - 1)));
    }
    json_array_append_new (history, json_pack ("{s:{s:f}, s:n, s:s}", "params",
                           "x", 0.3, "value", "state", "done"));      //  failed
    const char *tpe_space = "x = uniform(-5, 5)\no = choice('a', 'b')";
    int changed = 0;
    double blind_distance = 0, aware_distance = 0;
    for (int s = 0; s < 30; s++) {
        space = wb_space_parse (tpe_space, NULL);
        wb_sampler_t *blind = wb_sampler_new (&space, "bayesian", s, false, NULL);
        space = wb_space_parse (tpe_space, NULL);
        wb_sampler_t *aware = wb_sampler_new (&space, "tpe", s, false, NULL);
        p = wb_sampler_next (blind, history, &err);
        q = wb_sampler_next (aware, history, &err);
        assert (p && q && json_equal (p, q));   //  same seed, same history
        json_decref (q);
        json_t *pending = json_copy (history);
        json_array_append_new (pending, json_pack ("{s:O, s:n, s:s}", "params",
                               p, "value", "state", "running"));
        json_t *second_blind = wb_sampler_next (blind, history, &err);
        q = wb_sampler_next (aware, pending, &err);
        assert (second_blind && q);
        double x1 = json_real_value (json_object_get (p, "x"));
        double xb = json_real_value (json_object_get (second_blind, "x"));
        double xa = json_real_value (json_object_get (q, "x"));
        assert (xa != x1);
        changed += xa != xb;
        blind_distance += fabs (xb - x1);
        aware_distance += fabs (xa - x1);
        json_decref (p);
        json_decref (q);
        json_decref (second_blind);
        json_decref (pending);
        wb_sampler_destroy (&blind);
        wb_sampler_destroy (&aware);
    }
    if (verbose)
        printf ("   pending: %d of 30 proposals changed, mean distance to the "
                "running point %.3f blind, %.3f aware\n", changed,
                blind_distance / 30, aware_distance / 30);
    assert (changed >= 3);
    assert (aware_distance > blind_distance);
    space = wb_space_parse (tpe_space, NULL);
    wb_sampler_t *second = wb_sampler_new (&space, "tpe", 1, false, NULL);
    //  A malformed history is an error
    json_array_append_new (history, json_string ("oops"));
    assert (!wb_sampler_next (second, history, &err));
    assert (strstr (err.text, "trial 16 has no params"));
    json_decref (history);
    history = json_object ();
    assert (!wb_sampler_next (second, history, &err));
    assert (strstr (err.text, "expected a JSON array"));
    json_decref (history);
    wb_sampler_destroy (&second);
}
//  @end
