/*  fuzz_scorer - the scoring request reader of the endpoint server, both
    the fast path for the common JSON bodies and the full reader behind it
    (lib/serve/wb_scorer.c)

    Input: one byte of settings, then the request body (exactly its bytes,
    not NUL-terminated, as the server hands it over):
      byte % 5        the model: tests/fuzz/models/ mlp (iris, 3 classes),
                      linear (regression, a categorical feature), kmeans,
                      logistic (5 classes), binary (sigmoid)
      byte / 5 % 4    Content-Type: none, application/json, text/csv,
                      text/plain (refused)
      byte / 20 % 2   ?probabilities=true
    A body that is scored must give one prediction a row and an answer
    that is JSON; a refused one a status and a code.
*/
#include "fuzz.h"
#include "serve/wb_scorer.h"

static const char *s_names [] = { "mlp", "linear", "kmeans", "logistic", "binary" };
static wb_scorer_t *s_scorers [5];
static const char *s_types [] = {
    NULL, "application/json; charset=utf-8", "text/csv", "text/plain"
};

static char *
s_read (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "fuzz: cannot open %s: run from the top of the tree\n", path);
        abort ();
    }
    wb_buf_t *buf = wb_buf_new ();
    char chunk [4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof (chunk), file)) > 0)
        wb_buf_append (buf, chunk, got);
    fclose (file);
    *size_p = wb_buf_size (buf);
    char *data = wb_malloc (*size_p + 1);
    memcpy (data, wb_buf_data (buf), *size_p + 1);
    wb_buf_destroy (&buf);
    return data;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc; (void) argv;
    for (int i = 0; i < 5; i++) {
        char *path = wb_sprintf ("tests/fuzz/models/%s.json", s_names [i]);
        size_t size;
        char *data = s_read (path, &size);
        wb_error_t err;
        s_scorers [i] = wb_scorer_new (data, size, &err);
        if (!s_scorers [i]) {
            fprintf (stderr, "fuzz_scorer: %s: %s\n", path, err.text);
            abort ();
        }
        free (data);
        free (path);
    }
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    wb_scorer_t *scorer = s_scorers [data [0] % 5];
    const char *type = s_types [data [0] / 5 % 4];
    bool probabilities = data [0] / 20 % 2;
    size--;
    char *body = wb_malloc (size? size: 1);
    memcpy (body, data + 1, size);
    wb_buf_t *answer = wb_buf_new ();
    wb_scorer_fault_t fault;
    int rows = wb_scorer_score (scorer, type, body, size, probabilities, answer, &fault);
    if (rows >= 0) {
        json_error_t error;
        json_t *doc = json_loadb (wb_buf_data (answer), wb_buf_size (answer), 0, &error);
        if (!doc) {
            fprintf (stderr, "fuzz_scorer: the answer is not JSON (%s): %.300s\n",
                     error.text, wb_buf_data (answer));
            abort ();
        }
        assert (json_array_size (json_object_get (doc, "predictions")) == (size_t) rows);
        json_decref (doc);
    }
    else {
        assert (wb_buf_size (answer) == 0);
        assert ((fault.status == 400 || fault.status == 415) && fault.code && *fault.message);
    }
    wb_buf_destroy (&answer);
    free (body);
    return 0;
}
