/*  sweep_driver - runs Workbench's sweep samplers and policies for
    bench_sweep.py

        sweep_driver --fn branin|hartmann6|mlp --trials N --seed S [--seeds K]
                     [--sampler bayesian|random|sobol] [--data CSV --target COL]
        sweep_driver --fn mlp --data CSV --target COL --eval
        sweep_driver --fn mlp --data CSV --target COL --replay --trials N
                     --seed S --parallel P --epochs E POLICY ...

    The default mode: for each seed S .. S+K-1 prints one JSON line: the
    best value found, the best value after each trial, and the mean time
    per wb_sampler_next call (history building and the objective are not
    timed). --fn mlp is a real training objective: an MLP (10 epochs, one
    thread, seed 0) trained on CSV with 20% of the rows held out, the value
    its validation log loss, over learning_rate = loguniform(1e-4, 0.3),
    l2 = loguniform(1e-6, 0.1), width = quniform(8, 128, 8).

    --eval reads one JSON object of params a line on stdin and prints the
    objective for each (so that Optuna evaluates exactly the same thing).

    --replay trains N random trials (seed S) of the MLP for E epochs (no
    early stopping) recording the validation accuracy after every epoch,
    then replays the sweep in epoch time with P trials at once, in order,
    for each POLICY (and for none): after every epoch each running trial is
    judged by wb_policy_stop against the curves as far as they have got,
    as the sweep controller does. Prints one JSON line per policy: epochs
    run, epochs of the full sweep, trials stopped, the best trial without
    a policy and with it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "tune/wb_sweep.h"
#include "data/wb_frame.h"
#include "train/wb_model.h"
#include "train/wb_blas.h"

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

//  The MLP objective: validation log loss (with_curve: also the
//  validation accuracy after each epoch, in *curve_p)
static wb_frame_t *s_frame;
static const char *s_target;
static int s_epochs = 10;

static int
s_on_step (void *arg, int64_t step, json_t *metrics)
{
    (void) step;
    json_t *curve = arg;
    json_t *accuracy = json_object_get (metrics, "val_accuracy");
    if (curve && json_is_number (accuracy))
        json_array_append_new (curve, json_real (json_number_value (accuracy)));
    return 0;
}

static double
s_mlp (json_t *p, json_t *curve)
{
    char hidden [32];
    snprintf (hidden, sizeof hidden, "%d", (int) json_number_value (json_object_get (p, "width")));
    char rate [32], l2 [32], epochs [16];
    snprintf (rate, sizeof rate, "%.10g", json_number_value (json_object_get (p, "learning_rate")));
    snprintf (l2, sizeof l2, "%.10g", json_number_value (json_object_get (p, "l2")));
    snprintf (epochs, sizeof epochs, "%d", s_epochs);
    json_t *params = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "hidden", hidden,
        "learning_rate", rate, "l2", l2, "epochs", epochs, "threads", "1", "seed", "0",
        "validation", "0.2", "patience", "0");
    wb_error_t err;
    wb_model_t *model = wb_model_train (s_frame, NULL, s_target, "mlp", params, s_on_step, curve, &err);
    json_decref (params);
    if (!model) {
        fprintf (stderr, "sweep_driver: %s\n", err.text);
        exit (1);
    }
    double loss = json_number_value (json_object_get (wb_model_metrics (model), "log_loss"));
    wb_model_destroy (&model);
    return isfinite (loss)? loss: 1e9;
}

//  The replay's space is wider, as a first sweep over a new problem is:
//  learning rates from far too small to far too large
static const char *s_replay_space =
    "learning_rate = loguniform(1e-5, 1)\nl2 = loguniform(1e-6, 0.1)\n"
    "width = quniform(8, 128, 8)";

static const char *s_mlp_space =
    "learning_rate = loguniform(1e-4, 0.3)\nl2 = loguniform(1e-6, 0.1)\n"
    "width = quniform(8, 128, 8)";

//  Replay a sweep of curves in epoch time with policy (NULL: none)
static json_t *
s_replay (json_t *curves, int parallel, const char *policy_text)
{
    wb_error_t err;
    wb_policy_t *policy = policy_text? wb_policy_parse (policy_text, &err): NULL;
    if (policy_text && !policy) {
        fprintf (stderr, "sweep_driver: %s\n", err.text);
        exit (1);
    }
    size_t n = json_array_size (curves);
    size_t *progress = calloc (n, sizeof (size_t));
    bool *started = calloc (n, sizeof (bool)), *over = calloc (n, sizeof (bool));
    bool *stopped = calloc (n, sizeof (bool));
    size_t next = 0, running = 0, used = 0, full = 0, stops = 0;
    for (size_t i = 0; i < n; i++)
        full += json_array_size (json_array_get (curves, i));
    while (true) {
        while (running < (size_t) parallel && next < n) {
            started [next++] = true;
            running++;
        }
        if (!running)
            break;
        for (size_t i = 0; i < n; i++)
            if (started [i] && !over [i]) {
                progress [i]++;
                used++;
            }
        //  The curves as far as each trial has got, by trial name
        json_t *seen = json_object ();
        for (size_t i = 0; i < n; i++) {
            if (!started [i])
                continue;
            json_t *points = json_array ();
            json_t *curve = json_array_get (curves, i);
            for (size_t e = 0; e < progress [i]; e++)
                json_array_append_new (points, json_pack ("[I, f]", (json_int_t) (e + 1),
                                       json_number_value (json_array_get (curve, e))));
            char name [32];
            snprintf (name, sizeof name, "t%03zu", i);
            json_object_set_new (seen, name, points);
        }
        for (size_t i = 0; i < n; i++) {
            if (!started [i] || over [i])
                continue;
            if (progress [i] >= json_array_size (json_array_get (curves, i))) {
                over [i] = true;
                running--;
                continue;
            }
            char name [32];
            snprintf (name, sizeof name, "t%03zu", i);
            if (policy && wb_policy_stop (policy, true, seen, name, (int64_t) progress [i], NULL)) {
                over [i] = stopped [i] = true;
                stops++;
                running--;
            }
        }
        json_decref (seen);
    }
    //  The best trial that ran to its end, by final validation accuracy
    int best = -1;
    double best_value = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        json_t *curve = json_array_get (curves, i);
        double last = json_number_value (json_array_get (curve, json_array_size (curve) - 1));
        if (!stopped [i] && last > best_value) {
            best_value = last;
            best = (int) i;
        }
    }
    json_t *out = json_pack ("{s:s, s:I, s:I, s:I, s:i, s:f}", "policy", policy_text? policy_text: "none",
                             "epochs", (json_int_t) used, "full", (json_int_t) full,
                             "stopped", (json_int_t) stops, "best", best, "best_value", best_value);
    free (progress);
    free (started);
    free (over);
    free (stopped);
    wb_policy_destroy (&policy);
    return out;
}

int
main (int argc, char *argv [])
{
    const char *fn = "branin", *kind = "bayesian", *data = NULL;
    int trials = 100, seeds = 1, parallel = 2;
    unsigned long long seed = 0;
    bool eval = false, replay = false;
    int first_policy = argc;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc? argv [i + 1]: "";
        if (strcmp (argv [i], "--eval") == 0)
            eval = true;
        else if (strcmp (argv [i], "--replay") == 0) {
            replay = true;
            first_policy = i + 1;
            while (i + 1 < argc && strncmp (argv [i + 1], "--", 2) != 0)
                i++;
            continue;
        }
        else if (strcmp (argv [i], "--fn") == 0) fn = value;
        else if (strcmp (argv [i], "--trials") == 0) trials = atoi (value);
        else if (strcmp (argv [i], "--seed") == 0) seed = strtoull (value, NULL, 10);
        else if (strcmp (argv [i], "--seeds") == 0) seeds = atoi (value);
        else if (strcmp (argv [i], "--sampler") == 0) kind = value;
        else if (strcmp (argv [i], "--data") == 0) data = value;
        else if (strcmp (argv [i], "--target") == 0) s_target = value;
        else if (strcmp (argv [i], "--parallel") == 0) parallel = atoi (value);
        else if (strcmp (argv [i], "--epochs") == 0) s_epochs = atoi (value);
        else {
            fprintf (stderr, "sweep_driver: unknown argument '%s'\n", argv [i]);
            return 2;
        }
        i++;
    }
    bool mlp = strcmp (fn, "mlp") == 0;
    if (mlp) {
        wb_error_t err;
        if (!data || !s_target || !wb_blas (&err)
        ||  !(s_frame = wb_frame_read_csv (data, &err))) {
            fprintf (stderr, "sweep_driver: --fn mlp needs --data CSV --target COLUMN and OpenBLAS\n");
            return 1;
        }
    }
    if (eval) {
        char line [4096];
        while (fgets (line, sizeof line, stdin)) {
            json_t *params = json_loads (line, 0, NULL);
            if (!params)
                return 1;
            printf ("{\"value\": %.17g}\n", s_mlp (params, NULL));
            fflush (stdout);
            json_decref (params);
        }
        return 0;
    }
    if (replay) {
        wb_error_t err;
        wb_space_t *space = wb_space_parse (s_replay_space, &err);
        wb_sampler_t *sampler = wb_sampler_new (&space, "random", seed, false, &err);
        json_t *curves = json_array ();
        for (int t = 0; t < trials; t++) {
            json_t *params = wb_sampler_next (sampler, NULL, &err);
            json_t *curve = json_array ();
            s_mlp (params, curve);
            json_array_append_new (curves, curve);
            json_decref (params);
        }
        for (int i = first_policy - 1; i < argc; i++) {
            if (i >= first_policy && strncmp (argv [i], "--", 2) == 0)
                break;
            json_t *out = s_replay (curves, parallel, i < first_policy? NULL: argv [i]);
            json_object_set_new (out, "trials", json_integer (trials));
            char *text = json_dumps (out, JSON_COMPACT);
            puts (text);
            free (text);
            json_decref (out);
        }
        json_decref (curves);
        wb_sampler_destroy (&sampler);
        return 0;
    }
    bool branin = strcmp (fn, "branin") == 0;
    const char *text = mlp? s_mlp_space: branin
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
            double value = mlp? s_mlp (params, NULL): branin? s_branin (params): s_hartmann6 (params);
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
