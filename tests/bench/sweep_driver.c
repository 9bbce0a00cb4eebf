/*  sweep_driver - runs Workbench's sweep samplers on Branin and Hartmann-6
    for bench_sweep.py

        sweep_driver --fn branin|hartmann6 --trials N --seed S [--seeds K]
                     [--sampler bayesian|random|sobol]

    For each seed S .. S+K-1 prints one JSON line: the best value found,
    the best value after each trial, and the mean time per wb_sampler_next
    call (history building and the objective are not timed).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "wb_sweep.h"

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

//  Branin-Hoo on [-5, 10] x [0, 15]; minimum 0.397887
static double
s_branin (json_t *p)
{
    double x1 = json_number_value (json_object_get (p, "x1"));
    double x2 = json_number_value (json_object_get (p, "x2"));
    double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    double y = x2 - b * x1 * x1 + c * x1 - 6;
    return y * y + 10 * (1 - t) * cos (x1) + 10;
}

//  Hartmann-6 on [0, 1]^6; minimum -3.32237
static double
s_hartmann6 (json_t *p)
{
    static const double alpha [4] = { 1.0, 1.2, 3.0, 3.2 };
    static const double a [4][6] = {
        { 10, 3, 17, 3.5, 1.7, 8 }, { 0.05, 10, 17, 0.1, 8, 14 },
        { 3, 3.5, 1.7, 10, 17, 8 }, { 17, 8, 0.05, 10, 0.1, 14 } };
    static const double pp [4][6] = {
        { 0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886 },
        { 0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991 },
        { 0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650 },
        { 0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381 } };
    double x [6];
    for (int j = 0; j < 6; j++) {
        char key [4];
        snprintf (key, sizeof key, "x%d", j + 1);
        x [j] = json_number_value (json_object_get (p, key));
    }
    double sum = 0;
    for (int i = 0; i < 4; i++) {
        double inner = 0;
        for (int j = 0; j < 6; j++)
            inner += a [i][j] * (x [j] - pp [i][j]) * (x [j] - pp [i][j]);
        sum += alpha [i] * exp (-inner);
    }
    return -sum;
}

int
main (int argc, char *argv [])
{
    const char *fn = "branin", *kind = "bayesian";
    int trials = 100, seeds = 1;
    unsigned long long seed = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp (argv [i], "--fn") == 0)
            fn = argv [i + 1];
        else if (strcmp (argv [i], "--trials") == 0)
            trials = atoi (argv [i + 1]);
        else if (strcmp (argv [i], "--seed") == 0)
            seed = strtoull (argv [i + 1], NULL, 10);
        else if (strcmp (argv [i], "--seeds") == 0)
            seeds = atoi (argv [i + 1]);
        else if (strcmp (argv [i], "--sampler") == 0)
            kind = argv [i + 1];
    }
    bool branin = strcmp (fn, "branin") == 0;
    const char *text = branin
        ? "x1 = uniform(-5, 10)\nx2 = uniform(0, 15)"
        : "x1 = uniform(0, 1)\nx2 = uniform(0, 1)\nx3 = uniform(0, 1)\n"
          "x4 = uniform(0, 1)\nx5 = uniform(0, 1)\nx6 = uniform(0, 1)";
    for (int s = 0; s < seeds; s++) {
        wb_error_t err;
        wb_space_t *space = wb_space_parse (text, &err);
        wb_sampler_t *sampler = space? wb_sampler_new (&space, kind, seed + s, false, &err): NULL;
        if (!sampler) {
            fprintf (stderr, "sweep_driver: %s\n", err.text);
            return 1;
        }
        json_t *history = json_array ();
        json_t *curve = json_array ();
        double best = INFINITY, spent = 0;
        for (int t = 0; t < trials; t++) {
            double start = s_now ();
            json_t *params = wb_sampler_next (sampler, history, &err);
            spent += s_now () - start;
            if (!params) {
                fprintf (stderr, "sweep_driver: %s\n", err.text);
                return 1;
            }
            double value = branin? s_branin (params): s_hartmann6 (params);
            if (value < best)
                best = value;
            json_array_append_new (curve, json_real (best));
            json_array_append_new (history, json_pack ("{s:o, s:f, s:s}", "params",
                                   params, "value", value, "state", "done"));
        }
        json_t *out = json_pack ("{s:s, s:I, s:f, s:f, s:o}", "fn", fn, "seed",
                                 (json_int_t) (seed + s), "best", best,
                                 "sampler_s_per_trial", spent / trials, "curve", curve);
        char *line = json_dumps (out, JSON_COMPACT);
        puts (line);
        free (line);
        json_decref (out);
        json_decref (history);
        wb_sampler_destroy (&sampler);
    }
    return 0;
}
