/*  wb_sweep - hyperparameter sweeps: search-space parser, samplers (grid,
    random, sobol, bayesian TPE) and early-termination policies

    The vocabulary and the exact semantics are written in wb_sweep.h. Inside,
    every non-constant parameter has an "internal" scale on which samplers
    work: the value itself for uniform and normal families, its log for the
    log families, the integer for randint. A point of the unit interval maps
    onto a distribution through its inverse CDF on that scale (s_from_unit),
    which random and sobol share; TPE fits its Parzen densities on it.
*/
#include <assert.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_sweep.h"
#include "base/wb_rng.h"
#include "base/wb_util.h"

#define S_TPE_STARTUP       10      //  finished trials before TPE takes over
#define S_TPE_CANDIDATES    24      //  draws from l(x) per parameter
#define S_TPE_GOOD_MAX      25      //  cap on the good group
#define S_TPE_JOINT_SCALE   0.05    //  joint kernels: Scott's rule times this
#define S_SOBOL_DIMS        21      //  dimensions with direction numbers
#define S_SOBOL_BITS        32      //  bits of each Sobol coordinate
#define S_NORMAL_SPAN       6.0     //  normal families: range mu +- 6 sigma
#define S_MAX_STEP          1e15    //  policies: the largest interval or delay (steps
                                    //  are int64; a double holds this exactly)

//  ---- The search space ----

typedef enum {
    S_CONST,                    //  a constant: values holds [value]
    S_CHOICE,                   //  choice(...): values holds the options
    S_RANDINT,                  //  randint(a): 0 .. a-1
    S_UNIFORM,                  //  uniform(a, b)
    S_QUNIFORM,                 //  quniform(a, b, q)
    S_LOGUNIFORM,               //  loguniform(a, b), bounds not exponents
    S_QLOGUNIFORM,              //  qloguniform(a, b, q)
    S_NORMAL,                   //  normal(a = mu, b = sigma)
    S_QNORMAL,                  //  qnormal(a, b, q)
    S_LOGNORMAL,                //  lognormal(a, b) = exp(normal(a, b))
    S_QLOGNORMAL                //  qlognormal(a, b, q)
} s_kind_t;

//  The distribution table: name, kind, number of arguments, whether the
//  internal scale is a log, whether it is a normal family, argument names
//  for messages.
typedef struct {
    const char *name;           //  as written in the space
    s_kind_t kind;              //  what it is
    int nargs;                  //  arguments it takes; -1 for choice (1 or more)
    bool log;                   //  internal scale is log(value)
    bool normal;                //  N(a, b) on the internal scale, else uniform
    const char *usage;          //  signature for error messages
} s_dist_t;

static const s_dist_t s_dists [] = {
    { "choice",      S_CHOICE,      -1, false, false, "choice(a, b, ...)" },
    { "randint",     S_RANDINT,      1, false, false, "randint(upper)" },
    { "uniform",     S_UNIFORM,      2, false, false, "uniform(lo, hi)" },
    { "quniform",    S_QUNIFORM,     3, false, false, "quniform(lo, hi, q)" },
    { "loguniform",  S_LOGUNIFORM,   2, true,  false, "loguniform(lo, hi)" },
    { "qloguniform", S_QLOGUNIFORM,  3, true,  false, "qloguniform(lo, hi, q)" },
    { "normal",      S_NORMAL,       2, false, true,  "normal(mu, sigma)" },
    { "qnormal",     S_QNORMAL,      3, false, true,  "qnormal(mu, sigma, q)" },
    { "lognormal",   S_LOGNORMAL,    2, true,  true,  "lognormal(mu, sigma)" },
    { "qlognormal",  S_QLOGNORMAL,   3, true,  true,  "qlognormal(mu, sigma, q)" },
    { NULL, S_CONST, 0, false, false, NULL }
};

typedef struct {
    char *name;                 //  parameter name
    const s_dist_t *dist;       //  distribution; NULL for a constant
    s_kind_t kind;              //  S_CONST or dist->kind
    double a, b, q;             //  arguments (q = 0 when not quantized)
    json_t *values;             //  choice options or [constant]; else NULL
    double lo, hi;              //  internal-scale range (truncation for TPE)
    int line;                   //  line of the space it came from
} s_dim_t;

struct _wb_space_t {
    s_dim_t *dims;              //  parameters in the order written
    size_t ndims;               //  number of them
};

