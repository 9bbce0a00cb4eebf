/*  wb_view_jobs - the views of jobs: the job card (header, progress bar,
    metrics with small charts, the tail of the log) drawn live by %%job,
    %%train and %job wait, and the table of jobs of %job list
*/
#ifndef WB_VIEW_JOBS_H
#define WB_VIEW_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/wb_store.h"

//  The card of job id: run is its record (wb_store_run_get), log its log
//  so far (size bytes, may be empty), note a word on what is happening
//  ("canceling", "still running") or NULL. The metric charts read their
//  histories from store. A new bundle {"text/plain", "text/html"}.
json_t *
    wb_view_job (wb_store_t *store, const char *id, json_t *run,
                 const char *log, size_t size, const char *note);

//  The table of jobs: runs as wb_store_runs lists them. A new bundle.
json_t *
    wb_view_job_list (json_t *runs);

//  The table of compute targets: each {"name", "kind", "max_jobs",
//  "running", "queued"} (max_jobs as the queue counts it). A new bundle.
json_t *
    wb_view_computes (json_t *targets);

void
    wb_view_jobs_test (bool verbose);

#endif
