/*  wb_sweep - hyperparameter sweeps: search-space parser, samplers (grid,
    random, sobol, bayesian TPE) and early-termination policies

    The vocabulary and the exact semantics are written in wb_sweep.h. Inside,
    every non-constant parameter has an "internal" scale on which samplers
    work: the value itself for uniform and normal families, its log for the
    log families, the integer for randint. A point of the unit interval maps
    onto a distribution through its inverse CDF on that scale (s_from_unit),
    which random and sobol share; TPE fits its Parzen densities on it.

    wb_sweep is one class in four files behind wb_sweep_int.h: this one
    holds the search space and the internal scale; wb_sweep_sample.c the
    samplers (grid, random, sobol), wb_sweep_tpe.c the bayesian sampler and
    wb_sweep_policy.c the early-termination policies.
*/
#include <assert.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_sweep_int.h"
#include "base/wb_util.h"

#define S_NORMAL_SPAN       6.0     //  normal families: range mu +- 6 sigma

//  ---- The search space ----


static const wb_sweep__dist_t s_dists [] = {
    { "choice",      WB_SWEEP_CHOICE,      -1, false, false, "choice(a, b, ...)" },
    { "randint",     WB_SWEEP_RANDINT,      1, false, false, "randint(upper)" },
    { "uniform",     WB_SWEEP_UNIFORM,      2, false, false, "uniform(lo, hi)" },
    { "quniform",    WB_SWEEP_QUNIFORM,     3, false, false, "quniform(lo, hi, q)" },
    { "loguniform",  WB_SWEEP_LOGUNIFORM,   2, true,  false, "loguniform(lo, hi)" },
    { "qloguniform", WB_SWEEP_QLOGUNIFORM,  3, true,  false, "qloguniform(lo, hi, q)" },
    { "normal",      WB_SWEEP_NORMAL,       2, false, true,  "normal(mu, sigma)" },
    { "qnormal",     WB_SWEEP_QNORMAL,      3, false, true,  "qnormal(mu, sigma, q)" },
    { "lognormal",   WB_SWEEP_LOGNORMAL,    2, true,  true,  "lognormal(mu, sigma)" },
    { "qlognormal",  WB_SWEEP_QLOGNORMAL,   3, true,  true,  "qlognormal(mu, sigma, q)" },
    { NULL, WB_SWEEP_CONST, 0, false, false, NULL }
};


void
wb_sweep__skip_space (const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\r')
        (*p)++;
}

//  Parse a literal: number or quoted text. Returns a new json value or NULL.
static json_t *
s_parse_literal (const char **p, const char **why)
{
    const char *s = *p;
    if (*s == '\'' || *s == '"') {
        char quote = *s++;
        size_t cap = strlen (s) + 1, len = 0;
        char *buf = malloc (cap);
        assert (buf);
        while (*s && *s != '\n' && *s != quote) {
            if (*s == '\\' && s [1] && s [1] != '\n')
                s++;
            buf [len++] = *s++;
        }
        if (*s != quote) {
            free (buf);
            *why = "unterminated quoted text";
            return NULL;
        }
        buf [len] = 0;
        *p = s + 1;
        json_t *value = json_stringn (buf, len);
        free (buf);
        if (!value)
            *why = "quoted text is not valid UTF-8";
        return value;
    }
    char *end;
    double d = strtod (s, &end);
    if (end == s || !isfinite (d)) {
        *why = "expected a number or quoted text";
        return NULL;
    }
    //  Integers written as such stay integers
    bool integral = true;
    for (const char *c = s; c < end; c++)
        if (*c == '.' || *c == 'e' || *c == 'E' || isalpha ((unsigned char) *c))
            integral = false;
    *p = end;
    if (integral && fabs (d) < 9e15)
        return json_integer ((json_int_t) strtoll (s, NULL, 10));
    return json_real (d);
}

static bool
s_at_end (const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return *p == 0 || *p == '\n' || *p == '#';
}

static void
s_dim_free (wb_sweep__dim_t *dim)
{
    free (dim->name);
    json_decref (dim->values);
}

