/*  wb_pool - a pool of Python worker processes that score requests for one
    deployment of a user's own model (scikit-learn, MLflow, a scoring script)

    The scoring server calls wb_pool_submit from its request threads (the
    answer comes to a callback), batch scoring wb_pool_score_matrix
    (numbers only, sent as raw bytes) and wb_pool_score (JSON rows); the
    pool keeps `workers` processes of share/wb_worker.py running, each
    fed by a thread of its own, and answers every call with an HTTP status
    and a JSON body. The worker's protocol (share/wb_worker.py has it
    whole):

      PYTHON WORKER serve --flavor F --model PATH [--scorer FILE], with
      WORKBENCH_MODEL_DIR=DIR (and PYTHONUNBUFFERED=1 unless set) in the
      server's environment, in the server's process group (a job cancel
      stops it too); its stdin and stdout carry frames, its stderr is read
      line by line into the log. A frame is a 4-byte unsigned big-endian
      length N, then N bytes (at most 256 MiB) of a UTF-8 JSON object, or
      of raw numbers where a matrix request or its reply says so (below).
      The worker's first frame is its hello ({"ready": true, "batch",
      "matrix", ...} or {"ready": false, "error", "type", "traceback"});
      then requests {"id", "rows", "columns", "proba"} get replies {"id",
      "predictions", "probabilities"?}, {"id", "result"} or {"id", "error",
      "type", "traceback"}. EOF on its stdin ends it.

      A matrix request {"id", "matrix": {"dtype": "<f8", "shape": [n, m]},
      "columns", "proba"} is followed by one frame of raw bytes: n * m
      little-endian float64, row by row, NaN for a missing value (the
      worker reads it with numpy.frombuffer, no parsing). Its reply may
      give predictions and probabilities as descriptors {"dtype": "<f8" or
      "<i8", "shape": [n] or [n, k]}, each followed (predictions first) by
      a frame of raw little-endian values; the pool turns them into JSON
      arrays (NaN and infinities as null) on the caller's thread, so that
      the caller sees the reply a rows request gets and the worker's
      thread is free for the next call. A descriptor that does not match
      its frame breaks the protocol: the worker is killed and restarted
      (503). The pipe to a worker holds 1 MiB where the system allows it
      (a mini-batch of 1,000 rows x 64 numbers in one write).

    Requests wait in one queue per pool. An idle worker takes the first;
    when its hello said batch:true and max_batch_rows > 1 it goes on taking
    queued requests with the same proba and columns until it has
    max_batch_rows rows or max_batch_delay has passed since it took the
    first, sends them as one request and splits the predictions back by
    row count, as TorchServe and Triton batch (a matrix request goes
    alone: batches are for many small requests, a matrix is a big one).
    One worker gathers at a time, and only while every other worker is
    busy: when one is idle it would take the next request at once, so the
    gatherer sends what it has (batches form under load; a lone request
    waits for nothing unless the pool has one worker). A request is never
    split. When a batch of several requests gets an error, each is scored
    again alone, so that only the request whose rows raise gets the 500.

    Statuses of wb_pool_score (and wb_pool_score_matrix), with the error body {"error": {"code",
    "message"}}:
      200  {"predictions": [...], "probabilities": [[...]]?} or
           {"result": {...}} (a scoring script's run() returned a dict;
           from a call of one request only)
      500  scorer_error: the scorer raised ("ValueError: message"; the
           traceback goes to *detail, for the request log, never the
           caller), or returned a count of predictions that is not one per
           row, or a dict for a batch, or a reply over 256 MiB
      503  worker_crashed: the worker died with the request in flight (it
           is restarted); unavailable: the pool is stopping, or no worker
           runs because starting one fails (it is retried)
      504  timeout: the worker took longer than request_timeout with the
           request (it is killed with SIGKILL and restarted; other
           requests it held get 503), or the request waited that long in
           the queue for a free worker
      413  too_large: the rows (as JSON, or a matrix's bytes) do not fit
           in a 256 MiB frame

    A worker that dies is restarted (its in-flight requests get 503); after
    5 starts of one worker within 10 s the next waits 1 s, then 2 s, 4 s...
    up to 30 s. Every stderr line of a worker goes to log_fd as
    "[LABEL worker N] line" (cut at 4 KiB), and so do the pool's events
    (started, exited and how, killed on timeout, restarting and why).

    fork+exec is safe from a multi-threaded server: argv and the
    environment are built before fork, the child makes only
    async-signal-safe calls, closes every other fd and gets SIGKILL when
    the thread that started it ends (PR_SET_PDEATHSIG: a server killed
    with SIGKILL leaves no worker behind).
*/
#ifndef WB_POOL_H
#define WB_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "base/wb_error.h"

typedef struct _wb_pool_t wb_pool_t;

