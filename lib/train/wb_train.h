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
#include "base/wb_error.h"
#include "store/wb_store.h"

//  Validation fraction when none is given (k-means: none).
#define WB_TRAIN_VALIDATION 0.2

//  Run spec as run id of the workspace at path; outputs is the folder
//  whose files become artifacts. Returns the process exit code: 0 when
//  training ran (also when stopped), 1 after printing the error on stderr.
int
    wb_train_run (const char *path, const char *id, json_t *spec, const char *outputs);

//  Hyperparameters from a %%train body: `name = value` lines, # comments,
//  blank lines ignored; a new object of strings, or NULL (err names the
//  line) on a line that is not `name = value`.
json_t *
    wb_train_body_params (const char *body, wb_error_t *err);

//  A training job to submit (checked already: wb_model_check).
typedef struct {
    const char *experiment;     //  NULL = Default
    const char *name;           //  run name, NULL = generated
    const char *kind;           //  run kind: "train", or "trial" in a sweep
    const char *parent;         //  parent run (the sweep), or NULL
    const char *data;           //  NAME:VERSION, resolved
    const char *target;         //  column to predict, NULL for kmeans
    const char *model;          //  model kind
    json_t *params;             //  hyperparameters, {name: text}
    double validation;          //  fraction held out, < 0 = the default
    long seed;                  //  split and initialisation seed
    json_t *env;                //  the job's environment (may be NULL)
    double timeout;             //  seconds, 0 = none
} wb_train_job_t;

//  Submit a training job: the run's params are the hyperparameters plus
//  model, data, target, seed and validation; the job runs `workbench
//  train-run`. Writes the run id to id. 0 or -1.
int
    wb_train_submit (wb_store_t *store, const wb_train_job_t *job, char *id,
                     wb_error_t *err);

#endif
