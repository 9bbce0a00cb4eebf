/*  wb_view_train - the views of trained models: predictions, metrics and
    the confusion matrix, from plain numbers (the model is not needed)
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_view_train.h"
#include "wb_render.h"
#include "base/wb_util.h"

json_t *
wb_view_predictions (const wb_view_scores_t *scores, const char *caption, size_t rows)
{
    assert (scores && scores->frame);
    wb_frame_t *frame = scores->frame;
    bool classify = streq (scores->task, "classification");
    int truth = scores->target? wb_frame_find (frame, scores->target): -1;
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "row", WB_ALIGN_RIGHT);
    if (truth >= 0)
        wb_table_column (table, scores->target, WB_ALIGN_LEFT);
    wb_table_column (table, streq (scores->task, "clustering")? "cluster": "prediction", WB_ALIGN_LEFT);
    if (scores->proba)
        wb_table_column (table, "probability", WB_ALIGN_RIGHT);
    size_t classes = scores->nclasses;
    const double *values = scores->values;
    for (size_t row = 0; row < wb_frame_rows (frame) && row < rows; row++) {
        wb_table_row (table);
        wb_table_number (table, (double) row);
        if (truth >= 0)
            wb_table_cell (table, wb_frame_text (frame, (size_t) truth, row));
        if (classify)
            wb_table_cell (table, scores->classes [(size_t) values [row]]);
        else
            wb_table_number (table, values [row]);
        if (scores->proba)
            wb_table_number (table, scores->proba [row * classes + (size_t) values [row]]);
    }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

json_t *
wb_view_metrics (json_t *metrics)
{
    wb_table_t *table = wb_table_new ("Metrics");
    wb_table_column (table, "metric", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_RIGHT);
    const char *key;
    json_t *value;
    json_object_foreach (metrics, key, value)
        if (json_is_number (value)) {
            wb_table_row (table);
            wb_table_cell (table, key);
            wb_table_number (table, json_number_value (value));
        }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

json_t *
wb_view_confusion (json_t *confusion, const char *title)
{
    json_t *labels = json_object_get (confusion, "labels");
    json_t *matrix = json_object_get (confusion, "matrix");
    size_t n = json_array_size (labels);
    if (!n || json_array_size (matrix) != n)
        return NULL;
    const char **names = wb_calloc (n, sizeof (char *));
    double *cells = wb_calloc (n * n, sizeof (double));
    for (size_t i = 0; i < n; i++) {
        names [i] = json_string_value (json_array_get (labels, i));
        if (!names [i])
            names [i] = "?";
        for (size_t j = 0; j < n; j++)
            cells [i * n + j] = json_number_value (json_array_get (json_array_get (matrix, i), j));
    }
    json_t *bundle = wb_heatmap_bundle (title, "true", "predicted", names, names, cells, n, n);
    free (names);
    free (cells);
    return bundle;
}

//  @selftest
static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

void
wb_view_train_test (bool verbose)
{
    wb_error_t err;
    const char *csv = "x,kind\n1,<a>\n2,b\n3,b\n";
    wb_frame_t *frame = wb_frame_parse_csv (csv, strlen (csv), "test", &err);
    assert (frame);
    const char *classes [] = { "<a>", "b" };
    const double values [] = { 0, 1, 0 };
    const double proba [] = { 0.75, 0.25, 0.125, 0.875, 0.5, 0.5 };
    wb_view_scores_t scores = { frame, "kind", "classification", values, proba, classes, 2 };
    json_t *bundle = wb_view_predictions (&scores, "Predictions <of> kind", 2);
    const char *plain = s_test_str (bundle, "text/plain");
    const char *html = s_test_str (bundle, "text/html");
    assert (strstr (plain, "Predictions <of> kind") && strstr (html, "Predictions &lt;of&gt; kind"));
    assert (strstr (plain, "row") && strstr (plain, "kind") && strstr (plain, "probability"));
    assert (strstr (plain, "0.75") && strstr (plain, "0.875") && !strstr (plain, "0.5"));
    assert (!strstr (html, "<a>") && strstr (html, "&lt;a&gt;"));
    if (verbose)
        printf ("\n%s", plain);
    json_decref (bundle);

    //  A regressor on a table without the truth: numbers, no probability
    const double numbers [] = { 1.5, 2.5, 3.5 };
    wb_view_scores_t regression = { frame, NULL, "regression", numbers, NULL, NULL, 0 };
    bundle = wb_view_predictions (&regression, NULL, 10);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "prediction") && strstr (plain, "3.5") && !strstr (plain, "kind"));
    json_decref (bundle);
    wb_view_scores_t clusters = { frame, NULL, "clustering", values, NULL, NULL, 0 };
    bundle = wb_view_predictions (&clusters, NULL, 10);
    assert (strstr (s_test_str (bundle, "text/plain"), "cluster"));
    json_decref (bundle);

    //  Metrics: the numbers only; the confusion matrix as a heatmap
    json_t *metrics = json_pack ("{s:i, s:f, s:[i], s:{s:[s, s], s:[[i, i], [i, i]]}}",
        "rows", 3, "accuracy", 0.5, "sizes", 3, "confusion_matrix",
        "labels", "<a>", "b", "matrix", 1, 1, 0, 1);
    bundle = wb_view_metrics (metrics);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Metrics") && strstr (plain, "accuracy") && strstr (plain, "0.5"));
    assert (!strstr (plain, "sizes") && !strstr (plain, "confusion"));
    json_decref (bundle);
    bundle = wb_view_confusion (json_object_get (metrics, "confusion_matrix"), "Confusion <matrix>");
    assert (bundle && json_object_get (bundle, "image/svg+xml")
            && json_object_get (bundle, "application/vnd.vegalite.v5+json"));
    assert (!strstr (s_test_str (bundle, "image/svg+xml"), "<a>"));
    json_decref (bundle);
    assert (wb_view_confusion (NULL, "none") == NULL);
    json_t *ragged = json_pack ("{s:[s], s:[]}", "labels", "a", "matrix");
    assert (wb_view_confusion (ragged, "ragged") == NULL);
    json_decref (ragged);
    json_decref (metrics);
    wb_frame_destroy (&frame);
}
//  @end