//  What to run and how (strings are copied)
typedef struct {
    const char *python;         //  interpreter to run (a path, or a name looked up on PATH)
    const char *worker;         //  path of the worker program (share/wb_worker.py)
    const char *flavor;         //  sklearn | mlflow | python
    const char *model;          //  the model file or folder
    const char *scorer;         //  scoring script, or NULL
    const char *model_dir;      //  WORKBENCH_MODEL_DIR, or NULL to leave it unset
    const char *label;          //  for log lines, e.g. "deployment blue" (NULL = "pool")
    int workers;                //  processes; 0 = one per core
    int max_batch_rows;         //  rows one call may take; 0 or 1 = no batching
    double max_batch_delay;     //  seconds to wait for more requests to batch (0 = take
                                //  only what is queued already)
    double request_timeout;     //  seconds a request may take before 504; 0 = no limit
    double start_timeout;       //  seconds for a worker's hello; 0 = 60
    int log_fd;                 //  where worker stderr lines and pool events go; -1 = stderr
} wb_pool_config_t;

#define WB_POOL_BUCKETS  12     //  batch sizes: rows <= 1, 2, 4, ... 1024, more

//  What /metrics shows of a pool (counters since wb_pool_new)
typedef struct {
    int workers;                //  processes the pool keeps
    int ready;                  //  of them serving now
    uint64_t restarts;          //  processes started again (crash, timeout, failed start)
    size_t queued;              //  requests waiting for a worker now
    uint64_t requests;          //  requests answered
    uint64_t scorer_errors;     //  of them 500
    uint64_t crashed;           //  503
    uint64_t timeouts;          //  504
    uint64_t too_large;         //  413
    uint64_t batches;           //  calls made to workers (a batch of requests, or one)
    uint64_t rows;              //  rows sent in those calls
    uint64_t batch_sizes [WB_POOL_BUCKETS];
                                //  calls by rows: [0] <= 1, [1] 2, [2] 3-4, [3] 5-8, ...
                                //  [10] 513-1024, [11] more (not cumulative)
} wb_pool_stats_t;

//  Start every worker and wait for every hello (each within start_timeout;
//  they start side by side). NULL when one is not ready: every worker is
//  stopped, err holds the worker's "error" ("RuntimeError: no weights"),
//  or, for a worker that exited or timed out before its hello, what
//  happened and its last stderr line; *detail_p (may be NULL) gets the
//  traceback, or the last stderr lines, for the caller to show (caller
//  frees; NULL when there is none, and on success).
wb_pool_t *
    wb_pool_new (const wb_pool_config_t *config, char **detail_p, wb_error_t *err);
//  Close every worker's stdin; after 2 s kill what is left (SIGKILL), reap
//  every process, join every thread. Requests waiting get 503, requests in
//  flight get their answer if it comes within the 2 s, else 503. No call
//  may be made on the pool once this starts. Idempotent, nulls *self_p.
void
    wb_pool_destroy (wb_pool_t **self_p);
//  The first worker's hello (lent, for the pool's life): flavor, batch,
//  proba, classes, columns, python, pid.
json_t *
    wb_pool_hello (wb_pool_t *self);
//  Score rows (an array of arrays in columns' order, or of objects;
//  lent), columns (an array of names, or NULL / JSON null; lent), with
//  probabilities when proba. Blocks until answered; any number of threads
//  may call at once. Returns the HTTP status (see above) and sets *reply
//  to the body (caller owns) and *detail to the traceback of a 500 from
//  the scorer, else NULL (caller frees). reply and detail may be NULL.
int
    wb_pool_score (wb_pool_t *self, json_t *rows, json_t *columns, bool proba,
                   json_t **reply, char **detail);
//  The same for rows x cols numbers, row by row (data lent for the call;
//  NaN = missing), sent to the worker as raw float64 instead of JSON
//  (8 bytes a value, nothing to format or parse): columns are the names of
//  the cols columns (or NULL), and the statuses, *reply and *detail are
//  wb_pool_score's. Only for a pool whose hello says "matrix": true (the
//  worker's Python has numpy). Never batched with other requests.
int
    wb_pool_score_matrix (wb_pool_t *self, const double *data, size_t rows, size_t cols,
                          json_t *columns, bool proba, json_t **reply, char **detail);
//  A call's answer for wb_pool_submit: the status and body (the callee's)
//  and a scorer's traceback (the callee's, or NULL), as wb_pool_score
//  gives them. Called once, by a pool thread (or within wb_pool_submit when
//  the call is answered at once), never with the pool's lock held; it must
//  not call the pool.
typedef void (wb_pool_done_fn) (void *arg, int status, json_t *reply, char *detail);
//  wb_pool_score without waiting: queue the call and return; done (arg)
//  gets the answer. A request thread that may not block (the server's,
//  whose connection waits suspended) hands the call on this way with no
//  thread in between: the worker's thread that reads the answer calls done.
//  A queued call past the request timeout is answered 504 by
//  wb_pool_expire, which the caller calls now and then.
void
    wb_pool_submit (wb_pool_t *self, json_t *rows, json_t *columns, bool proba,
                    wb_pool_done_fn *done, void *arg);
//  Answer 504 the queued calls whose request timeout has passed (the
//  server's main loop calls it every 200 ms)
void
    wb_pool_expire (wb_pool_t *self);
//  The counters, copied into stats
void
    wb_pool_stats (wb_pool_t *self, wb_pool_stats_t *stats);

void
    wb_pool_test (bool verbose);

#endif
