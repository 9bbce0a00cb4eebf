/*  wb_sweep_policy - early-termination policies on learning curves:
    bandit, median stopping and truncation

    Part of wb_sweep (see wb_sweep_int.h). A policy is parsed from text
    like "bandit(slack_factor=0.2, evaluation_interval=2)" and asked, at
    a trial's step, whether the curves of all trials say it should stop.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_sweep_int.h"
#include "base/wb_util.h"

#define S_MAX_STEP          1e15    //  policies: the largest interval or delay (steps
                                    //  are int64; a double holds this exactly)

//  ---- Early-termination policies ----

typedef enum {
    S_NONE,                     //  never stops
    S_BANDIT,                   //  slack against the best trial
    S_MEDIAN,                   //  median of running averages
    S_TRUNCATION                //  lowest percentage
} s_policy_kind_t;

struct _wb_policy_t {
    s_policy_kind_t kind;       //  which policy
    double slack_factor;        //  bandit: relative slack, NAN if unset
    double slack_amount;        //  bandit: absolute slack, NAN if unset
    int64_t interval;           //  evaluation_interval, >= 1
    int64_t delay;              //  delay_evaluation, >= 0
    double percentage;          //  truncation: percentage to cancel
};

wb_policy_t *
wb_policy_parse (const char *text, wb_error_t *err)
{
    assert (text);
    wb_policy_t *self = calloc (1, sizeof (wb_policy_t));
    assert (self);
    self->slack_factor = self->slack_amount = NAN;
    self->interval = 1;
    self->percentage = NAN;
    const char *p = text;
    while (isspace ((unsigned char) *p))
        p++;
    const char *name = p;
    while (isalpha ((unsigned char) *p))
        p++;
    size_t len = p - name;
    if (len == 4 && strncmp (name, "none", 4) == 0)
        self->kind = S_NONE;
    else
    if (len == 6 && strncmp (name, "bandit", 6) == 0)
        self->kind = S_BANDIT;
    else
    if (len == 6 && strncmp (name, "median", 6) == 0)
        self->kind = S_MEDIAN;
    else
    if (len == 10 && strncmp (name, "truncation", 10) == 0)
        self->kind = S_TRUNCATION;
    else {
        wb_error_set (err, "policy: unknown policy '%.*s'; use bandit(...), "
                      "median(...), truncation(...) or none", (int) (len? len: 20), name);
        goto fail;
    }
    wb_sweep__skip_space (&p);
    if (*p == '(') {
        p++;
        wb_sweep__skip_space (&p);
        while (*p != ')') {
            const char *key = p;
            while (isalpha ((unsigned char) *p) || *p == '_')
                p++;
            size_t klen = p - key;
            wb_sweep__skip_space (&p);
            if (klen == 0 || *p != '=') {
                wb_error_set (err, "policy: expected key=value at '%.20s'", key);
                goto fail;
            }
            p++;
            wb_sweep__skip_space (&p);
            char *end;
            double v = strtod (p, &end);
            if (end == p || !isfinite (v)) {
                wb_error_set (err, "policy: %.*s needs a number", (int) klen, key);
                goto fail;
            }
            p = end;
            #define S_KEY(k) (klen == strlen (k) && strncmp (key, k, klen) == 0)
            if (S_KEY ("slack_factor") && self->kind == S_BANDIT)
                self->slack_factor = v;
            else
            if (S_KEY ("slack_amount") && self->kind == S_BANDIT)
                self->slack_amount = v;
            else
            if ((S_KEY ("truncation_percentage") || S_KEY ("percentage"))
            &&  self->kind == S_TRUNCATION)
                self->percentage = v;
            else
            if (S_KEY ("evaluation_interval") && self->kind != S_NONE) {
                if (v < 1 || v != floor (v) || v > S_MAX_STEP) {
                    wb_error_set (err, "policy: evaluation_interval must be a "
                                  "whole number from 1 to 10^15, got %g", v);
                    goto fail;
                }
                self->interval = (int64_t) v;
            }
            else
            if (S_KEY ("delay_evaluation") && self->kind != S_NONE) {
                if (v < 0 || v != floor (v) || v > S_MAX_STEP) {
                    wb_error_set (err, "policy: delay_evaluation must be a whole "
                                  "number from 0 to 10^15, got %g", v);
                    goto fail;
                }
                self->delay = (int64_t) v;
            }
            else {
                wb_error_set (err, "policy: %.*s takes no '%.*s'", (int) len, name,
                              (int) klen, key);
                goto fail;
            }
            #undef S_KEY
            wb_sweep__skip_space (&p);
            if (*p == ',') {
                p++;
                wb_sweep__skip_space (&p);
            }
            else
            if (*p != ')') {
                wb_error_set (err, "policy: expected ',' or ')' at '%.20s'", p);
                goto fail;
            }
        }
        p++;
    }
    while (isspace ((unsigned char) *p))
        p++;
    if (*p) {
        wb_error_set (err, "policy: unexpected '%.20s' at the end", p);
        goto fail;
    }
    if (self->kind == S_BANDIT) {
        if (isnan (self->slack_factor) == isnan (self->slack_amount)) {
            wb_error_set (err, "policy: bandit needs exactly one of slack_factor "
                          "and slack_amount");
            goto fail;
        }
        if (self->slack_factor < 0 || self->slack_amount < 0) {
            wb_error_set (err, "policy: bandit's slack must be >= 0");
            goto fail;
        }
    }
    if (self->kind == S_TRUNCATION
    && !(self->percentage >= 1 && self->percentage <= 99)) {
        wb_error_set (err, "policy: truncation needs truncation_percentage "
                      "between 1 and 99");
        goto fail;
    }
    return self;
fail:
    free (self);
    return NULL;
}

void
wb_policy_destroy (wb_policy_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  Best-so-far and running average of a curve over steps <= step.
//  Returns the number of values seen.
static size_t
s_curve_stats (json_t *curve, int64_t step, bool maximize, double *best,
               double *mean)
{
    size_t i, count = 0;
    json_t *point;
    double sum = 0;
    *best = NAN;
    json_array_foreach (curve, i, point) {
        json_t *s = json_array_get (point, 0);
        json_t *v = json_array_get (point, 1);
        if (!json_is_number (s) || !json_is_number (v)
        ||  json_number_value (s) > (double) step)
            continue;
        double value = json_number_value (v);
        if (count == 0 || (maximize? value > *best: value < *best))
            *best = value;
        sum += value;
        count++;
    }
    *mean = count? sum / count: NAN;
    return count;
}

static bool
s_worse (bool maximize, double a, double b)
{
    return maximize? a < b: a > b;
}

static bool
s_stop (char **reason, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static bool
s_stop (char **reason, const char *format, ...)
{
    if (reason) {
        va_list args;
        va_start (args, format);
        if (vasprintf (reason, format, args) < 0)
            *reason = NULL;
        va_end (args);
    }
    return true;
}

bool
wb_policy_stop (wb_policy_t *self, bool maximize, json_t *curves,
                const char *trial, int64_t step, char **reason)
{
    assert (self);
    assert (trial);
    if (reason)
        *reason = NULL;
    if (self->kind == S_NONE || !json_is_object (curves))
        return false;
    if (step < self->delay || step % self->interval != 0)
        return false;
    double own_best, own_mean;
    if (s_curve_stats (json_object_get (curves, trial), step, maximize,
                       &own_best, &own_mean) == 0)
        return false;
    size_t nfield = json_object_size (curves);
    double *values = malloc ((nfield + 1) * sizeof (double));
    assert (values);
    size_t n = 0, rank = 0;
    double field_best = own_best;
    const char *key;
    json_t *curve;
    json_object_foreach (curves, key, curve) {
        double best, mean;
        if (s_curve_stats (curve, step, maximize, &best, &mean) == 0)
            continue;
        if (s_worse (maximize, field_best, best))
            field_best = best;
        if (self->kind == S_MEDIAN && !streq (key, trial))
            values [n++] = mean;
        if (self->kind == S_TRUNCATION) {
            n++;
            if (s_worse (maximize, best, own_best)
            || (best == own_best && strcmp (key, trial) < 0))
                rank++;
        }
    }
    bool stop = false;
    if (self->kind == S_BANDIT) {
        double limit;
        if (!isnan (self->slack_factor))
            limit = maximize? field_best / (1 + self->slack_factor)
                            : field_best * (1 + self->slack_factor);
        else
            limit = maximize? field_best - self->slack_amount
                            : field_best + self->slack_amount;
        if (s_worse (maximize, own_best, limit))
            stop = s_stop (reason, "bandit: best %g at step %lld is worse than "
                           "%g (best trial %g with slack)", own_best,
                           (long long) step, limit, field_best);
    }
    else
    if (self->kind == S_MEDIAN && n > 0) {
        qsort (values, n, sizeof (double), wb_sweep__double_cmp);
        double median = n % 2? values [n / 2]
                             : (values [n / 2 - 1] + values [n / 2]) / 2;
        if (s_worse (maximize, own_best, median))
            stop = s_stop (reason, "median: best %g at step %lld is worse than "
                           "the median running average %g of %zu other trial%s",
                           own_best, (long long) step, median, n, n > 1? "s": "");
    }
    else
    if (self->kind == S_TRUNCATION) {
        size_t cut = (size_t) floor (n * self->percentage / 100);
        if (rank < cut)
            stop = s_stop (reason, "truncation: best %g at step %lld is among "
                           "the lowest %g%% (%zu of %zu trials)", own_best,
                           (long long) step, self->percentage, cut, n);
    }
    free (values);
    return stop;
}

//  @selftest

//  Does the policy stop trial at step? Checks the reason is set with stop.
static bool
s_test_stops (const char *policy_text, bool maximize, json_t *curves,
              const char *trial, int64_t step)
{
    wb_error_t err;
    wb_policy_t *policy = wb_policy_parse (policy_text, &err);
    if (!policy)
        fprintf (stderr, "%s: %s\n", policy_text, err.text);
    assert (policy);
    char *reason = NULL;
    bool stop = wb_policy_stop (policy, maximize, curves, trial, step, &reason);
    assert (stop == (reason != NULL));
    free (reason);
    wb_policy_destroy (&policy);
    return stop;
}

void
wb_sweep_policy_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;

    //  Policies on synthetic curves: trial value = rate * step, goal max,
    //  a 0.1, b 0.05, c 0.09, d 0.02; e only reported step 1 (0.5)
    json_t *curves = json_object ();
    const char *names [] = { "a", "b", "c", "d" };
    double rates [] = { 0.1, 0.05, 0.09, 0.02 };
    for (int t = 0; t < 4; t++) {
        json_t *curve = json_array ();
        for (int s = 1; s <= 10; s++)
            json_array_append_new (curve, json_pack ("[i, f]", s, rates [t] * s));
        json_object_set_new (curves, names [t], curve);
    }
    //  bandit, slack_factor 0.2: at step 4 best is a 0.4, limit 0.333
    const char *bandit = "bandit(slack_factor=0.2, evaluation_interval=2, "
                         "delay_evaluation=4)";
    assert (!s_test_stops (bandit, true, curves, "b", 2));  //  before the delay
    assert (!s_test_stops (bandit, true, curves, "b", 3));
    assert ( s_test_stops (bandit, true, curves, "b", 4));  //  0.2 < 0.333
    assert (!s_test_stops (bandit, true, curves, "b", 5));  //  not an interval
    assert (!s_test_stops (bandit, true, curves, "c", 4));  //  0.36
    assert ( s_test_stops (bandit, true, curves, "d", 4));
    assert (!s_test_stops (bandit, true, curves, "a", 10)); //  the leader
    assert (!s_test_stops (bandit, true, curves, "c", 10)); //  0.9 vs 0.833
    assert (!s_test_stops (bandit, true, curves, "nobody", 4));
    //  slack_amount 0.05: limit best - 0.05; c survives 4 (0.36 > 0.35),
    //  dies at 10 (0.9 < 0.95)
    const char *amount = "bandit(slack_amount=0.05, evaluation_interval=1)";
    assert (!s_test_stops (amount, true, curves, "c", 4));
    assert ( s_test_stops (amount, true, curves, "c", 10));
    //  median at step 4: averages a .25 b .125 c .225 d .05
    const char *median = "median(evaluation_interval=1, delay_evaluation=2)";
    assert (!s_test_stops (median, true, curves, "a", 4));
    assert ( s_test_stops (median, true, curves, "b", 4));  //  .2 < med(.25,.225,.05)
    assert (!s_test_stops (median, true, curves, "c", 4));  //  .36 > med(.25,.125,.05)
    assert ( s_test_stops (median, true, curves, "d", 4));
    assert (!s_test_stops (median, true, curves, "d", 1));  //  delay
    //  truncation: 50% of 4 cancels d and b, 30% only d
    const char *half = "truncation(truncation_percentage=50, evaluation_interval=1)";
    assert (!s_test_stops (half, true, curves, "a", 4));
    assert ( s_test_stops (half, true, curves, "b", 4));
    assert (!s_test_stops (half, true, curves, "c", 4));
    assert ( s_test_stops (half, true, curves, "d", 4));
    const char *third = "truncation(percentage=30)";
    assert (!s_test_stops (third, true, curves, "b", 4));
    assert ( s_test_stops (third, true, curves, "d", 4));
    //  Goal min reverses everything: now d is the best, a the worst
    assert ( s_test_stops (bandit, false, curves, "a", 4));  //  0.4 > 0.08 * 1.2
    assert (!s_test_stops (bandit, false, curves, "d", 4));
    assert ( s_test_stops (half, false, curves, "a", 4));
    assert ( s_test_stops (half, false, curves, "c", 4));
    assert (!s_test_stops (half, false, curves, "b", 4));
    //  median, goal min, uses the best so far, here each curve's first
    //  value: a's 0.1 beats med(.125, .225, .05) = .125, so nobody stops
    assert (!s_test_stops (median, false, curves, "a", 4));
    assert (!s_test_stops (median, false, curves, "c", 4));
    assert (!s_test_stops (median, false, curves, "d", 4));
    //  A late starter: e has one value at step 1; at step 4 it is in the
    //  field with best 0.5, which now leads
    json_object_set_new (curves, "e", json_pack ("[[i, f]]", 1, 0.5));
    assert ( s_test_stops (bandit, true, curves, "c", 4));  //  0.36 < 0.5/1.2
    assert (!s_test_stops ("none", true, curves, "d", 4));
    json_decref (curves);

    //  Policy errors
    struct {
        const char *text;       //  policy
        const char *message;    //  part of the error
    } bad_policies [] = {
        { "hyperband(eta=3)", "unknown policy 'hyperband'" },
        { "bandit(evaluation_interval=1)", "exactly one of slack_factor" },
        { "bandit(slack_factor=0.1, slack_amount=1)", "exactly one of" },
        { "bandit(slack_factor=-1)", "slack must be >= 0" },
        { "median(slack_factor=0.1)", "median takes no 'slack_factor'" },
        { "median(evaluation_interval=0)", "evaluation_interval must be" },
        { "median(delay_evaluation=1.5)", "delay_evaluation must be" },
        { "median(evaluation_interval=x)", "needs a number" },
        { "median(evaluation_interval 1)", "expected key=value" },
        { "median(evaluation_interval=1 delay_evaluation=2)", "expected ',' or ')'" },
        { "truncation(evaluation_interval=1)", "between 1 and 99" },
        { "truncation(percentage=100)", "between 1 and 99" },
        { "median() extra", "unexpected 'extra'" },
        //  Steps are whole numbers that fit (found by tests/fuzz/)
        { "median(evaluation_interval=8e84)", "from 1 to 10^15, got 8e+84" },
        { "bandit(slack_factor=0.1, delay_evaluation=1e19)", "from 0 to 10^15" },
    };
    for (size_t i = 0; i < sizeof (bad_policies) / sizeof (bad_policies [0]); i++) {
        wb_error_clear (&err);
        wb_policy_t *wrong = wb_policy_parse (bad_policies [i].text, &err);
        if (wrong || !strstr (err.text, bad_policies [i].message))
            fprintf (stderr, "\n%s -> '%s'\n", bad_policies [i].text, err.text);
        assert (!wrong && strstr (err.text, bad_policies [i].message));
    }
}
//  @end
