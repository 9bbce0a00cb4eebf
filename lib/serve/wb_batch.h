/*  wb_batch - batch scoring: a registered model version of any flavor
    scores a dataset version, as a tracked job (kind batch)

    The job (`workbench batch-run`, started on a compute target like any
    job) splits the dataset into mini-batches of rows and scores them in
    parallel: built-in models (flavor workbench) with the C scorer on as
    many threads, a user's own model with a pool of as many Python workers
    (lib/serve/wb_pool.h), one mini-batch a call. A mini-batch that fails
    (the scorer raised, a worker crashed) is counted and its rows get no
    prediction; when more fail than the error threshold allows (Azure ML's
    parallel job semantics: -1 ignores every failure, N fails the job at
    the N+1th) the job stops and fails, saying why. The run logs progress,
    rows_scored and failed_batches as it goes (the job card draws them), and
    keeps outputs/predictions.csv: the input rows, a prediction column and
    one probability_CLASS column per class when the model has them (as
    %predict writes it). With an output name the file is also registered as
    a new version of that dataset, and the run's lineage names the model
    version and the input dataset version it came from. A cancel (SIGTERM)
    stops at the next mini-batch; the workers stop with it.
*/
#ifndef WB_BATCH_H
#define WB_BATCH_H

#include <stdbool.h>
#include <jansson.h>
#include "store/wb_store.h"
#include "base/wb_error.h"

#define WB_BATCH_MINI_BATCH  1000   //  rows a mini-batch holds unless told

//  A batch job to submit (its model and dataset resolved and checked)
typedef struct {
    const char *experiment;     //  NULL = Default
    const char *name;           //  run name, NULL = generated
    const char *target;         //  compute target, NULL = local
    const char *model;          //  NAME:VERSION
    const char *data;           //  NAME:VERSION
    long mini_batch;            //  rows a mini-batch, > 0
    int parallel;               //  threads or workers, > 0
    long error_threshold;       //  mini-batches that may fail; -1 = any
    const char *output;         //  dataset name for the predictions, or NULL
    json_t *env;                //  the job's environment (may be NULL)
} wb_batch_job_t;

//  Submit it: the run's params say what it scores and how; it runs
//  `workbench batch-run`. Writes the run id to id. 0 or -1.
int
    wb_batch_submit (wb_store_t *store, const wb_batch_job_t *job, char *id, wb_error_t *err);

//  The job itself, as run id of the workspace at path, with spec (the
//  fields above as JSON) and outputs (the folder of its artifacts).
//  Returns the exit code: 0 when it scored within the threshold, 1 after
//  printing why not on standard error.
int
    wb_batch_run (const char *path, const char *id, json_t *spec, const char *outputs);

void
    wb_batch_test (bool verbose);

#endif
