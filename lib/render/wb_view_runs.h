/*  wb_view_runs - the views of the workspace and its runs: the workspace
    summary (%workspace), the experiments (%experiment), the table of runs
    (%runs), a run's live card (%run, %log), its fields, params, tags,
    artifacts, lineage and metric charts (%show, %artifacts), and runs
    side by side (%compare)
*/
#ifndef WB_VIEW_RUNS_H
#define WB_VIEW_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "base/wb_error.h"
#include "store/wb_store.h"

//  The workspace at path (summary: wb_store_summary), experiment the
//  session's current one. A new bundle.
json_t *
    wb_view_workspace (json_t *summary, const char *path, const char *experiment);
//  The experiments (wb_store_experiments), current the session's. A new
//  bundle.
json_t *
    wb_view_experiments (json_t *experiments, const char *current);
//  The runs (wb_store_runs) with their most common params and metrics;
//  with_experiment adds the experiment's column, more says that there are
//  more runs than these. A new bundle.
json_t *
    wb_view_runs (json_t *runs, bool with_experiment, bool more);

//  The live card of run id (its record, wb_store_run_get; NULL: an empty
//  bundle): its latest metrics. A new bundle.
json_t *
    wb_view_run_card (json_t *run, const char *id);
//  The fields of run id, the ones it has. A new bundle.
json_t *
    wb_view_run (json_t *run, const char *id);
//  An object of strings (params, tags) as a table captioned caption;
//  NULL when it is empty.
json_t *
    wb_view_key_values (const char *caption, json_t *object);
//  A run's artifacts: path, size, the start of the content hash. A new
//  bundle.
json_t *
    wb_view_artifacts (const char *caption, json_t *artifacts);
//  A run's lineage; NULL when it has none.
json_t *
    wb_view_lineage (json_t *lineage);
//  A chart of metric key's history in each run of ids (overlaid, one
//  series labelled by labels' string at the same index), read from
//  store; a log y axis with log_y. A new bundle, or NULL with err.
json_t *
    wb_view_metric_chart (wb_store_t *store, json_t *ids, json_t *labels, const char *key,
                          bool log_y, wb_error_t *err);
//  Runs side by side (their records, labelled by labels): each param and
//  metric, with what differs marked. A new bundle.
json_t *
    wb_view_compare (json_t *runs, json_t *labels);

void
    wb_view_runs_test (bool verbose);

#endif
