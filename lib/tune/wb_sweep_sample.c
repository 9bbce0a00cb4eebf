/*  wb_sweep_sample - the samplers: grid, random and sobol, and the
    sampler object that TPE (wb_sweep_tpe.c) shares

    Part of wb_sweep (see wb_sweep_int.h). Grid enumerates the product of
    the choices; random draws each parameter from base/wb_rng through the
    inverse CDF; sobol takes those unit draws from a digitally shifted
    Sobol sequence (Joe & Kuo direction numbers) instead.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_sweep_int.h"
#include "base/wb_util.h"

//  ---- Sobol sequence ----

//  Joe & Kuo (new-joe-kuo-6.21201), dimensions 2..21: degree s, polynomial
//  a, initial direction numbers m_1..m_s. Dimension 1 is all ones.
typedef struct {
    int s;                      //  degree of the primitive polynomial
    int a;                      //  its inner coefficients as bits
    int m [8];                  //  initial odd direction numbers
} s_joe_kuo_t;

static const s_joe_kuo_t s_joe_kuo [WB_SWEEP_SOBOL_DIMS - 1] = {
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
s_sobol_init (uint32_t v [WB_SWEEP_SOBOL_DIMS][WB_SWEEP_SOBOL_BITS])
{
    for (int k = 0; k < WB_SWEEP_SOBOL_BITS; k++)
        v [0][k] = 1u << (31 - k);
    for (int d = 1; d < WB_SWEEP_SOBOL_DIMS; d++) {
        const s_joe_kuo_t *jk = &s_joe_kuo [d - 1];
        for (int k = 0; k < WB_SWEEP_SOBOL_BITS; k++) {
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
        self->kind = WB_SWEEP_GRID;
    else
    if (streq (kind, "random"))
        self->kind = WB_SWEEP_RANDOM;
    else
    if (streq (kind, "sobol"))
        self->kind = WB_SWEEP_SOBOL;
    else
    if (streq (kind, "bayesian") || streq (kind, "tpe"))
        self->kind = WB_SWEEP_TPE;
    else {
        wb_error_set (err, "sampler: unknown kind '%s'; use grid, random, sobol "
                      "or bayesian", kind);
        wb_sampler_destroy (&self);
        return NULL;
    }
    wb_rng_seed (&self->rng, seed);
    if (self->kind == WB_SWEEP_GRID) {
        self->grid_size = 1;
        for (size_t i = 0; i < space->ndims; i++) {
            wb_sweep__dim_t *dim = &space->dims [i];
            if (dim->kind != WB_SWEEP_CONST && dim->kind != WB_SWEEP_CHOICE) {
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
    if (self->kind == WB_SWEEP_SOBOL) {
        s_sobol_init (self->sobol_v);
        for (int d = 0; d < WB_SWEEP_SOBOL_DIMS; d++)
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
        wb_sweep__dim_t *dim = &self->space->dims [i];
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

json_t *
wb_sweep__next_random (wb_sampler_t *self)
{
    json_t *params = json_object ();
    for (size_t i = 0; i < self->space->ndims; i++) {
        wb_sweep__dim_t *dim = &self->space->dims [i];
        double u = dim->kind == WB_SWEEP_CONST? 0.5: wb_rng_unit (&self->rng);
        json_object_set_new (params, dim->name, wb_sweep__unit_to_json (dim, u));
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
        wb_sweep__dim_t *dim = &self->space->dims [i];
        double u = 0.5;
        if (dim->kind != WB_SWEEP_CONST) {
            if (d < WB_SWEEP_SOBOL_DIMS) {
                uint32_t x = self->sobol_shift [d];
                for (int k = 0; k < WB_SWEEP_SOBOL_BITS; k++)
                    if ((gray >> k) & 1)
                        x ^= self->sobol_v [d][k];
                u = (x + 0.5) * 0x1.0p-32;
                d++;
            }
            else
                u = wb_rng_unit (&self->rng);
        }
        json_object_set_new (params, dim->name, wb_sweep__unit_to_json (dim, u));
    }
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
        case WB_SWEEP_GRID:   return s_next_grid (self);
        case WB_SWEEP_RANDOM: return wb_sweep__next_random (self);
        case WB_SWEEP_SOBOL:  return s_next_sobol (self);
        default:       return wb_sweep__next_tpe (self, history, err);
    }
}


//  @selftest

void
wb_sweep_sample_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_space_t *space;
    json_t *p;

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
}
//  @end
