/*  wb_serve_int - private to wb_serve*.c: what the parts of the scoring
    server share

    wb_serve.c          starting, reloading, stopping; the HTTP client; self-test
    wb_serve_config.c   configurations: what a generation of the endpoint serves
    wb_serve_answer.c   answering requests, the mirror thread, the warden
    wb_serve_process.c  the server process: the main loop, the request log

    Threads: libmicrohttpd's pool answers requests; the main thread owns
    the workspace connection (the request log, the generation, reloads);
    a mirror thread scores mirrored copies. Request threads share one
    configuration (keys, deployments with their scorers) through a
    reference-counted pointer that a reload swaps; counters for /metrics
    are atomics per deployment name, kept across reloads.
*/
#ifndef WB_SERVE_INT_H
#define WB_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "wb_serve.h"
#include "wb_registry.h"
#include "wb_scorer.h"
#include "wb_pool.h"

#define WB_SERVE__MAX_DEPLOYMENTS  32     //  deployments an endpoint may hold
#define WB_SERVE__BUCKETS          12     //  latency histogram buckets (+Inf last)
#define WB_SERVE__MIRROR_QUEUE     1024   //  mirrored copies waiting at most
#define WB_SERVE__ARRIVAL          10.0   //  seconds a request may take to arrive...
                                          //  (...S_ARRIVAL_BUSY in wb_serve_answer.c)

//  Why a request was refused before a deployment scored it (/metrics)
enum {
    WB_SERVE__REFUSED_UNAUTHORIZED, //  401: no key, or a wrong one
    WB_SERVE__REFUSED_DEPLOYMENT,   //  400: X-Deployment names none of them
    WB_SERVE__REFUSED_NO_TRAFFIC,   //  503: no deployment takes traffic
    WB_SERVE__REFUSED_ROUTE,        //  404, 405: no such route or method
    WB_SERVE__REFUSED_SLOW,         //  closed: the request took too long to arrive
    WB_SERVE__REFUSED_REASONS
};

//  Counters of one deployment name, for /metrics
typedef struct {
    char name [64];                 //  deployment
    atomic_ullong requests;         //  answered by it
    atomic_ullong errors;           //  of those, status >= 400
    atomic_ullong mirrored;         //  mirrored copies it scored
    atomic_ullong buckets [WB_SERVE__BUCKETS]; //  latency histogram (not cumulative)
    atomic_ullong micros;           //  latency sum, microseconds
} wb_serve__stats_t;

//  The worker pool of a Python deployment (a user's own model), shared by
//  every configuration that serves the same version with the same settings,
//  so that a reload that changes something else keeps its workers. Made
//  and destroyed by the main thread; refs counts the configurations holding it.
typedef struct {
    char *key;                      //  model, hash and settings
    char label [80];                //  "deployment NAME"
    wb_pool_t *pool;
    atomic_int refs;
} wb_serve__pool_t;

typedef struct {
    char name [64];                 //  deployment name
    char model [160];               //  NAME:VERSION
    int traffic;                    //  percent of requests
    int mirror;                     //  percent copied to it
    wb_scorer_t *scorer;            //  its model (built-in), or NULL
    wb_serve__pool_t *pool;         //  its Python workers (own models), or NULL
    wb_serve__stats_t *stats;       //  its counters
} wb_serve__deployment_t;

//  What a generation of the endpoint serves (read-only once published)
typedef struct {
    atomic_int refs;                //  holders: the server and requests under way
    int64_t generation;             //  from the workspace
    bool open;                      //  auth none
    char keys [2][WB_KEY_HASH_TEXT];    //  the hashes of the two keys
    int64_t log_rows;               //  the request log's retention: rows
    double log_days;                //  and days
    size_t count;                   //  deployments
    wb_serve__deployment_t deployments [WB_SERVE__MAX_DEPLOYMENTS];
    int taking;                     //  deployments with traffic > 0
    char *swagger;                  //  the OpenAPI document
} wb_serve__config_t;

//  A mirrored copy waiting to be scored
typedef struct {
    wb_serve__config_t *config;     //  held
    size_t deployment;              //  index in config
    char *type;                     //  content type, or NULL
    char *body;                     //  the body
    size_t size;                    //  its length
//  The server process: what its threads share
} wb_serve__copy_t;

//  A TCP connection, for the warden: how long its request takes to arrive
typedef struct {
    int fd;                         //  its socket
    _Atomic double since;           //  monotonic: accepted, or its last answer sent
    atomic_bool arrived;            //  its request is in (headers and body)
    bool cut;                       //  the warden shut it down (under conns_lock)
    size_t slot;                    //  index in the server's list
} wb_serve__conn_t;

