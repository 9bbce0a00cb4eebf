/*  wb_sweep_int - private to wb_sweep*.c: the search space's and the
    sampler's structs and the functions the parts share

    wb_sweep is one class in four files: wb_sweep.c (the search space and
    the internal scale), wb_sweep_sample.c (Sobol and the samplers),
    wb_sweep_tpe.c (TPE, univariate and multivariate) and
    wb_sweep_policy.c (early-termination policies).
    Nothing outside lib/tune/wb_sweep*.c includes this header.
*/
#ifndef WB_SWEEP_INT_H
#define WB_SWEEP_INT_H

#include "wb_sweep.h"
#include "base/wb_rng.h"

#define WB_SWEEP_SOBOL_DIMS 21      //  dimensions with direction numbers
#define WB_SWEEP_SOBOL_BITS 32      //  bits of each Sobol coordinate

//  ---- The search space (wb_sweep.c) ----

typedef enum {
    WB_SWEEP_CONST,             //  a constant: values holds [value]
    WB_SWEEP_CHOICE,            //  choice(...): values holds the options
    WB_SWEEP_RANDINT,           //  randint(a): 0 .. a-1
    WB_SWEEP_UNIFORM,           //  uniform(a, b)
    WB_SWEEP_QUNIFORM,          //  quniform(a, b, q)
    WB_SWEEP_LOGUNIFORM,        //  loguniform(a, b), bounds not exponents
    WB_SWEEP_QLOGUNIFORM,       //  qloguniform(a, b, q)
    WB_SWEEP_NORMAL,            //  normal(a = mu, b = sigma)
    WB_SWEEP_QNORMAL,           //  qnormal(a, b, q)
    WB_SWEEP_LOGNORMAL,         //  lognormal(a, b) = exp(normal(a, b))
    WB_SWEEP_QLOGNORMAL         //  qlognormal(a, b, q)
} wb_sweep__kind_t;


//  The distribution table: name, kind, number of arguments, whether the
//  internal scale is a log, whether it is a normal family, argument names
//  for messages.
typedef struct {
    const char *name;           //  as written in the space
    wb_sweep__kind_t kind;      //  what it is
    int nargs;                  //  arguments it takes; -1 for choice (1 or more)
    bool log;                   //  internal scale is log(value)
    bool normal;                //  N(a, b) on the internal scale, else uniform
    const char *usage;          //  signature for error messages
} wb_sweep__dist_t;

typedef struct {
    char *name;                 //  parameter name
    const wb_sweep__dist_t *dist;  //  distribution; NULL for a constant
    wb_sweep__kind_t kind;      //  WB_SWEEP_CONST or dist->kind
    double a, b, q;             //  arguments (q = 0 when not quantized)
    json_t *values;             //  choice options or [constant]; else NULL
    double lo, hi;              //  internal-scale range (truncation for TPE)
    int line;                   //  line of the space it came from
} wb_sweep__dim_t;

struct _wb_space_t {
    wb_sweep__dim_t *dims;      //  parameters in the order written
    size_t ndims;               //  number of them
};
//  ---- The samplers (wb_sweep_sample.c) ----


typedef enum {
    WB_SWEEP_GRID,              //  full product of choices
    WB_SWEEP_RANDOM,            //  independent draws
    WB_SWEEP_SOBOL,             //  Sobol coordinates, random beyond 21 dims
    WB_SWEEP_TPE                //  tree-structured Parzen estimator
} wb_sweep__sampler_kind_t;

struct _wb_sampler_t {
    wb_space_t *space;          //  the search space, owned
    wb_sweep__sampler_kind_t kind;  //  which sampler
    bool maximize;              //  goal: true = max, false = min
    wb_rng_t rng;               //  the random stream (base/wb_rng)
    size_t grid_size;           //  points of a grid (0 otherwise)
    size_t grid_next;           //  index of the next grid point
    uint64_t sobol_next;        //  index of the next Sobol point
    uint32_t sobol_shift [WB_SWEEP_SOBOL_DIMS];  //  digital shift per dim
    uint32_t sobol_v [WB_SWEEP_SOBOL_DIMS][WB_SWEEP_SOBOL_BITS];  //  direction numbers
};


//  ---- wb_sweep.c ----

//  Move *p past blanks.
void
    wb_sweep__skip_space (const char **p);
//  The parameter value for internal t (randint: the integer).
double
    wb_sweep__from_internal (const wb_sweep__dim_t *dim, double t);
//  The internal value of parameter value x, clamped to the range.
double
    wb_sweep__to_internal (const wb_sweep__dim_t *dim, double x);
//  A numeric dimension's value x as JSON (randint: an integer).
json_t *
    wb_sweep__numeric_json (const wb_sweep__dim_t *dim, double x);
//  The JSON value for u in (0, 1), any kind of parameter.
json_t *
    wb_sweep__unit_to_json (const wb_sweep__dim_t *dim, double u);

//  ---- wb_sweep_sample.c ----

//  The next point of the random sampler (TPE's start-up draws too).
json_t *
    wb_sweep__next_random (wb_sampler_t *self);

//  ---- wb_sweep_tpe.c ----

//  qsort comparison of doubles, ascending.
int
    wb_sweep__double_cmp (const void *a, const void *b);
//  The next TPE proposal given the history; NULL with err filled when
//  the history is malformed.
json_t *
    wb_sweep__next_tpe (wb_sampler_t *self, json_t *history, wb_error_t *err);

//  ---- Self-tests of the parts (wb_sweep_test runs them all) ----

void
    wb_sweep_sample_test (bool verbose);
void
    wb_sweep_tpe_test (bool verbose);
void
    wb_sweep_policy_test (bool verbose);

#endif
