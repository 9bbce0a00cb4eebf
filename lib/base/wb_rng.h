/*  wb_rng - the project's one seeded random stream: xoshiro256**, seeded by
    splitmix64. Training (weights, shuffles, splits, k-means++) and sweeps
    (random, Sobol shifts, TPE draws) all draw from it, so the same seed
    gives the same numbers everywhere, bit for bit, on every machine.

    wb_rng_t is a small value (four words), not a hidden object: callers
    keep one inside their own state or on the stack, and copying it forks
    the stream. Seed it before use.
*/
#ifndef WB_RNG_H
#define WB_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state [4];         //  xoshiro256** state, never all zero
} wb_rng_t;

//  Seed the stream: the four words are four steps of splitmix64 from seed.
void
    wb_rng_seed (wb_rng_t *self, uint64_t seed);
//  The next 64 random bits.
uint64_t
    wb_rng_next (wb_rng_t *self);
//  Uniform in [0, 1), 53 bits: may be 0, never 1.
double
    wb_rng_uniform (wb_rng_t *self);
//  Uniform in (0, 1), 53 bits: never exactly 0 or 1 (safe under log).
double
    wb_rng_unit (wb_rng_t *self);
//  Standard normal (Box-Muller on two wb_rng_unit draws; takes two words).
double
    wb_rng_normal (wb_rng_t *self);
//  Uniform integer in [0, bound), without modulo bias; bound > 0.
size_t
    wb_rng_below (wb_rng_t *self, size_t bound);
//  Fisher-Yates shuffle of items[0..count).
void
    wb_rng_shuffle (wb_rng_t *self, size_t *items, size_t count);

void
    wb_rng_test (bool verbose);

#endif
