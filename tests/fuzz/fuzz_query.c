/*  fuzz_query - the run filter and sort language of %runs --filter and
    --sort (lib/store/wb_query.c)

    Input: the filter, then a newline and the sort (either may be empty).
    Compiled by wb_query_new; whenever it compiles, the workspace must run
    it: wb_store_runs with the same filter and sort over a scratch
    workspace with a few runs (params, tags, metrics, names with quotes)
    must return a list, not an SQL error. A refused one must say so.
*/
#include "fuzz.h"
#include "store/wb_query.h"
#include "store/wb_store.h"

static wb_store_t *s_store;

static void
s_add_run (const char *experiment, const char *name, const char *status,
           const char *params, const char *tags, double acc)
{
    wb_run_spec_t spec = { experiment, name, "interactive", status, NULL, NULL, NULL, 0 };
    char id [16];
    wb_error_t err;
    if (wb_store_run_create (s_store, &spec, id, &err)) {
        fprintf (stderr, "fuzz_query: %s\n", err.text);
        abort ();
    }
    json_t *values = json_loads (params, 0, NULL);
    assert (values && wb_store_params (s_store, id, values, &err) == 0);
    json_decref (values);
    values = json_loads (tags, 0, NULL);
    assert (values && wb_store_tags (s_store, id, values, &err) == 0);
    json_decref (values);
    wb_metric_t points [] = {
        { "acc", 0, acc / 2, 0 }, { "acc", 1, acc, 0 }, { "val loss", 1, 1 - acc, 0 },
        { "val/loss", 2, 0.25, 0 }
    };
    assert (wb_store_log (s_store, id, points, 4, &err) == 0);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc; (void) argv;
    char *path = wb_sprintf ("%s/.workbench", s_fuzz_scratch ());
    wb_error_t err;
    s_store = wb_store_open (path, true, &err);
    if (!s_store) {
        fprintf (stderr, "fuzz_query: %s\n", err.text);
        abort ();
    }
    free (path);
    s_add_run ("mnist", "brave-heron-12", "completed",
               "{\"optimizer\": \"adam\", \"lr\": \"0.01\"}", "{\"note\": \"first\"}", 0.91);
    s_add_run ("cifar", "it's \"quoted\"", "failed",
               "{\"optimizer\": \"sgd\", \"lr\": \"1e-3\"}", "{\"note\": \"skip me\"}", 0.42);
    s_add_run (NULL, NULL, "running", "{\"layers\": \"3\"}", "{}", 0.77);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *filter = s_fuzz_text (data, size);
    char *sort = s_fuzz_split (filter, "\n");
    wb_error_t err;
    wb_query_t *query = wb_query_new (filter, sort, &err);
    if (!query) {
        assert (strncmp (err.text, "filter", 6) == 0 || strncmp (err.text, "sort", 4) == 0);
        free (filter);
        return 0;
    }
    assert (wb_query_where (query) && wb_query_order (query));
    wb_query_destroy (&query);
    json_t *runs = wb_store_runs (s_store, NULL, filter, sort, 0, &err);
    if (!runs) {
        fprintf (stderr, "fuzz_query: compiled, but the workspace failed to run it: %s\n",
                 err.text);
        abort ();
    }
    assert (json_array_size (runs) <= 3);
    json_decref (runs);
    free (filter);
    return 0;
}