typedef struct {
    char *endpoint;                 //  name
    pthread_mutex_t lock;           //  guards config, log, queue
    pthread_cond_t wake;            //  the mirror thread waits on it
    wb_serve__config_t *config;     //  current configuration
    wb_serve__stats_t stats [WB_SERVE__MAX_DEPLOYMENTS]; //  counters by name
    size_t nstats;                  //  used
    wb_request_t *log;              //  requests to write
    size_t nlog, log_room;          //  used, allocated
    atomic_ullong served;           //  requests so far, for sampling
    atomic_ullong refused [WB_SERVE__REFUSED_REASONS]; //  refusals by reason
    atomic_ullong unlogged;         //  requests counted but not logged
    atomic_llong refusal_second;    //  the second refusals_kept counts in
    atomic_int refusals_kept;       //  refusals logged in it
    size_t queued_bytes;            //  bodies in the mirror queue
    char owner_hash [WB_KEY_HASH_TEXT]; //  hash of this process's owner key
    char *owner_path;               //  the file holding that key
    wb_serve__copy_t queue [WB_SERVE__MIRROR_QUEUE]; //  mirrored copies (a ring)
    size_t head, tail;              //  ring positions
    bool stopping;                  //  the mirror thread ends
    double pruned_at;               //  last retention pass (main thread)
    size_t since_prune;             //  rows written since
    double complained_at;           //  last "not logged" message (main thread)
    pthread_mutex_t conns_lock;     //  guards conns
    wb_serve__conn_t **conns;       //  open connections
    size_t nconns, conns_room;      //  used, allocated
    size_t max_connections;         //  the daemon's limit
    wb_serve__pool_t *pools [WB_SERVE__MAX_DEPLOYMENTS * 2];   //  Python worker pools
    size_t npools;                  //  used (main thread)
    pthread_mutex_t jobs_lock;      //  guards jobs_out and jobs_stopping
    pthread_cond_t jobs_wake;       //  the main thread, stopping: jobs_out fell to 0
    size_t jobs_out;                //  requests at a pool, their connection suspended
    bool jobs_stopping;             //  no request goes to a pool any more
} wb_serve__server_t;

//  A request for a Python deployment: the connection is suspended while
//  the pool scores it; the pool's thread that reads the answer resumes it
typedef struct _wb_serve__job_t {
    wb_serve__server_t *server;
    wb_serve__config_t *config;     //  held
    size_t deployment;              //  index in config
    struct MHD_Connection *connection;
    size_t nrows;                   //  rows sent
    int status;                     //  the answer: HTTP status,
    json_t *reply;                  //  body
    char *detail;                   //  and a scorer's traceback (for the log)
    atomic_bool done;
} wb_serve__job_t;

//  ---- Configurations (wb_serve_config.c) ----

//  A configuration from the workspace; NULL with err (a model that cannot
//  be loaded: the old configuration stays). Holds one reference.
//  *detail (may be NULL) gets a Python model's traceback (caller frees).
wb_serve__config_t *
    wb_serve__config_load (wb_serve__server_t *server, wb_store_t *store, char **detail,
                           wb_error_t *err);
//  The server's current configuration, held (NULL before the first load)
wb_serve__config_t *
    wb_serve__config_hold (wb_serve__server_t *server);
//  Drop a reference; the last one frees the configuration (NULL is nothing)
void
    wb_serve__config_release (wb_serve__config_t *config);

//  The main thread: destroy the pools no configuration holds any more
void
    wb_serve__pools_reap (wb_serve__server_t *server, bool all);

//  ---- Python deployments (wb_serve_rows.c, wb_serve_answer.c) ----

//  A request body as rows for a Python worker: *rows_p an array of arrays
//  or of objects, *columns_p the names when the body gives them (else
//  NULL); *proba set when the body asks for probabilities (params). 0, or
//  -1 with fault (the scorer's codes).
int
    wb_serve__rows (const char *type, const char *body, size_t size, json_t **rows_p,
                    json_t **columns_p, bool *proba, wb_scorer_fault_t *fault);
void
    wb_serve_rows_test (bool verbose);

//  ---- Answering and the warden (wb_serve_answer.c) ----

//  libmicrohttpd's callbacks, cls the server: a request, its end, a
//  connection's start and close (the warden's list)
enum MHD_Result
    wb_serve__handle (void *cls, struct MHD_Connection *connection, const char *url,
                      const char *method, const char *version, const char *upload_data,
                      size_t *upload_data_size, void **con_cls);
void
    wb_serve__completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode code);
void
    wb_serve__notify_connection (void *cls, struct MHD_Connection *connection,
                                 void **socket_context, enum MHD_ConnectionNotificationCode code);
//  The mirror thread (scores mirrored copies) and the warden thread (cuts
//  connections whose request is slow to arrive), arg the server; both end
//  when server->stopping is set
void *
    wb_serve__mirror_thread (void *arg);
void *
    wb_serve__warden_thread (void *arg);

#endif