void
wb_space_destroy (wb_space_t **self_p)
{
    assert (self_p);
    wb_space_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->ndims; i++)
            s_dim_free (&self->dims [i]);
        free (self->dims);
        free (self);
        *self_p = NULL;
    }
}

//  Check the arguments of a distribution and set its internal range.
static int
s_dim_check (wb_sweep__dim_t *dim, wb_error_t *err)
{
    const char *u = dim->dist->usage;
    int line = dim->line;
    switch (dim->kind) {
        case WB_SWEEP_RANDINT:
            if (dim->a < 1 || dim->a != floor (dim->a) || dim->a > 0x1p53)
                return wb_error_set (err, "space line %d: %s needs a whole upper "
                                     "bound from 1 to 2^53, got %g", line, u, dim->a);
            dim->lo = -0.5;
            dim->hi = dim->a - 0.5;
            return 0;
        case WB_SWEEP_UNIFORM: case WB_SWEEP_QUNIFORM:
        case WB_SWEEP_LOGUNIFORM: case WB_SWEEP_QLOGUNIFORM:
            if (!(dim->a < dim->b))
                return wb_error_set (err, "space line %d: %s needs lo < hi, got "
                                     "%g and %g", line, u, dim->a, dim->b);
            if (dim->dist->log && dim->a <= 0)
                return wb_error_set (err, "space line %d: %s needs 0 < lo (the "
                                     "bounds themselves, not exponents), got %g",
                                     line, u, dim->a);
            dim->lo = dim->dist->log? log (dim->a): dim->a;
            dim->hi = dim->dist->log? log (dim->b): dim->b;
            break;
        default:        //  normal families
            if (!(dim->b > 0))
                return wb_error_set (err, "space line %d: %s needs sigma > 0, "
                                     "got %g", line, u, dim->b);
            dim->lo = dim->a - S_NORMAL_SPAN * dim->b;
            dim->hi = dim->a + S_NORMAL_SPAN * dim->b;
            break;
    }
    if (dim->dist->nargs == 3 && !(dim->q > 0))
        return wb_error_set (err, "space line %d: %s needs q > 0, got %g",
                             line, u, dim->q);
    //  Every value a sampler can draw must be a finite number, or the
    //  trial would get no value for it: the range and its width, exp() of
    //  it for the log families, value / q when rounding. Normal draws reach
    //  about 8.3 sigma (the inverse CDF of the smallest unit draw).
    double lo = dim->lo, hi = dim->hi;
    if (dim->dist->normal) {
        lo = dim->a - 9 * dim->b;
        hi = dim->a + 9 * dim->b;
    }
    double x_lo = dim->dist->log? exp (lo): lo, x_hi = dim->dist->log? exp (hi): hi;
    if (!isfinite (hi - lo) || !isfinite (x_lo) || !isfinite (x_hi)
    ||  (dim->q > 0 && (!isfinite (x_lo / dim->q) || !isfinite (x_hi / dim->q))))
        return wb_error_set (err, "space line %d: %s draws values too large to be "
                             "numbers with these arguments: use a smaller range%s",
                             line, u, dim->dist->nargs == 3? " or a larger q": "");
    return 0;
}

