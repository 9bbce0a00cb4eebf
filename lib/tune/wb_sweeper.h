/*  wb_sweeper - runs hyperparameter sweeps: a sweep is a run of kind
    "sweep" whose trials are child runs of kind "trial", sampled from a
    search space (wb_sweep), run as jobs on a compute target, stopped early
    by a policy, and driven by a controller process of its own
    (`workbench sweep-run WORKSPACE SWEEP`, logging to sweeps/SWEEP.log in
    the workspace) so that a sweep outlives the kernel, like a job.

    The sweep's spec is its artifact sweep.json:
      {"space": TEXT, "metric": NAME, "goal": "max"|"min",
       "sampler": "grid"|"random"|"sobol"|"bayesian", "seed": N,
       "trials": N, "parallel": N, "timeout": SECONDS, "trial_timeout": SECONDS,
       "policy": "bandit(...)" | null, "experiment": NAME, "env": {...},
       "trial": {"kind": "train", "data": "NAME:VERSION", "target": COLUMN|null,
                 "model": KIND, "validation": FRACTION (<0 = default),
                 "seed": N, "params": {...}, "body": TEMPLATE}
              | {"kind": "job", "script": TEMPLATE, "params": {...},
                 "compute": TARGET|null, "code": DIR|null}}
    Templates take ${{params.NAME}}. For a training trial, the sampled
    params that the body does not name are hyperparameters of their own.

    Trial N is named SWEEP-tN and tagged sweep.trial=N and sweep.params
    (the sampled params as JSON). Its value is the latest value of the
    metric it logged; a trial that ends without logging the metric is
    tagged sweep.note saying so, and counts for nothing. A trial stopped by
    the policy is canceled with the reason in its tag sweep.stop_reason.
    The sweep logs best_METRIC (the best value so far, one step per
    finished trial) and, at the end, tags sweep.best_trial and logs METRIC
    with the best value.
*/
#ifndef WB_SWEEPER_H
#define WB_SWEEPER_H

#include <stdbool.h>
#include <jansson.h>
#include "store/wb_store.h"
#include "base/wb_error.h"

//  Check a spec (space, sampler, policy, limits, and the first sampled
//  trial as the controller would make it). 0 or -1 with err saying what
//  is wrong; nothing is stored.
int
    wb_sweeper_check (wb_store_t *store, json_t *spec, wb_error_t *err);

//  Create the sweep run (name may be NULL) with spec as its artifact and
//  params, and start its controller. Writes the sweep id to id. 0 or -1.
int
    wb_sweeper_submit (wb_store_t *store, json_t *spec, const char *name,
                       const char *command, char *id, wb_error_t *err);

//  Start the controller of a sweep that stopped (failed with its
//  controller, canceled, or after a timeout) so it continues with the
//  trials it has. *running (may be NULL) is set when it was running
//  already (nothing is done then). 0 or -1.
int
    wb_sweeper_resume (wb_store_t *store, const char *id, bool *running,
                       wb_error_t *err);

//  Cancel a sweep and its unfinished trials. 0 or -1.
int
    wb_sweeper_cancel (wb_store_t *store, const char *id, wb_error_t *err);

//  A sweep as it stands (caller owns): {"sweep": run record, "spec": spec,
//  "trials": [{"id", "name", "number", "status", "params", "value" (number
//  or null), "step", "note", "stop_reason", "error", "started", "ended"}]
//  ordered by number, "best": index into trials or null, "counts":
//  {completed, running, queued, stopped, failed, canceled, no_metric}}.
json_t *
    wb_sweeper_state (wb_store_t *store, const char *id, wb_error_t *err);

//  Is json run record r (from wb_store_run_get) a sweep?
bool
    wb_sweeper_is_sweep (json_t *run);

//  The controller: run sweep id of the workspace at path to its end.
//  Returns the process exit code.
int
    wb_sweeper_run (const char *path, const char *id);

void
    wb_sweeper_test (bool verbose);

#endif
