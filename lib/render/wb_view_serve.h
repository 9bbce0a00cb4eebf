/*  wb_view_serve - the views of the model registry and of endpoints: a
    model's card and metrics, the models and a model's versions, the
    history of its aliases (%model); an endpoint's summary and
    deployments, the endpoints, the request log and the request rate and
    latency charts (%deploy, %endpoint, %show ENDPOINT)
*/
#ifndef WB_VIEW_SERVE_H
#define WB_VIEW_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

//  A model version (as wb_registry_model_get gives it) as a table of
//  fields "Model NAME:VERSION". A new bundle.
json_t *
    wb_view_model (json_t *model);
//  Its metrics as a table "Metrics"; NULL when it has none.
json_t *
    wb_view_model_metrics (json_t *model);
//  The models (wb_registry_models): one row each. A new bundle.
json_t *
    wb_view_models (json_t *models);
//  The versions of model name (wb_registry_model_versions). A new bundle.
json_t *
    wb_view_model_versions (const char *name, json_t *versions);
//  The history of a model's aliases (wb_registry_alias_history); NULL
//  when it has none.
json_t *
    wb_view_alias_history (json_t *history);

//  An endpoint (wb_registry_endpoint_get, with "alive": whether its
//  server runs, which the caller knows) as a table of fields. A new bundle.
json_t *
    wb_view_endpoint (json_t *endpoint);
//  The same endpoint's deployments. A new bundle.
json_t *
    wb_view_deployments (json_t *endpoint);
//  The endpoints (wb_registry_endpoints, each with "alive"). A new bundle.
json_t *
    wb_view_endpoints (json_t *endpoints);
//  The request log of endpoint name (wb_registry_requests). A new bundle.
json_t *
    wb_view_requests (const char *name, json_t *log);
//  The requests per second and their latency (p50, p99), one series per
//  deployment, from stats (wb_registry_request_stats, not empty) into two
//  new bundles; total and errors get the requests and the refused ones.
void
    wb_view_request_charts (json_t *stats, json_t **rate_p, json_t **latency_p,
                            double *total, double *errors);

void
    wb_view_serve_test (bool verbose);

#endif
