/*  wb_rng - the project's one seeded random stream: xoshiro256** (Blackman
    and Vigna), its state seeded by splitmix64.

    Every draw is integer arithmetic on the 64-bit words, and the doubles
    are the top 53 bits scaled by 2^-53, so a seed gives the same stream on
    every machine and compiler. Saved models and sweep trials depend on
    that: do not change a function's arithmetic, add a new one instead.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include "wb_rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static uint64_t
s_splitmix (uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
wb_rng_seed (wb_rng_t *self, uint64_t seed)
{
    assert (self);
    for (int i = 0; i < 4; i++)
        self->state [i] = s_splitmix (&seed);
}

uint64_t
wb_rng_next (wb_rng_t *self)
{
    assert (self);
    uint64_t *s = self->state;
    uint64_t result = s_rotl (s [1] * 5, 7) * 9;
    uint64_t t = s [1] << 17;
    s [2] ^= s [0];
    s [3] ^= s [1];
    s [1] ^= s [2];
    s [0] ^= s [3];
    s [2] ^= t;
    s [3] = s_rotl (s [3], 45);
    return result;
}

double
wb_rng_uniform (wb_rng_t *self)
{
    return (double) (wb_rng_next (self) >> 11) * 0x1.0p-53;
}

double
wb_rng_unit (wb_rng_t *self)
{
    return ((wb_rng_next (self) >> 11) + 0.5) * 0x1.0p-53;
}

double
wb_rng_normal (wb_rng_t *self)
{
    double u1 = wb_rng_unit (self), u2 = wb_rng_unit (self);
    return sqrt (-2 * log (u1)) * cos (2 * M_PI * u2);
}

size_t
wb_rng_below (wb_rng_t *self, size_t bound)
{
    assert (bound > 0);
    uint64_t threshold = (0 - (uint64_t) bound) % bound;
    while (true) {
        uint64_t value = wb_rng_next (self);
        if (value >= threshold)
            return (size_t) (value % bound);
    }
}

void
wb_rng_shuffle (wb_rng_t *self, size_t *items, size_t count)
{
    for (size_t i = count; i > 1; i--) {
        size_t j = wb_rng_below (self, i);
        size_t swap = items [i - 1];
        items [i - 1] = items [j];
        items [j] = swap;
    }
}


//  @selftest
void
wb_rng_test (bool verbose)
{
    //  Known values: saved models and sweeps depend on these exact words
    wb_rng_t rng;
    wb_rng_seed (&rng, 42);
    assert (wb_rng_next (&rng) == 0x15780B2E0C2EC716ULL);
    assert (wb_rng_next (&rng) == 0x6104D9866D113A7EULL);
    assert (wb_rng_next (&rng) == 0xAE17533239E499A1ULL);
    assert (wb_rng_next (&rng) == 0xECB8AD4703B360A1ULL);
    wb_rng_seed (&rng, 0);
    assert (wb_rng_next (&rng) == 0x99EC5F36CB75F2B4ULL);
    assert (wb_rng_next (&rng) == 0xBF6E1F784956452AULL);

    //  The doubles are the top 53 bits: exact, and the same for a seed
    wb_rng_seed (&rng, 7);
    assert (wb_rng_uniform (&rng) == 0x1.66b1f5ee9df2ep-1);
    double normal = wb_rng_normal (&rng);
    assert (fabs (normal - 0x1.b4e40a44bab44p-1) < 1e-12);     //  libm rounding
    wb_rng_t a, b;
    wb_rng_seed (&a, 7);
    wb_rng_seed (&b, 7);
    for (int i = 0; i < 100; i++)
        assert (wb_rng_next (&a) == wb_rng_next (&b));

    //  Uniform draws lie in their ranges and average a half
    double mean = 0, unit_mean = 0;
    for (int i = 0; i < 10000; i++) {
        double u = wb_rng_uniform (&a);
        assert (u >= 0 && u < 1);
        mean += u / 10000;
        double v = wb_rng_unit (&a);
        assert (v > 0 && v < 1);
        unit_mean += v / 10000;
    }
    assert (fabs (mean - 0.5) < 0.02);
    assert (fabs (unit_mean - 0.5) < 0.02);

    //  Normals: mean 0, variance 1
    double sum = 0, squares = 0;
    for (int i = 0; i < 10000; i++) {
        double z = wb_rng_normal (&a);
        sum += z;
        squares += z * z;
    }
    assert (fabs (sum / 10000) < 0.05);
    assert (fabs (squares / 10000 - 1) < 0.05);

    //  Bounded integers cover their range; a shuffle is a permutation
    size_t seen [3] = { 0 };
    for (int i = 0; i < 1000; i++) {
        size_t k = wb_rng_below (&a, 3);
        assert (k < 3);
        seen [k]++;
    }
    assert (seen [0] > 250 && seen [1] > 250 && seen [2] > 250);
    assert (wb_rng_below (&a, 1) == 0);
    size_t items [10], marks [10] = { 0 };
    for (size_t i = 0; i < 10; i++)
        items [i] = i;
    wb_rng_shuffle (&a, items, 10);
    for (size_t i = 0; i < 10; i++)
        marks [items [i]]++;
    for (size_t i = 0; i < 10; i++)
        assert (marks [i] == 1);
    wb_rng_shuffle (&a, items, 0);

    if (verbose)
        printf ("  wb_rng: known values, ranges, normals, shuffles\n");
}
//  @end