static void
s_skip_space (const char **p)
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
s_dim_free (s_dim_t *dim)
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
s_dim_check (s_dim_t *dim, wb_error_t *err)
{
    const char *u = dim->dist->usage;
    int line = dim->line;
    switch (dim->kind) {
        case S_RANDINT:
            if (dim->a < 1 || dim->a != floor (dim->a) || dim->a > 0x1p53)
                return wb_error_set (err, "space line %d: %s needs a whole upper "
                                     "bound from 1 to 2^53, got %g", line, u, dim->a);
            dim->lo = -0.5;
            dim->hi = dim->a - 0.5;
            return 0;
        case S_UNIFORM: case S_QUNIFORM:
        case S_LOGUNIFORM: case S_QLOGUNIFORM:
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
s_parse_line (const char *p, int line, s_dim_t *dim, wb_error_t *err)
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
    s_skip_space (&p);
    if (*p != '=')
        return wb_error_set (err, "space line %d: expected '=' after '%s'",
                             line, dim->name);
    p++;
    s_skip_space (&p);
    if (isalpha ((unsigned char) *p)) {
        const char *fn = p;
        while (isalnum ((unsigned char) *p) || *p == '_')
            p++;
        size_t fnlen = p - fn;
        for (const s_dist_t *d = s_dists; d->name; d++)
            if (strlen (d->name) == fnlen && strncmp (d->name, fn, fnlen) == 0)
                dim->dist = d;
        if (!dim->dist)
            return wb_error_set (err, "space line %d: unknown distribution "
                                 "'%.*s' for '%s' (choice, randint, uniform, "
                                 "quniform, loguniform, qloguniform, normal, "
                                 "qnormal, lognormal, qlognormal)",
                                 line, (int) fnlen, fn, dim->name);
        dim->kind = dim->dist->kind;
        s_skip_space (&p);
        if (*p != '(')
            return wb_error_set (err, "space line %d: expected '(' after %s",
                                 line, dim->dist->name);
        p++;
        dim->values = json_array ();
        s_skip_space (&p);
        while (*p != ')') {
            json_t *value = s_parse_literal (&p, &why);
            if (!value)
                return wb_error_set (err, "space line %d: %s: %s", line,
                                     dim->dist->usage, why);
            json_array_append_new (dim->values, value);
            s_skip_space (&p);
            if (*p == ',') {
                p++;
                s_skip_space (&p);
            }
            else
            if (*p != ')')
                return wb_error_set (err, "space line %d: %s: expected ',' or "
                                     "')' after argument %zu", line,
                                     dim->dist->usage, json_array_size (dim->values));
        }
        p++;
        s_skip_space (&p);
        if (!s_at_end (p))
            return wb_error_set (err, "space line %d: unexpected '%.20s' after "
                                 "%s(...)", line, p, dim->dist->name);
        size_t n = json_array_size (dim->values);
        if (dim->kind == S_CHOICE) {
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
    dim->kind = S_CONST;
    dim->values = json_array ();
    json_array_append_new (dim->values, value);
    s_skip_space (&p);
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
        s_skip_space (&p);
        if (*p != '\n' && *p != '#' && *p) {
            self->dims = realloc (self->dims, (self->ndims + 1) * sizeof (s_dim_t));
            assert (self->dims);
            s_dim_t *dim = &self->dims [self->ndims++];
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
    return index < self->ndims && self->dims [index].kind == S_CONST;
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
static double
s_from_internal (const s_dim_t *dim, double t)
{
    if (dim->kind == S_RANDINT) {
        double v = floor (t + 0.5);
        return v < 0? 0: v > dim->a - 1? dim->a - 1: v;
    }
    double x = dim->dist->log? exp (t): t;
    return s_quantize (x, dim->q);
}

//  The internal value of parameter value x, clamped to the range
static double
s_to_internal (const s_dim_t *dim, double x)
{
    double t = x;
    if (dim->kind != S_RANDINT && dim->dist->log)
        t = x > 0? log (x): dim->lo;
    return t < dim->lo? dim->lo: t > dim->hi? dim->hi: t;
}

//  Internal value for u in (0, 1) through the inverse CDF
static double
s_unit_to_internal (const s_dim_t *dim, double u)
{
    if (dim->dist->normal)
        return dim->a + dim->b * s_normal_quantile (u);
    return dim->lo + u * (dim->hi - dim->lo);
}

//  Value as JSON: numeric dims from x; choice from option index
static json_t *
s_numeric_json (const s_dim_t *dim, double x)
{
    if (dim->kind == S_RANDINT)
        return json_integer ((json_int_t) x);
    return json_real (x);
}

//  The JSON value for u in (0, 1), any kind of parameter
static json_t *
s_unit_to_json (const s_dim_t *dim, double u)
{
    if (dim->kind == S_CONST)
        return json_incref (json_array_get (dim->values, 0));
    if (dim->kind == S_CHOICE) {
        size_t n = json_array_size (dim->values);
        size_t k = (size_t) (u * n);
        return json_incref (json_array_get (dim->values, k < n? k: n - 1));
    }
    return s_numeric_json (dim, s_from_internal (dim, s_unit_to_internal (dim, u)));
}

//  ---- Sobol sequence ----

//  Joe & Kuo (new-joe-kuo-6.21201), dimensions 2..21: degree s, polynomial
//  a, initial direction numbers m_1..m_s. Dimension 1 is all ones.
typedef struct {
    int s;                      //  degree of the primitive polynomial
    int a;                      //  its inner coefficients as bits
    int m [8];                  //  initial odd direction numbers
} s_joe_kuo_t;

static const s_joe_kuo_t s_joe_kuo [S_SOBOL_DIMS - 1] = {
    { 1, 0,  { 1 } },
    { 2, 1,  { 1, 3 } },
    { 3, 1,  { 1, 3, 1 } },
    { 3, 2,  { 1, 1, 1 } },
    { 4, 1,  { 1, 1, 3, 3 } },
    { 4, 4,  { 1, 3, 5, 13 } },
    { 5, 2,  { 1, 1, 5, 5, 17 } },
    { 5, 4,  { 1, 1, 5, 5, 5 } },
    { 5, 7,  { 1, 1, 7, 11, 19 } },
    { 5, 11, { 1, 1, 5, 1, 1 } },
    { 5, 13, { 1, 1, 1, 3, 11 } },
    { 5, 14, { 1, 3, 5, 5, 31 } },
    { 6, 1,  { 1, 3, 3, 9, 7, 49 } },
    { 6, 13, { 1, 1, 1, 15, 21, 21 } },
    { 6, 16, { 1, 3, 1, 13, 27, 49 } },
    { 6, 19, { 1, 1, 1, 15, 7, 5 } },
    { 6, 22, { 1, 3, 1, 15, 13, 25 } },
    { 6, 25, { 1, 1, 5, 5, 19, 61 } },
    { 7, 1,  { 1, 3, 7, 11, 23, 15, 103 } },
    { 7, 4,  { 1, 3, 7, 13, 13, 15, 69 } }
};

//  Fill v [d][k], the direction numbers of dimension d for bit k
static void
s_sobol_init (uint32_t v [S_SOBOL_DIMS][S_SOBOL_BITS])
{
    for (int k = 0; k < S_SOBOL_BITS; k++)
        v [0][k] = 1u << (31 - k);
    for (int d = 1; d < S_SOBOL_DIMS; d++) {
        const s_joe_kuo_t *jk = &s_joe_kuo [d - 1];
        for (int k = 0; k < S_SOBOL_BITS; k++) {
            if (k < jk->s)
                v [d][k] = (uint32_t) jk->m [k] << (31 - k);
            else {
                v [d][k] = v [d][k - jk->s] ^ (v [d][k - jk->s] >> jk->s);
                for (int j = 1; j < jk->s; j++)
                    if ((jk->a >> (jk->s - 1 - j)) & 1)
                        v [d][k] ^= v [d][k - j];
            }
        }
    }
}

//  ---- Samplers ----

typedef enum {
    S_GRID,                     //  full product of choices
    S_RANDOM,                   //  independent draws
    S_SOBOL,                    //  Sobol coordinates, random beyond 21 dims
    S_TPE                       //  tree-structured Parzen estimator
} s_sampler_kind_t;

struct _wb_sampler_t {
    wb_space_t *space;          //  the search space, owned
    s_sampler_kind_t kind;      //  which sampler
    bool maximize;              //  goal: true = max, false = min
    wb_rng_t rng;               //  the random stream (base/wb_rng)
    size_t grid_size;           //  points of a grid (0 otherwise)
    size_t grid_next;           //  index of the next grid point
    uint64_t sobol_next;        //  index of the next Sobol point
    uint32_t sobol_shift [S_SOBOL_DIMS];            //  digital shift per dim
    uint32_t sobol_v [S_SOBOL_DIMS][S_SOBOL_BITS];  //  direction numbers
};

wb_sampler_t *
wb_sampler_new (wb_space_t **space_p, const char *kind, uint64_t seed,
                bool maximize, wb_error_t *err)
{
    assert (space_p && *space_p);
    assert (kind);
    wb_space_t *space = *space_p;
    *space_p = NULL;
    wb_sampler_t *self = calloc (1, sizeof (wb_sampler_t));
    assert (self);
    self->space = space;
    self->maximize = maximize;
    if (streq (kind, "grid"))
        self->kind = S_GRID;
    else
    if (streq (kind, "random"))
        self->kind = S_RANDOM;
    else
    if (streq (kind, "sobol"))
        self->kind = S_SOBOL;
    else
    if (streq (kind, "bayesian") || streq (kind, "tpe"))
        self->kind = S_TPE;
    else {
        wb_error_set (err, "sampler: unknown kind '%s'; use grid, random, sobol "
                      "or bayesian", kind);
        wb_sampler_destroy (&self);
        return NULL;
    }
    wb_rng_seed (&self->rng, seed);
    if (self->kind == S_GRID) {
        self->grid_size = 1;
        for (size_t i = 0; i < space->ndims; i++) {
            s_dim_t *dim = &space->dims [i];
            if (dim->kind != S_CONST && dim->kind != S_CHOICE) {
                wb_error_set (err, "grid: '%s' (line %d) is %s; a grid takes "
                              "only choice() and constants - use random, sobol "
                              "or bayesian", dim->name, dim->line, dim->dist->name);
                wb_sampler_destroy (&self);
                return NULL;
            }
            size_t n = json_array_size (dim->values);
            if (self->grid_size > SIZE_MAX / n) {
                wb_error_set (err, "grid: the product of the choices is too large");
                wb_sampler_destroy (&self);
                return NULL;
            }
            self->grid_size *= n;
        }
    }
    if (self->kind == S_SOBOL) {
        s_sobol_init (self->sobol_v);
        for (int d = 0; d < S_SOBOL_DIMS; d++)
            self->sobol_shift [d] = (uint32_t) (wb_rng_next (&self->rng) >> 32);
    }
    return self;
}

void
wb_sampler_destroy (wb_sampler_t **self_p)
{
    assert (self_p);
    wb_sampler_t *self = *self_p;
    if (self) {
        wb_space_destroy (&self->space);
        free (self);
        *self_p = NULL;
    }
}

size_t
wb_sampler_size (wb_sampler_t *self)
{
    assert (self);
    return self->grid_size;
}

static json_t *
s_next_grid (wb_sampler_t *self)
{
    if (self->grid_next >= self->grid_size)
        return NULL;
    json_t *params = json_object ();
    size_t index = self->grid_next++;
    //  Last parameter varies fastest: peel digits from the end
    for (size_t i = self->space->ndims; i-- > 0; ) {
        s_dim_t *dim = &self->space->dims [i];
        size_t n = json_array_size (dim->values);
        json_object_set (params, dim->name, json_array_get (dim->values, index % n));
        index /= n;
    }
    //  Keep the keys in the order written
    json_t *ordered = json_object ();
    for (size_t i = 0; i < self->space->ndims; i++) {
        const char *name = self->space->dims [i].name;
        json_object_set (ordered, name, json_object_get (params, name));
    }
    json_decref (params);
    return ordered;
}

static json_t *
s_next_random (wb_sampler_t *self)
{
    json_t *params = json_object ();
    for (size_t i = 0; i < self->space->ndims; i++) {
        s_dim_t *dim = &self->space->dims [i];
        double u = dim->kind == S_CONST? 0.5: wb_rng_unit (&self->rng);
        json_object_set_new (params, dim->name, s_unit_to_json (dim, u));
    }
    return params;
}

static json_t *
s_next_sobol (wb_sampler_t *self)
{
    uint64_t n = self->sobol_next++;
    uint64_t gray = n ^ (n >> 1);
    json_t *params = json_object ();
    int d = 0;
    for (size_t i = 0; i < self->space->ndims; i++) {
        s_dim_t *dim = &self->space->dims [i];
        double u = 0.5;
        if (dim->kind != S_CONST) {
            if (d < S_SOBOL_DIMS) {
                uint32_t x = self->sobol_shift [d];
                for (int k = 0; k < S_SOBOL_BITS; k++)
                    if ((gray >> k) & 1)
                        x ^= self->sobol_v [d][k];
                u = (x + 0.5) * 0x1.0p-32;
                d++;
            }
            else
                u = wb_rng_unit (&self->rng);
        }
        json_object_set_new (params, dim->name, s_unit_to_json (dim, u));
    }
    return params;
}

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

static int
s_double_cmp (const void *a, const void *b)
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
s_parzen_fit (s_parzen_t *self, const s_dim_t *dim, double *v, size_t n)
{
    self->n = n + 1;
    self->mu = malloc (self->n * sizeof (double));
    self->sigma = malloc (self->n * sizeof (double));
    self->logz = malloc (self->n * sizeof (double));
    assert (self->mu && self->sigma && self->logz);
    self->lo = dim->lo;
    self->hi = dim->hi;
    double range = dim->hi - dim->lo;
    qsort (v, n, sizeof (double), s_double_cmp);
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
s_choice_index (const s_dim_t *dim, json_t *value)
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
s_joint_fit (s_joint_t *self, s_dim_t **dims, size_t m, const double *rows, size_t n)
{
    self->n = n + 1;
    self->m = m;
    self->mu = malloc (self->n * m * sizeof (double));
    self->sigma = malloc (self->n * m * sizeof (double));
    self->logz = malloc (self->n * m * sizeof (double));
    assert (self->mu && self->sigma && self->logz);
    double scale = S_TPE_JOINT_SCALE * pow (n > 0? (double) n: 1.0, -1.0 / (m + 4.0));
    for (size_t d = 0; d < m; d++) {
        const s_dim_t *dim = dims [d];
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
s_joint_sample (s_joint_t *self, s_dim_t **dims, wb_rng_t *rng, double *out)
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

static json_t *
s_next_tpe (wb_sampler_t *self, json_t *history, wb_error_t *err)
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
            s_dim_t *dim = &space->dims [d];
            json_t *p = json_object_get (params, dim->name);
            double t = NAN;
            if (dim->kind == S_CHOICE) {
                int k = p? s_choice_index (dim, p): -1;
                if (k >= 0)
                    t = k;
            }
            else
            if (dim->kind != S_CONST && json_is_number (p))
                t = s_to_internal (dim, json_number_value (p));
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
        return s_next_random (self);
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
    s_dim_t **joint_dims = malloc ((ndims + 1) * sizeof (s_dim_t *));
    size_t *joint_index = malloc ((ndims + 1) * sizeof (size_t));
    assert (joint_dims && joint_index);
    size_t m = 0;
    for (size_t d = 0; d < ndims; d++)
        if (space->dims [d].kind != S_CONST && space->dims [d].kind != S_CHOICE) {
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
                at [j] = s_to_internal (joint_dims [j], s_from_internal (joint_dims [j], t [j]));
            double score = s_joint_logpdf (&l, at) - s_joint_logpdf (&g, at);
            if (c == 0 || score > best_score) {
                best_score = score;
                memcpy (best_t, t, m * sizeof (double));
            }
        }
        for (size_t j = 0; j < m; j++)
            json_object_set_new (params, joint_dims [j]->name,
                s_numeric_json (joint_dims [j], s_from_internal (joint_dims [j], best_t [j])));
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
        s_dim_t *dim = &space->dims [d];
        if (m >= 2 && dim->kind != S_CONST && dim->kind != S_CHOICE)
            continue;           //  drawn with the others above
        if (dim->kind == S_CONST) {
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
        if (dim->kind == S_CHOICE) {
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
            double value = s_from_internal (dim, t);
            double at = s_to_internal (dim, value);
            double score = s_parzen_logpdf (&l, at) - s_parzen_logpdf (&g, at);
            if (score > best_score || isnan (best)) {
                best_score = score;
                best = value;
            }
        }
        s_parzen_free (&l);
        s_parzen_free (&g);
        json_object_set_new (params, dim->name, s_numeric_json (dim, best));
    }
    free (good);
    free (bad);
    free (obs);
    free (x);
    return params;
}

json_t *
wb_sampler_next (wb_sampler_t *self, json_t *history, wb_error_t *err)
{
    assert (self);
    wb_error_clear (err);
    if (history && !json_is_array (history)) {
        wb_error_set (err, "history: expected a JSON array of trials");
        return NULL;
    }
    switch (self->kind) {
        case S_GRID:   return s_next_grid (self);
        case S_RANDOM: return s_next_random (self);
        case S_SOBOL:  return s_next_sobol (self);
        default:       return s_next_tpe (self, history, err);
    }
}

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
    s_skip_space (&p);
    if (*p == '(') {
        p++;
        s_skip_space (&p);
        while (*p != ')') {
            const char *key = p;
            while (isalpha ((unsigned char) *p) || *p == '_')
                p++;
            size_t klen = p - key;
            s_skip_space (&p);
            if (klen == 0 || *p != '=') {
                wb_error_set (err, "policy: expected key=value at '%.20s'", key);
                goto fail;
            }
            p++;
            s_skip_space (&p);
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
            s_skip_space (&p);
            if (*p == ',') {
                p++;
                s_skip_space (&p);
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
        qsort (values, n, sizeof (double), s_double_cmp);
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

//  ---- Self-test ----

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
    qsort (v, n, sizeof (double), s_double_cmp);
    return v [n / 2];
}

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

    //  Random: bounds, q-steps, types; the same seed reproduces
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

    //  Grid: the full product, last parameter fastest, then NULL
    space = wb_space_parse ("a = choice(1, 2, 3)\nb = choice('x', 'y')\nc = 5", NULL);
    wb_sampler_t *grid = wb_sampler_new (&space, "grid", 0, true, &err);
    assert (grid && wb_sampler_size (grid) == 6);
    const char *expected [] = {
        "{\"a\": 1, \"b\": \"x\", \"c\": 5}", "{\"a\": 1, \"b\": \"y\", \"c\": 5}",
        "{\"a\": 2, \"b\": \"x\", \"c\": 5}", "{\"a\": 2, \"b\": \"y\", \"c\": 5}",
        "{\"a\": 3, \"b\": \"x\", \"c\": 5}", "{\"a\": 3, \"b\": \"y\", \"c\": 5}"
    };
    for (int i = 0; i < 6; i++) {
        p = wb_sampler_next (grid, NULL, &err);
        assert (p);
        char *text = json_dumps (p, JSON_PRESERVE_ORDER);
        assert (streq (text, expected [i]));
        free (text);
        json_decref (p);
    }
    assert (wb_sampler_next (grid, NULL, &err) == NULL && !wb_error_isset (&err));
    wb_sampler_destroy (&grid);
    space = wb_space_parse ("a = choice(1, 2)\nb = uniform(0, 1)", NULL);
    assert (!wb_sampler_new (&space, "grid", 0, true, &err) && !space);
    assert (strstr (err.text, "grid: 'b' (line 2) is uniform"));
    space = wb_space_parse ("a = choice(1, 2)", NULL);
    assert (!wb_sampler_new (&space, "hyperband", 0, true, &err));
    assert (strstr (err.text, "unknown kind 'hyperband'"));

    //  Sobol: in bounds, and every 2^k points fill every 1/2^k slice of
    //  each dimension and, for the first two, every cell of an 8x8 grid
    space = wb_space_parse ("x = uniform(0, 1)\nk = 3\ny = uniform(-1, 1)\n"
                            "z = loguniform(1, 100)\nc = choice(1, 2, 3, 4)\n"
                            "n = normal(0, 1)", NULL);
    wb_sampler_t *sobol = wb_sampler_new (&space, "sobol", 7, true, &err);
    assert (sobol);
    int cells [64] = { 0 }, xs [64] = { 0 }, ys [64] = { 0 }, zs [64] = { 0 };
    int cs [4] = { 0 };
    double nsum = 0;
    for (int i = 0; i < 64; i++) {
        p = wb_sampler_next (sobol, NULL, NULL);
        double x = json_real_value (json_object_get (p, "x"));
        double y = json_real_value (json_object_get (p, "y"));
        double z = json_real_value (json_object_get (p, "z"));
        assert (x >= 0 && x < 1 && y >= -1 && y < 1 && z >= 1 && z <= 100);
        xs [(int) (x * 64)]++;
        ys [(int) ((y + 1) / 2 * 64)]++;
        zs [(int) (log (z) / log (100) * 64)]++;
        cells [(int) (x * 8) * 8 + (int) ((y + 1) / 2 * 8)]++;
        cs [json_integer_value (json_object_get (p, "c")) - 1]++;
        nsum += json_real_value (json_object_get (p, "n"));
        json_decref (p);
    }
    for (int i = 0; i < 64; i++)
        assert (xs [i] == 1 && ys [i] == 1 && zs [i] == 1 && cells [i] == 1);
    for (int i = 0; i < 4; i++)
        assert (cs [i] == 16);
    assert (fabs (nsum / 64) < 0.05);
    wb_sampler_destroy (&sobol);

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