//  Parse one `name = expression` line into dim; -1 and err on a mistake.
static int
s_parse_line (const char *p, int line, wb_sweep__dim_t *dim, wb_error_t *err)
{
    const char *why = NULL;
    const char *start = p;
    if (!(isalpha ((unsigned char) *p) || *p == '_'))
        return wb_error_set (err, "space line %d: expected `name = "
                             "distribution(...)`, got '%.40s'", line, start);
    while (isalnum ((unsigned char) *p) || *p == '_' || *p == '.' || *p == '-')
        p++;
    dim->name = strndup (start, p - start);
    assert (dim->name);
    wb_sweep__skip_space (&p);
    if (*p != '=')
        return wb_error_set (err, "space line %d: expected '=' after '%s'",
                             line, dim->name);
    p++;
    wb_sweep__skip_space (&p);
    if (isalpha ((unsigned char) *p)) {
        const char *fn = p;
        while (isalnum ((unsigned char) *p) || *p == '_')
            p++;
        size_t fnlen = p - fn;
        for (const wb_sweep__dist_t *d = s_dists; d->name; d++)
            if (strlen (d->name) == fnlen && strncmp (d->name, fn, fnlen) == 0)
                dim->dist = d;
        if (!dim->dist)
            return wb_error_set (err, "space line %d: unknown distribution "
                                 "'%.*s' for '%s' (choice, randint, uniform, "
                                 "quniform, loguniform, qloguniform, normal, "
                                 "qnormal, lognormal, qlognormal)",
                                 line, (int) fnlen, fn, dim->name);
        dim->kind = dim->dist->kind;
        wb_sweep__skip_space (&p);
        if (*p != '(')
            return wb_error_set (err, "space line %d: expected '(' after %s",
                                 line, dim->dist->name);
        p++;
        dim->values = json_array ();
        wb_sweep__skip_space (&p);
        while (*p != ')') {
            json_t *value = s_parse_literal (&p, &why);
            if (!value)
                return wb_error_set (err, "space line %d: %s: %s", line,
                                     dim->dist->usage, why);
            json_array_append_new (dim->values, value);
            wb_sweep__skip_space (&p);
            if (*p == ',') {
                p++;
                wb_sweep__skip_space (&p);
            }
            else
            if (*p != ')')
                return wb_error_set (err, "space line %d: %s: expected ',' or "
                                     "')' after argument %zu", line,
                                     dim->dist->usage, json_array_size (dim->values));
        }
        p++;
        wb_sweep__skip_space (&p);
        if (!s_at_end (p))
            return wb_error_set (err, "space line %d: unexpected '%.20s' after "
                                 "%s(...)", line, p, dim->dist->name);
        size_t n = json_array_size (dim->values);
        if (dim->kind == WB_SWEEP_CHOICE) {
            if (n == 0)
                return wb_error_set (err, "space line %d: choice() needs at "
                                     "least one value", line);
            return 0;
        }
        if ((int) n != dim->dist->nargs)
            return wb_error_set (err, "space line %d: %s takes %d argument%s, "
                                 "got %zu", line, dim->dist->usage,
                                 dim->dist->nargs, dim->dist->nargs > 1? "s": "", n);
        double args [3] = { 0, 0, 0 };
        for (size_t i = 0; i < n; i++) {
            json_t *value = json_array_get (dim->values, i);
            if (!json_is_number (value))
                return wb_error_set (err, "space line %d: %s takes numbers, "
                                     "argument %zu is text", line,
                                     dim->dist->usage, i + 1);
            args [i] = json_number_value (value);
        }
        json_decref (dim->values);
        dim->values = NULL;
        dim->a = args [0];
        dim->b = args [1];
        dim->q = dim->dist->nargs == 3? args [2]: 0;
        return s_dim_check (dim, err);
    }
    json_t *value = s_parse_literal (&p, &why);
    if (!value)
        return wb_error_set (err, "space line %d: '%s': %s", line, dim->name,
                             why);
    dim->kind = WB_SWEEP_CONST;
    dim->values = json_array ();
    json_array_append_new (dim->values, value);
    wb_sweep__skip_space (&p);
    if (!s_at_end (p))
        return wb_error_set (err, "space line %d: unexpected '%.20s' after the "
                             "value of '%s'", line, p, dim->name);
    return 0;
}

