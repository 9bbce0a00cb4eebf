/*  wb_sweep - hyperparameter sweeps: a search space, samplers that propose
    trials (grid, random, sobol, bayesian/TPE) and early-termination
    policies on learning curves. Library only: no magic, no jobs.

    Search space, one parameter per line, `name = expression`; blank lines
    and `# comments` are ignored. Names are letters, digits, _ . -:

      choice(a, b, ...)          one of the values: numbers or quoted text
      randint(upper)             an integer 0 .. upper-1
      uniform(lo, hi)            a real in [lo, hi]
      quniform(lo, hi, q)        round(uniform(lo, hi) / q) * q
      loguniform(lo, hi)         exp(uniform(log lo, log hi)): lo and hi are
                                 the BOUNDS themselves (0 < lo < hi), as in
                                 Optuna and Hyperopt's hp.loguniform users
                                 expect - NOT the exponents of Azure ML
                                 (Azure's loguniform(-4, -1) is our
                                 loguniform(1.8e-2, 3.7e-1), i.e. e^-4..e^-1)
      qloguniform(lo, hi, q)     round(loguniform(lo, hi) / q) * q
      normal(mu, sigma)          a real drawn from N(mu, sigma^2)
      qnormal(mu, sigma, q)      round(normal(mu, sigma) / q) * q
      lognormal(mu, sigma)       exp(normal(mu, sigma))
      qlognormal(mu, sigma, q)   round(lognormal(mu, sigma) / q) * q
      42, 0.5, 'adam'            a constant

    Rounding is to the nearest multiple, halves away from zero, so a
    q-value may lie up to q/2 outside [lo, hi] when the bounds are not
    multiples of q. Parameters come out as JSON: choice and constant values
    as written (1 stays an integer, 1.0 a real), randint as integers, the
    rest as reals.

    Samplers
      grid       only choice() and constants (anything else is an error);
                 enumerates the full product, the last parameter varying
                 fastest, values in the order written; then NULL.
      random     independent draws from each distribution; xoshiro256**
                 seeded by splitmix64(seed): the same seed and the same
                 sequence of calls give the same points.
      sobol      like random, but every parameter other than a constant
                 takes its coordinate from a Sobol sequence (Joe & Kuo
                 direction numbers, up to 21 dimensions; further parameters
                 fall back to random), digitally shifted by a random 32-bit
                 mask per dimension drawn from the seed, and mapped through
                 the inverse CDF of the distribution (choice: equal slices).
      bayesian   tree-structured Parzen estimator (TPE). The first 10
                 finished trials are random. Then trials are split into
                 good (the best min(ceil(0.25 n), 25), as Hyperopt) and
                 bad, and a density is fitted to each group: l(x) to the
                 good, g(x) to the bad; 24 candidates are drawn from l(x)
                 and the one with the largest l(x)/g(x) is proposed.
                 Numeric parameters (when there are two or more) are
                 modelled together, so that their interactions count: one
                 product of Gaussian kernels per trial (on the log scale
                 for log parameters, truncated to the range; width per
                 dimension 0.05 n^(-1/(d+4)) of the range by Scott's rule,
                 no narrower than range/min(n+1, 100)), plus one prior
                 kernel. A lone numeric parameter gets a one-dimensional
                 Parzen density with widths from its neighbours; choice()
                 parameters get category counts plus one, independently.
                 Running trials count as observed with the worst possible
                 value ("constant liar"), so they join the bad group and
                 parallel workers are pushed apart. Finished trials
                 without a value are ignored.

    History, as passed to wb_sampler_next: a JSON array of trials
        [{"params": {...}, "value": 0.93 | null, "state": "done"|"running"}]
    (state defaults to "done"; grid, random and sobol ignore it).

    Early-termination policies, `kind(key=value, ...)`:
      bandit(slack_factor=F | slack_amount=A, evaluation_interval=1,
             delay_evaluation=0)
      median(evaluation_interval=1, delay_evaluation=0)
      truncation(truncation_percentage=P, evaluation_interval=1,
                 delay_evaluation=0)          (percentage= also accepted)
      none                                    never stops a trial

    Learning curves: {"trial": [[step, value], ...], ...}. For a trial at
    step s, only values with step <= s count. "Best so far" is the
    largest (goal max) or smallest (goal min) of them.

    Decision for trial T at step s (wb_policy_stop):
      - s is an evaluation step when s >= delay_evaluation and
        s % evaluation_interval == 0; at other steps, or when T has no
        value at a step <= s, T continues.
      - the field: every trial with a value at a step <= s (T included).
      bandit: B = the best of the field's best-so-far values. Goal max:
        stop T when best(T) < B / (1 + slack_factor), or with slack_amount
        when best(T) < B - slack_amount. Goal min: stop when
        best(T) > B * (1 + slack_factor) or best(T) > B + slack_amount.
        (The factor form assumes metrics of one sign, as in Azure ML.)
      median: M = the median of the running averages (mean of values at
        steps <= s) of the field other than T; stop T when best(T) is worse
        than M (strictly). Continue when T is alone.
      truncation: rank the field by best-so-far, worst first, ties broken
        by trial name; cut = floor(field size * P / 100); stop T when it is
        among the first cut.
*/
#ifndef WB_SWEEP_H
#define WB_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "base/wb_error.h"

typedef struct _wb_space_t wb_space_t;
typedef struct _wb_sampler_t wb_sampler_t;
typedef struct _wb_policy_t wb_policy_t;

//  Parse a search space. NULL with err filled on a mistake, naming the
//  line: "space line 2: uniform(lo, hi) needs lo < hi".
wb_space_t *
    wb_space_parse (const char *text, wb_error_t *err);
void
    wb_space_destroy (wb_space_t **self_p);
//  Number of parameters, constants included.
size_t
    wb_space_size (wb_space_t *self);
//  Name of parameter index (0-based), lent.
const char *
    wb_space_name (wb_space_t *self, size_t index);

//  Whether parameter index is drawn on a log scale (loguniform, lognormal
//  and their q- forms), and whether it is a constant.
bool
    wb_space_log (wb_space_t *self, size_t index);
bool
    wb_space_constant (wb_space_t *self, size_t index);

//  Create a sampler over space (which it takes: *space_p is nulled, on
//  failure too). kind: "grid", "random", "sobol" or "bayesian" ("tpe").
wb_sampler_t *
    wb_sampler_new (wb_space_t **space_p, const char *kind, uint64_t seed,
                    bool maximize, wb_error_t *err);
void
    wb_sampler_destroy (wb_sampler_t **self_p);

//  Propose the next trial's params (caller owns the object). history may
//  be NULL. Returns NULL with err empty when a grid is exhausted, NULL with
//  err filled when the history is malformed.
json_t *
    wb_sampler_next (wb_sampler_t *self, json_t *history, wb_error_t *err);

//  Number of points of a grid; 0 for the unbounded samplers.
size_t
    wb_sampler_size (wb_sampler_t *self);

//  Parse a policy such as "bandit(slack_factor=0.1, evaluation_interval=1,
//  delay_evaluation=5)". NULL with err filled on a mistake.
wb_policy_t *
    wb_policy_parse (const char *text, wb_error_t *err);
void
    wb_policy_destroy (wb_policy_t **self_p);

//  Pure decision: should trial stop at step, given all curves so far?
//  When it says stop and reason is not NULL, *reason gets one line saying
//  why (caller frees); otherwise *reason is set to NULL.
bool
    wb_policy_stop (wb_policy_t *self, bool maximize, json_t *curves,
                    const char *trial, int64_t step, char **reason);

void
    wb_sweep_test (bool verbose);

#endif
