/*  fuzz_sweep - the search-space and early-termination policy parsers of
    %%sweep (lib/tune/wb_sweep.c)

    Input: a search space (the body of a %%sweep cell) that is also tried
    as a policy (the --policy value). A space that parses is sampled by
    every sampler (a grid to its end or 64 points; random and sobol a few;
    bayesian past its 10 random start-up trials, so the TPE fits its
    densities) and every proposal must be a full set of parameters that
    the workspace can store: one per name, each a finite number or text.
    A policy that parses decides on a few learning curves at each step.
*/
#include "fuzz.h"
#include <math.h>
#include "tune/wb_sweep.h"

//  Check a proposal: every parameter present, finite or text
static void
s_check_params (const char *text, json_t *params)
{
    wb_space_t *space = wb_space_parse (text, NULL);
    assert (space);
    assert (json_is_object (params));
    for (size_t i = 0; i < wb_space_size (space); i++) {
        json_t *value = json_object_get (params, wb_space_name (space, i));
        if (!value
        ||  !(json_is_string (value) || (json_is_number (value)
                                         && isfinite (json_number_value (value))))) {
            fprintf (stderr, "fuzz_sweep: parameter '%s' came out as %s\n",
                     wb_space_name (space, i), value? "a non-finite number": "nothing");
            abort ();
        }
    }
    assert (json_object_size (params) == wb_space_size (space));
    wb_space_destroy (&space);
}

static void
s_sample (const char *text, const char *kind, int draws)
{
    wb_error_t err;
    wb_space_t *space = wb_space_parse (text, &err);
    wb_sampler_t *sampler = wb_sampler_new (&space, kind, 7, true, &err);
    assert (space == NULL);
    if (!sampler) {
        assert (*err.text);
        return;
    }
    json_t *history = json_array ();
    for (int i = 0; i < draws; i++) {
        json_t *params = wb_sampler_next (sampler, history, &err);
        if (!params) {
            assert (streq (kind, "grid") && !*err.text);
            break;
        }
        s_check_params (text, params);
        //  A finished trial with a value; every fourth still running
        json_t *trial = json_pack ("{s:o, s:f, s:s}", "params", params,
                                   "value", (double) ((i * 7919) % 23) / 23.0,
                                   "state", i % 4 == 3? "running": "done");
        assert (trial);
        json_array_append_new (history, trial);
    }
    json_decref (history);
    wb_sampler_destroy (&sampler);
}

static void
s_decide (const char *text)
{
    wb_error_t err;
    wb_policy_t *policy = wb_policy_parse (text, &err);
    if (!policy) {
        assert (strncmp (err.text, "policy", 6) == 0);
        return;
    }
    json_t *curves = json_loads ("{\"a\": [[0, 0.1], [1, 0.5], [2, 0.7], [4, 0.9]],"
                                 " \"b\": [[0, 0.2], [1, 0.3], [3, 0.31]],"
                                 " \"c\": [[1, -0.5], [2, 0.0]], \"d\": []}", 0, NULL);
    assert (curves);
    const char *trials [] = { "a", "b", "c", "d", "e" };
    for (int64_t step = 0; step < 6; step++)
        for (int t = 0; t < 5; t++)
            for (int maximize = 0; maximize < 2; maximize++) {
                char *reason = (char *) "unset";
                bool stop = wb_policy_stop (policy, maximize, curves, trials [t], step, &reason);
                assert (stop? reason != NULL: reason == NULL);
                free (reason);
            }
    json_decref (curves);
    wb_policy_destroy (&policy);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = s_fuzz_text (data, size);
    wb_error_t err;
    wb_space_t *space = wb_space_parse (text, &err);
    if (space) {
        wb_space_destroy (&space);
        s_sample (text, "grid", 64);
        s_sample (text, "random", 3);
        s_sample (text, "sobol", 3);
        s_sample (text, "bayesian", 14);
    }
    else
        assert (strncmp (err.text, "space", 5) == 0);
    s_decide (text);
    free (text);
    return 0;
}
