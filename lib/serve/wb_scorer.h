/*  wb_scorer - scores rows with a model file, for the scoring server

    A scorer is compiled once from a model file (lib/train/wb_model.h describes
    it) into flat arrays and then scores requests on any number of threads
    at once (it is read-only after wb_scorer_new): it reads a request body
    in any of the accepted shapes, encodes the rows as the model's
    preprocessing says, runs the layers (or finds the nearest k-means
    centre) with plain loops, which for one row is faster than a BLAS call
    and needs no OpenBLAS in the server, and writes the answer.

    Bodies (application/json unless said):
      {"input_data": {"columns": [...], "data": [[...], ...]}}
      {"input_data": [[...], ...]}            rows in the model's column order
      {"data": [[...], ...]}
      {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
      {"dataframe_records": [{"col": value, ...}, ...]}
      {"instances": [[...] or {...}, ...]}
      {"inputs": [[...] or {...}, ...]} or {"inputs": {"col": [values], ...}}
      text/csv with a header line of column names
    A row is an array of the model's columns in order, or an object by
    column name (the target column may be there; it is ignored). Numeric
    columns take JSON numbers; categorical ones text or numbers (a category
    not seen in training encodes as all zeros, as in %predict).
    "params": {"probabilities": true} (or ?probabilities=true) asks for
    class probabilities.

    Answer: {"predictions": [...]} (values, class labels, or clusters),
    with "probabilities": [[...]] and "classes": [...] on request.

    A bad body gets a fault: the HTTP status (400, 415), a code
    ("bad_json", "bad_shape", "feature_count", "unknown_column",
    "missing_column", "not_numeric", "missing_value", "content_type") and
    a message that says what was wrong; wb_scorer_expects tells what the
    model takes, for the error body.
*/
#ifndef WB_SCORER_H
#define WB_SCORER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "base/wb_error.h"
#include "base/wb_util.h"
#include "data/wb_frame.h"

typedef struct _wb_scorer_t wb_scorer_t;

//  Why a request was refused.
typedef struct {
    int status;                 //  HTTP status: 400, 415
    const char *code;           //  short machine-readable reason
    char message [512];         //  what was wrong, for a person
} wb_scorer_fault_t;

//  A scorer from a model file; NULL with err when it is not one.
wb_scorer_t *
    wb_scorer_new (const char *data, size_t size, wb_error_t *err);
void
    wb_scorer_destroy (wb_scorer_t **self_p);
//  Score a request body: appends the answer (JSON) to answer and returns
//  the number of rows scored (>= 0); -1 with fault filled when the body is
//  refused (nothing appended). content_type may be NULL (JSON);
//  probabilities asks for class probabilities whatever the body says.
int
    wb_scorer_score (wb_scorer_t *self, const char *content_type, const char *body,
                     size_t size, bool probabilities, wb_buf_t *answer,
                     wb_scorer_fault_t *fault);
//  Score every row of frame with the same loops (for %predict, which so
//  needs no OpenBLAS in the kernel): frame needs the model's columns
//  (others, the target among them, are ignored), read as training reads
//  them. *values_p gets one number a row: the value (regression), the
//  class index (classification: see wb_scorer_expects's "classes") or
//  the cluster; *proba_p (may be NULL) rows x classes probabilities for a
//  classifier, else NULL; *distances_p (may be NULL) each row's squared
//  distance to its cluster's centre (clustering), else NULL. Caller frees
//  them. 0, or -1 with err (a missing column, a missing or non-numeric
//  value in a numeric feature).
int
    wb_scorer_frame (wb_scorer_t *self, wb_frame_t *frame, double **values_p,
                     double **proba_p, double **distances_p, wb_error_t *err);
//  What the model takes, for error bodies and OpenAPI: {"columns": [{name,
//  type, categories?}], "task", "kind", "target", "classes"} (lent).
json_t *
    wb_scorer_expects (wb_scorer_t *self);

void
    wb_scorer_test (bool verbose);

#endif
