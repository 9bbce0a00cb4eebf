/*  wb_view_sweep - the views of a sweep: its card (where it stands, the
    leaderboard, best so far, parallel coordinates) drawn live by %%sweep
    and %sweep show, the best trial and how to register its model, the
    parallel-coordinates chart as an output of its own, and %sweep list
*/
#ifndef WB_VIEW_SWEEP_H
#define WB_VIEW_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/wb_store.h"

//  A sweep's state is what wb_sweeper_state gives: {"sweep": its run
//  record, "spec", "trials": [{"id", "name", "number", "status", "params",
//  "value", "step", "note", "stop_reason", "error", ...}], "best": an
//  index into trials or null, "counts": {completed, running, ...,
//  no_metric}}. axes are the space's parameters that vary, in the order
//  written: [{"name", "log": true when drawn on a log scale}].

//  The card: the header, the leaderboard (best first, at most rows
//  trials), best so far (the sweep's metric best_METRIC, read from store)
//  and, with_parcoords, parameters against the metric. note: "canceling",
//  "still running" or NULL. A new bundle {"text/plain", "text/html"}.
json_t *
    wb_view_sweep (wb_store_t *store, json_t *state, json_t *axes, const char *note,
                   size_t rows, bool with_parcoords);
//  Parameters against the metric as an output of its own (SVG, Vega-Lite
//  and text); NULL when fewer than two trials have a value.
json_t *
    wb_view_sweep_parcoords (json_t *state, json_t *axes);
//  The best trial with its params, and the %model register line for it;
//  NULL when there is no best trial.
json_t *
    wb_view_sweep_best (json_t *state);
//  The table of sweeps: their runs as wb_store_runs lists them.
json_t *
    wb_view_sweep_list (json_t *sweeps);

void
    wb_view_sweep_test (bool verbose);

#endif
