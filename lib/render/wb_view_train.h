/*  wb_view_train - the views of trained models: the predictions of a
    model for a table (%predict), its metrics, and a classifier's
    confusion matrix as a heatmap (%predict, the end of a %%train job)
*/
#ifndef WB_VIEW_TRAIN_H
#define WB_VIEW_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "data/wb_frame.h"

//  What a model predicted for the rows of a table.
typedef struct {
    wb_frame_t *frame;          //  the rows scored
    const char *target;         //  the truth's column in frame, NULL when it has none
    const char *task;           //  "regression", "classification" or "clustering"
    const double *values;       //  one a row: the value, the class index or the cluster
    const double *proba;        //  rows x nclasses probabilities, or NULL
    const char *const *classes; //  the class labels (classification)
    size_t nclasses;            //  how many
} wb_view_scores_t;

//  The first rows (at most rows) of what was predicted, with the truth
//  when the table has it, as a table captioned caption. A new bundle.
json_t *
    wb_view_predictions (const wb_view_scores_t *scores, const char *caption, size_t rows);
//  The numbers of metrics (as wb_model_evaluate gives them) as a table
//  "Metrics". A new bundle.
json_t *
    wb_view_metrics (json_t *metrics);
//  A confusion matrix ({"labels", "matrix": rows true, columns predicted})
//  as a heatmap bundle, or NULL when it is not one.
json_t *
    wb_view_confusion (json_t *confusion, const char *title);

void
    wb_view_train_test (bool verbose);

#endif
