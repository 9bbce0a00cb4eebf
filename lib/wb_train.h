/*  wb_train - a training run, inside its job process: read the dataset
    version (recording lineage), split it, train through wb_model while
    logging each step's metrics, evaluate, and keep the model and its
    confusion matrix as outputs

    The spec (JSON): {"data": "NAME:VERSION", "target": COLUMN or null,
    "model": KIND, "params": {...}, "validation": FRACTION, "seed": N}.
    SIGTERM (a cancel) stops training at the next batch; what was learnt
    and logged so far is kept.
*/
#ifndef WB_TRAIN_H
#define WB_TRAIN_H

#include <stdbool.h>
#include <jansson.h>
#include "wb_error.h"

//  Validation fraction when none is given (k-means: none).
#define WB_TRAIN_VALIDATION 0.2

//  Run spec as run id of the workspace at path; outputs is the folder
//  whose files become artifacts. Returns the process exit code: 0 when
//  training ran (also when stopped), 1 after printing the error on stderr.
int
    wb_train_run (const char *path, const char *id, json_t *spec, const char *outputs);

#endif