wb_space_t *
wb_space_parse (const char *text, wb_error_t *err)
{
    assert (text);
    wb_space_t *self = calloc (1, sizeof (wb_space_t));
    assert (self);
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *eol = strchr (p, '\n');
        wb_sweep__skip_space (&p);
        if (*p != '\n' && *p != '#' && *p) {
            self->dims = realloc (self->dims, (self->ndims + 1) * sizeof (wb_sweep__dim_t));
            assert (self->dims);
            wb_sweep__dim_t *dim = &self->dims [self->ndims++];
            memset (dim, 0, sizeof (*dim));
            dim->line = line;
            if (s_parse_line (p, line, dim, err)) {
                wb_space_destroy (&self);
                return NULL;
            }
            for (size_t i = 0; i + 1 < self->ndims; i++)
                if (streq (self->dims [i].name, dim->name)) {
                    wb_error_set (err, "space line %d: '%s' is already defined "
                                  "on line %d", line, dim->name, self->dims [i].line);
                    wb_space_destroy (&self);
                    return NULL;
                }
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    if (self->ndims == 0) {
        wb_error_set (err, "space: no parameters; write one per line, like "
                      "`lr = loguniform(1e-4, 1e-1)`");
        wb_space_destroy (&self);
    }
    return self;
}

size_t
wb_space_size (wb_space_t *self)
{
    assert (self);
    return self->ndims;
}

const char *
wb_space_name (wb_space_t *self, size_t index)
{
    assert (self);
    return index < self->ndims? self->dims [index].name: NULL;
}

bool
wb_space_log (wb_space_t *self, size_t index)
{
    assert (self);
    return index < self->ndims && self->dims [index].dist && self->dims [index].dist->log;
}

bool
wb_space_constant (wb_space_t *self, size_t index)
{
    assert (self);
    return index < self->ndims && self->dims [index].kind == WB_SWEEP_CONST;
}

//  ---- The normal quantile (random draws come from base/wb_rng) ----

//  Inverse of the standard normal CDF (Acklam's rational approximation,
//  relative error below 1.2e-9), for mapping Sobol points onto normals.
static double
s_normal_quantile (double p)
{
    static const double a [] = { -3.969683028665376e+01, 2.209460984245205e+02,
        -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01,
        2.506628277459239e+00 };
    static const double b [] = { -5.447609879822406e+01, 1.615858368580409e+02,
        -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 };
    static const double c [] = { -7.784894002430293e-03, -3.223964580411365e-01,
        -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00,
        2.938163982698783e+00 };
    static const double d [] = { 7.784695709041462e-03, 3.224671290700398e-01,
        2.445134137142996e+00, 3.754408661907416e+00 };
    if (p < 0.02425) {
        double q = sqrt (-2 * log (p));
        return (((((c [0] * q + c [1]) * q + c [2]) * q + c [3]) * q + c [4]) * q + c [5])
             / ((((d [0] * q + d [1]) * q + d [2]) * q + d [3]) * q + 1);
    }
    if (p > 1 - 0.02425)
        return -s_normal_quantile (1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a [0] * r + a [1]) * r + a [2]) * r + a [3]) * r + a [4]) * r + a [5]) * q
         / (((((b [0] * r + b [1]) * r + b [2]) * r + b [3]) * r + b [4]) * r + 1);
}

//  ---- From the internal scale to values ----

//  Round x to the nearest multiple of q (q = 0: unchanged)
static double
s_quantize (double x, double q)
{
    return q > 0? round (x / q) * q: x;
}

//  The parameter value for internal t (randint: the integer)
double
wb_sweep__from_internal (const wb_sweep__dim_t *dim, double t)
{
    if (dim->kind == WB_SWEEP_RANDINT) {
        double v = floor (t + 0.5);
        return v < 0? 0: v > dim->a - 1? dim->a - 1: v;
    }
    double x = dim->dist->log? exp (t): t;
    return s_quantize (x, dim->q);
}

//  The internal value of parameter value x, clamped to the range
double
wb_sweep__to_internal (const wb_sweep__dim_t *dim, double x)
{
    double t = x;
    if (dim->kind != WB_SWEEP_RANDINT && dim->dist->log)
        t = x > 0? log (x): dim->lo;
    return t < dim->lo? dim->lo: t > dim->hi? dim->hi: t;
}

//  Internal value for u in (0, 1) through the inverse CDF
static double
s_unit_to_internal (const wb_sweep__dim_t *dim, double u)
{
    if (dim->dist->normal)
        return dim->a + dim->b * s_normal_quantile (u);
    return dim->lo + u * (dim->hi - dim->lo);
}

//  Value as JSON: numeric dims from x; choice from option index
json_t *
wb_sweep__numeric_json (const wb_sweep__dim_t *dim, double x)
{
    if (dim->kind == WB_SWEEP_RANDINT)
        return json_integer ((json_int_t) x);
    return json_real (x);
}

