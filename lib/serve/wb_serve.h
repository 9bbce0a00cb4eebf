/*  wb_serve - the scoring server of an endpoint (`workbench serve`), and
    what starts, reloads, stops and calls it

    One process per endpoint, detached from whoever started it (it outlives
    the kernel) and found again through the workspace: the endpoint's row
    holds its pid, the pid's start time and its port. It serves HTTP on
    127.0.0.1 with libmicrohttpd (a thread pool, epoll):

      POST /score           score rows (lib/serve/wb_scorer.h lists the bodies);
                            Authorization: Bearer KEY unless auth is none
                            (one of the endpoint's two keys, which the
                            workspace keeps as hashes, or the owner's key
                            this process wrote to endpoints/EP.key, 0600);
                            X-Deployment: NAME (or azureml-model-deployment)
                            pins a deployment, else one is drawn by the
                            traffic split; ?probabilities=true
      GET  /                liveness
      GET  /health          readiness: 200 when a deployment takes traffic
      GET  /swagger.json    OpenAPI 3 with the model's input columns
      GET  /metrics         Prometheus text: requests, errors, mirrored
                            copies and a latency histogram per deployment;
                            refusals by reason; requests not logged

    Answers carry X-Deployment and X-Model (NAME:VERSION). Refusals are
    JSON {"error": {"code", "message", "expects"}}: 400 (the body: see
    wb_scorer), 401 (no or wrong key), 404, 405, 413 (body over 1 MiB),
    415 (content type).

    Changes reach a running server without dropping a request: the kernel
    writes them to the workspace (the endpoint's generation goes up) and
    sends SIGHUP; the server loads the new deployments beside the old ones
    and swaps them in; requests under way finish on the old ones. It polls
    the generation twice a second too, and reports what it loaded (or why
    it could not) in the endpoint's row. It stops when the endpoint is
    deleted or its workspace folder is removed.

    Every request is logged in the workspace (time, deployment, latency,
    status; the body and answer of every refusal and of one request in a
    hundred) in batches, five times a second; of the requests refused
    before a deployment took them (a wrong key) at most 10 a second, the
    rest only counted. The same writer keeps the log within the endpoint's
    retention (wb_registry). A request must arrive, headers and body,
    within 10 s (1 s when half the connections wait for theirs), or its
    connection is closed: slow clients hold nothing for long. A mirror share sends a copy
    of that share of requests to a deployment after the answer is sent,
    on a thread of its own; its answers are logged, never returned.
*/
#ifndef WB_SERVE_H
#define WB_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include "store/wb_store.h"
#include "base/wb_error.h"

#define WB_SERVE_MAX_BODY  (1024 * 1024)    //  bytes a request body may have

//  How a Python deployment (a user's own model) is served unless %deploy
//  says otherwise: rows one worker call may take (batching, where the
//  flavor takes many rows), how long a worker waits for more requests to
//  batch, seconds a request may take before it is answered 504
#define WB_SERVE_BATCH_ROWS        64
#define WB_SERVE_BATCH_DELAY_MS    1.0
#define WB_SERVE_REQUEST_TIMEOUT   60.0

//  The server: serve endpoint of the workspace at path until SIGTERM or
//  SIGINT, or until the endpoint is deleted. Returns the exit code.
int
    wb_serve_main (const char *path, const char *endpoint);

//  Start the endpoint's server as a detached process (binary is the
//  workbench executable; NULL = this one) and wait until it serves what
//  the workspace says or fails. 0, or -1 with err (its log's last line).
int
    wb_serve_start (wb_store_t *store, const char *endpoint, const char *binary,
                    wb_error_t *err);
//  Make a running server load the endpoint's current generation and wait
//  until it has (or says why not). 0 or -1.
int
    wb_serve_reload (wb_store_t *store, const char *endpoint, wb_error_t *err);
//  Stop the endpoint's server (SIGTERM, then SIGKILL after 5 s); nothing
//  when it is not running. 0 or -1.
int
    wb_serve_stop (wb_store_t *store, const char *endpoint, wb_error_t *err);
//  The server's log file (caller owns).
char *
    wb_serve_log_path (wb_store_t *store, const char *endpoint);
//  The file holding the owner's key of the running server (caller owns):
//  made by each server process, 0600, removed when it stops.
char *
    wb_serve_owner_key_path (wb_store_t *store, const char *endpoint);
//  That key (caller owns), or NULL when the server is not running.
char *
    wb_serve_owner_key (wb_store_t *store, const char *endpoint);

//  One HTTP/1.1 request to 127.0.0.1:port (Connection: close). headers
//  are extra header lines, each ending in \r\n (may be NULL). The status
//  goes to *status, the body to *answer (caller frees; may be NULL).
//  0, or -1 with err when the server cannot be reached or times out.
int
    wb_serve_request (int port, const char *method, const char *target,
                      const char *headers, const char *body, size_t size,
                      double timeout, int *status, char **answer, wb_error_t *err);

void
    wb_serve_test (bool verbose);

#endif
