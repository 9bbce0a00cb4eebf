/*  fuzz_model - the model file reader (lib/train/wb_model.c), through the two
    programs that read model files: %predict (wb_model_load, then predict
    a row) and the endpoint server (wb_scorer_new, then score a row)

    Input: a model file. When the loader takes it: what it saves must load
    again and save to the same bytes, and a row built from its features
    (numbers 0.5, each category's first entry) must predict. When the
    scorer takes it, the same row as {"instances": [{...}]} must score.
*/
#include "fuzz.h"
#include "train/wb_model.h"
#include "serve/wb_scorer.h"

//  One row as CSV (header and values) and as a JSON object, from the
//  feature schema [{"name", "type", "categories"?}]
static void
s_row (json_t *schema, wb_buf_t *csv, json_t *object)
{
    wb_buf_t *values = wb_buf_new ();
    size_t index;
    json_t *feature;
    json_array_foreach (schema, index, feature) {
        const char *name = json_string_value (json_object_get (feature, "name"));
        json_t *categories = json_object_get (feature, "categories");
        const char *value = json_is_array (categories)
            ? json_string_value (json_array_get (categories, 0)): NULL;
        //  Quote the CSV fields, doubling quotes
        wb_buf_puts (csv, index? ",\"": "\"");
        for (const char *c = name; *c; c++)
            wb_buf_puts (csv, *c == '"'? "\"\"": (char [2]) { *c, 0 });
        wb_buf_puts (csv, "\"");
        wb_buf_puts (values, index? ",\"": "\"");
        for (const char *c = value? value: "0.5"; *c; c++)
            wb_buf_puts (values, *c == '"'? "\"\"": (char [2]) { *c, 0 });
        wb_buf_puts (values, "\"");
        json_object_set_new (object, name, value? json_string (value): json_real (0.5));
    }
    wb_buf_puts (csv, "\n");
    wb_buf_append (csv, wb_buf_data (values), wb_buf_size (values));
    wb_buf_puts (csv, "\n");
    wb_buf_destroy (&values);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc; (void) argv;
    //  Prediction loads OpenBLAS: one thread is enough for one row
    setenv ("OPENBLAS_NUM_THREADS", "1", 1);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *bytes = wb_malloc (size? size: 1);
    memcpy (bytes, data, size);
    wb_error_t err;
    wb_model_t *model = wb_model_load (bytes, size, &err);
    if (model) {
        size_t saved_size;
        char *saved = wb_model_save (model, &saved_size);
        wb_model_t *again = wb_model_load (saved, saved_size, &err);
        if (!again) {
            fprintf (stderr, "fuzz_model: a saved model does not load: %s\n", err.text);
            abort ();
        }
        size_t resaved_size;
        char *resaved = wb_model_save (again, &resaved_size);
        assert (resaved_size == saved_size && memcmp (saved, resaved, saved_size) == 0);
        free (resaved);
        wb_model_destroy (&again);
        free (saved);

        json_t *schema = wb_model_schema (model);
        wb_buf_t *csv = wb_buf_new ();
        json_t *row = json_object ();
        s_row (schema, csv, row);
        json_decref (row);
        json_decref (schema);
        wb_frame_t *frame = wb_frame_parse_csv (wb_buf_data (csv), wb_buf_size (csv),
                                                "row", &err);
        //  The frame may refuse the names (two alike once quoted, say)
        if (frame) {
            double *values = NULL, *proba = NULL;
            if (wb_model_predict (model, frame, &values, &proba, &err) == 0) {
                size_t classes = wb_model_classes (model);
                if (classes)
                    assert (values [0] >= 0 && values [0] < (double) classes);
            }
            free (values);
            free (proba);
            wb_frame_destroy (&frame);
        }
        wb_buf_destroy (&csv);
        wb_model_destroy (&model);
    }
    else
        assert (strncmp (err.text, "model file", 10) == 0);

    wb_scorer_t *scorer = wb_scorer_new (bytes, size, &err);
    if (scorer) {
        json_t *columns = json_object_get (wb_scorer_expects (scorer), "columns");
        json_t *row = json_object ();
        wb_buf_t *csv = wb_buf_new ();
        s_row (columns, csv, row);
        json_t *request = json_pack ("{s:[o]}", "instances", row);
        char *body = json_dumps (request, JSON_COMPACT);
        json_decref (request);
        wb_buf_t *answer = wb_buf_new ();
        wb_scorer_fault_t fault;
        int rows = wb_scorer_score (scorer, NULL, body, strlen (body), true, answer, &fault);
        if (rows >= 0) {
            json_t *doc = json_loadb (wb_buf_data (answer), wb_buf_size (answer), 0, NULL);
            if (!doc) {
                fprintf (stderr, "fuzz_model: the answer is not JSON: %.300s\n",
                         wb_buf_data (answer));
                abort ();
            }
            json_decref (doc);
        }
        free (body);
        wb_buf_destroy (&answer);
        wb_buf_destroy (&csv);
        wb_scorer_destroy (&scorer);
    }
    free (bytes);
    return 0;
}