//  The JSON value for u in (0, 1), any kind of parameter
json_t *
wb_sweep__unit_to_json (const wb_sweep__dim_t *dim, double u)
{
    if (dim->kind == WB_SWEEP_CONST)
        return json_incref (json_array_get (dim->values, 0));
    if (dim->kind == WB_SWEEP_CHOICE) {
        size_t n = json_array_size (dim->values);
        size_t k = (size_t) (u * n);
        return json_incref (json_array_get (dim->values, k < n? k: n - 1));
    }
    return wb_sweep__numeric_json (dim, wb_sweep__from_internal (dim, s_unit_to_internal (dim, u)));
}


//  ---- Self-test ----

//  @selftest

void
wb_sweep_test (bool verbose)
{
    wb_error_t err;

    //  Parsing: every distribution, comments, constants
    const char *full =
        "# a search space\n"
        "lr = loguniform(1e-4, 1e-1)\n"
        "\n"
        "opt = choice('adam', \"sgd\", 3)   # mixed\n"
        "layers = randint(4)\n"
        "drop = uniform(0, 0.5)\n"
        "units = quniform(16, 256, 16)\n"
        "wd = qloguniform(0.01, 10, 0.01)\n"
        "init = normal(0, 1)\n"
        "shift = qnormal(10, 2, 0.5)\n"
        "scale = lognormal(0, 0.5)\n"
        "batch = qlognormal(4, 0.3, 8)\n"
        "epochs = 10\n"
        "name = 'run'\n";
    wb_space_t *space = wb_space_parse (full, &err);
    assert (space);
    assert (wb_space_size (space) == 12);
    assert (streq (wb_space_name (space, 0), "lr"));
    assert (streq (wb_space_name (space, 11), "name"));
    assert (wb_space_name (space, 12) == NULL);
    wb_space_destroy (&space);

    //  Random: bounds, q-steps, types (the internal scale to values); the
    //  same seed reproduces
    space = wb_space_parse (full, &err);
    wb_space_t *copy = wb_space_parse (full, NULL);
    wb_sampler_t *random = wb_sampler_new (&space, "random", 42, true, &err);
    wb_sampler_t *twin = wb_sampler_new (&copy, "random", 42, true, &err);
    assert (random && twin && !space && !copy);
    assert (wb_sampler_size (random) == 0);
    int opt_seen [3] = { 0 }, layers_seen [4] = { 0 };
    double init_sum = 0;
    for (int i = 0; i < 2000; i++) {
        json_t *p = wb_sampler_next (random, NULL, &err);
        json_t *q = wb_sampler_next (twin, NULL, &err);
        assert (p && q && json_equal (p, q));
        double lr = json_real_value (json_object_get (p, "lr"));
        assert (lr >= 1e-4 && lr <= 1e-1);
        json_t *opt = json_object_get (p, "opt");
        if (json_is_string (opt))
            opt_seen [streq (json_string_value (opt), "adam")? 0: 1]++;
        else {
            assert (json_integer_value (opt) == 3);
            opt_seen [2]++;
        }
        json_t *layers = json_object_get (p, "layers");
        assert (json_is_integer (layers));
        assert (json_integer_value (layers) >= 0 && json_integer_value (layers) < 4);
        layers_seen [json_integer_value (layers)]++;
        double drop = json_real_value (json_object_get (p, "drop"));
        assert (drop >= 0 && drop <= 0.5);
        double units = json_real_value (json_object_get (p, "units"));
        assert (units >= 16 && units <= 256 && fmod (units, 16) == 0);
        double wd = json_real_value (json_object_get (p, "wd"));
        assert (wd >= 0.01 - 1e-12 && wd <= 10 + 1e-12);
        assert (fabs (wd / 0.01 - round (wd / 0.01)) < 1e-9);
        init_sum += json_real_value (json_object_get (p, "init"));
        double shift = json_real_value (json_object_get (p, "shift"));
        assert (fmod (shift, 0.5) == 0);
        assert (json_real_value (json_object_get (p, "scale")) > 0);
        double batch = json_real_value (json_object_get (p, "batch"));
        assert (fmod (batch, 8) == 0);
        assert (json_integer_value (json_object_get (p, "epochs")) == 10);
        assert (streq (json_string_value (json_object_get (p, "name")), "run"));
        json_decref (p);
        json_decref (q);
    }
    for (int k = 0; k < 3; k++)
        assert (opt_seen [k] > 500);
    for (int k = 0; k < 4; k++)
        assert (layers_seen [k] > 400);
    assert (fabs (init_sum / 2000) < 0.1);
    wb_sampler_destroy (&twin);
    //  Another seed gives other points
    space = wb_space_parse ("x = uniform(0, 1)", NULL);
    twin = wb_sampler_new (&space, "random", 43, true, NULL);
    json_t *p = wb_sampler_next (twin, NULL, NULL);
    json_t *q = wb_sampler_next (random, NULL, NULL);
    assert (!json_equal (json_object_get (p, "x"), json_object_get (q, "lr")));
    json_decref (p);
    json_decref (q);
    wb_sampler_destroy (&twin);
    wb_sampler_destroy (&random);

    //  Parse errors name the line and the mistake
    struct {
        const char *text;       //  space
        const char *message;    //  part of the error
    } bad [] = {
        { "", "no parameters" },
        { "# only a comment\n\n", "no parameters" },
        { "x = uniform(1, 0)", "line 1: uniform(lo, hi) needs lo < hi" },
        { "a = 1\nx = loguniform(0, 1)", "line 2: loguniform(lo, hi) needs 0 < lo" },
        { "x = qloguniform(-1, 1, 0.1)", "needs 0 < lo" },
        { "x = quniform(0, 1, 0)", "needs q > 0" },
        { "x = qnormal(0, 1, -1)", "needs q > 0" },
        { "x = normal(0, 0)", "needs sigma > 0" },
        { "x = lognormal(0, -1)", "needs sigma > 0" },
        { "x = qlognormal(0, 1)", "takes 3 arguments, got 2" },
        { "x = randint(0)", "randint(upper) needs a whole upper bound" },
        { "x = randint(2.5)", "whole upper bound" },
        { "x = uniform(0)", "takes 2 arguments, got 1" },
        { "x = uniform('a', 1)", "takes numbers, argument 1 is text" },
        { "x = gaussian(0, 1)", "line 1: unknown distribution 'gaussian'" },
        { "x = choice()", "at least one value" },
        { "x = choice(1, 2", "expected ',' or ')'" },
        { "x = choice('a)", "unterminated quoted text" },
        { "x = choice(1 2)", "expected ',' or ')'" },
        { "x = uniform(0, 1) extra", "unexpected 'extra'" },
        { "x uniform(0, 1)", "expected '=' after 'x'" },
        { "= 3", "line 1: expected `name = distribution(...)`" },
        { "x = 1\n\nx = 2", "line 3: 'x' is already defined on line 1" },
        { "x = abc", "unknown distribution 'abc'" },
        { "x = @", "expected a number or quoted text" },
        { "x = 1 2", "unexpected '2'" },
        { "x = uniform", "expected '(' after uniform" },
        //  Values that would not be numbers (found by tests/fuzz/)
        { "j = qlognormal(1666666, 1, 1)", "line 1: qlognormal(mu, sigma, q) draws values "
                                           "too large to be numbers" },
        { "x = lognormal(705, 1)", "too large to be numbers" },
        { "x = uniform(-1e308, 1e308)", "use a smaller range" },
        { "x = normal(0, 1e307)", "too large to be numbers" },
        { "x = quniform(0, 1e300, 1e-300)", "or a larger q" },
        { "x = randint(1e300)", "from 1 to 2^53, got 1e+300" },
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        wb_error_clear (&err);
        wb_space_t *wrong = wb_space_parse (bad [i].text, &err);
        if (wrong || !strstr (err.text, bad [i].message))
            fprintf (stderr, "\n%s -> '%s'\n", bad [i].text, err.text);
        assert (!wrong && strstr (err.text, bad [i].message));
    }
    assert (wb_space_parse ("x = uniform(1, 0)", NULL) == NULL);

    wb_sweep_sample_test (verbose);
    wb_sweep_tpe_test (verbose);
    wb_sweep_policy_test (verbose);
}
//  @end
