/*  wb_serve - the scoring server of an endpoint (`workbench serve`), and
    what starts, reloads, stops and calls it

    Threads: libmicrohttpd's pool answers requests; the main thread owns
    the workspace connection (the request log, the generation, reloads);
    a mirror thread scores mirrored copies. Request threads share one
    configuration (keys, deployments with their scorers) through a
    reference-counted pointer that a reload swaps; counters for /metrics
    are atomics per deployment name, kept across reloads.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <sodium.h>
#include "wb_serve.h"
#include "wb_registry.h"
#include "wb_scorer.h"
#include "base/wb_util.h"

extern char **environ;

#define S_MAX_DEPLOYMENTS  32       //  deployments an endpoint may hold
#define S_BUCKETS          12       //  latency histogram buckets (+Inf last)
#define S_SAMPLE_EVERY     100      //  log the body of one success in this many
#define S_SAMPLE_BYTES     1024     //  at most this much of a body or answer
#define S_MIRROR_QUEUE     1024     //  mirrored copies waiting at most
#define S_START_TIMEOUT    20.0     //  seconds a start or reload may take
#define S_REFUSALS_KEPT    10       //  refusals a second whose rows are logged
#define S_LOG_PENDING      (256 * 1024) //  log rows waiting for the writer at most
#define S_PRUNE_EVERY      60.0     //  seconds between retention passes at least...
#define S_PRUNE_BATCH      50000    //  ...and rows one pass deletes at most
#define S_MIRROR_BYTES     (64 * 1024 * 1024)   //  bytes of mirrored bodies waiting
#define S_ARRIVAL          10.0     //  seconds a request may take to arrive...
#define S_ARRIVAL_BUSY     1.0      //  ...and when half the connections are waiting
#define S_CONNECTIONS      16384    //  connections at most (fewer if files are fewer)

//  Why a request was refused before a deployment scored it (/metrics)
enum {
    S_REFUSED_UNAUTHORIZED,         //  401: no key, or a wrong one
    S_REFUSED_DEPLOYMENT,           //  400: X-Deployment names none of them
    S_REFUSED_NO_TRAFFIC,           //  503: no deployment takes traffic
    S_REFUSED_ROUTE,                //  404, 405: no such route or method
    S_REFUSED_SLOW,                 //  closed: the request took too long to arrive
    S_REFUSED_REASONS
};
static const char *s_refused_names [S_REFUSED_REASONS] = {
    "unauthorized", "unknown_deployment", "no_traffic", "route", "slow"
};

static const double s_bounds [S_BUCKETS - 1] = {
    0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000
};

//  Counters of one deployment name, for /metrics
typedef struct {
    char name [64];                 //  deployment
    atomic_ullong requests;         //  answered by it
    atomic_ullong errors;           //  of those, status >= 400
    atomic_ullong mirrored;         //  mirrored copies it scored
    atomic_ullong buckets [S_BUCKETS];  //  latency histogram (not cumulative)
    atomic_ullong micros;           //  latency sum, microseconds
} s_stats_t;

typedef struct {
    char name [64];                 //  deployment name
    char model [160];               //  NAME:VERSION
    int traffic;                    //  percent of requests
    int mirror;                     //  percent copied to it
    wb_scorer_t *scorer;            //  its model
    s_stats_t *stats;               //  its counters
} s_deployment_t;

//  What a generation of the endpoint serves (read-only once published)
typedef struct {
    atomic_int refs;                //  holders: the server and requests under way
    int64_t generation;             //  from the workspace
    bool open;                      //  auth none
    char keys [2][WB_KEY_HASH_TEXT];    //  the hashes of the two keys
    int64_t log_rows;               //  the request log's retention: rows
    double log_days;                //  and days
    size_t count;                   //  deployments
    s_deployment_t deployments [S_MAX_DEPLOYMENTS];
    int taking;                     //  deployments with traffic > 0
    char *swagger;                  //  the OpenAPI document
} s_config_t;

//  A mirrored copy waiting to be scored
typedef struct {
    s_config_t *config;             //  held
    size_t deployment;              //  index in config
    char *type;                     //  content type, or NULL
    char *body;                     //  the body
    size_t size;                    //  its length
} s_copy_t;

//  A TCP connection, for the warden: how long its request takes to arrive
typedef struct {
    int fd;                         //  its socket
    _Atomic double since;           //  monotonic: accepted, or its last answer sent
    atomic_bool arrived;            //  its request is in (headers and body)
    bool cut;                       //  the warden shut it down (under conns_lock)
    size_t slot;                    //  index in the server's list
} s_conn_t;

typedef struct {
    char *endpoint;                 //  name
    pthread_mutex_t lock;           //  guards config, log, queue
    pthread_cond_t wake;            //  the mirror thread waits on it
    s_config_t *config;             //  current configuration
    s_stats_t stats [S_MAX_DEPLOYMENTS];    //  counters by name
    size_t nstats;                  //  used
    wb_request_t *log;              //  requests to write
    size_t nlog, log_room;          //  used, allocated
    atomic_ullong served;           //  requests so far, for sampling
    atomic_ullong refused [S_REFUSED_REASONS];  //  refusals by reason
    atomic_ullong unlogged;         //  requests counted but not logged
    atomic_llong refusal_second;    //  the second refusals_kept counts in
    atomic_int refusals_kept;       //  refusals logged in it
    size_t queued_bytes;            //  bodies in the mirror queue
    char owner_hash [WB_KEY_HASH_TEXT]; //  hash of this process's owner key
    char *owner_path;               //  the file holding that key
    s_copy_t queue [S_MIRROR_QUEUE];    //  mirrored copies (a ring)
    size_t head, tail;              //  ring positions
    bool stopping;                  //  the mirror thread ends
    double pruned_at;               //  last retention pass (main thread)
    size_t since_prune;             //  rows written since
    double complained_at;           //  last "not logged" message (main thread)
    pthread_mutex_t conns_lock;     //  guards conns
    s_conn_t **conns;               //  open connections
    size_t nconns, conns_room;      //  used, allocated
    size_t max_connections;         //  the daemon's limit
} s_server_t;

//  Per-connection state of a request
typedef struct {
    wb_buf_t *body;                 //  what came so far
    bool too_large;                 //  over WB_SERVE_MAX_BODY
    double start;                   //  monotonic seconds at its first byte
} s_request_t;

//  ---- Configurations ----

static void
s_config_release (s_config_t *config)
{
    if (!config || atomic_fetch_sub (&config->refs, 1) != 1)
        return;
    for (size_t i = 0; i < config->count; i++)
        wb_scorer_destroy (&config->deployments [i].scorer);
    free (config->swagger);
    free (config);
}

static s_config_t *
s_config_hold (s_server_t *server)
{
    pthread_mutex_lock (&server->lock);
    s_config_t *config = server->config;
    if (config)
        atomic_fetch_add (&config->refs, 1);
    pthread_mutex_unlock (&server->lock);
    return config;
}

//  The counters for a deployment name (created on first use; main thread)
static s_stats_t *
s_stats_for (s_server_t *server, const char *name)
{
    for (size_t i = 0; i < server->nstats; i++)
        if (streq (server->stats [i].name, name))
            return &server->stats [i];
    if (server->nstats == S_MAX_DEPLOYMENTS)
        return &server->stats [S_MAX_DEPLOYMENTS - 1];
    s_stats_t *stats = &server->stats [server->nstats];
    snprintf (stats->name, sizeof (stats->name), "%s", name);
    pthread_mutex_lock (&server->lock);     //  /metrics reads nstats under it
    server->nstats++;
    pthread_mutex_unlock (&server->lock);
    return stats;
}

//  The OpenAPI document for a configuration
static char *
s_swagger (s_config_t *config, const char *endpoint)
{
    json_t *columns = NULL;
    const char *task = "";
    for (size_t i = 0; i < config->count && !columns; i++)
        if (config->deployments [i].traffic > 0 || i + 1 == config->count) {
            json_t *expects = wb_scorer_expects (config->deployments [i].scorer);
            columns = json_object_get (expects, "columns");
            task = json_string_value (json_object_get (expects, "task"));
        }
    json_t *names = json_array (), *properties = json_object ();
    size_t index;
    json_t *column;
    json_array_foreach (columns, index, column) {
        const char *name = json_string_value (json_object_get (column, "name"));
        json_array_append_new (names, json_string (name));
        bool numeric = streq (json_string_value (json_object_get (column, "type")), "numeric");
        json_t *schema = json_pack ("{s:s}", "type", numeric? "number": "string");
        if (!numeric)
            json_object_set (schema, "enum", json_object_get (column, "categories"));
        json_object_set_new (properties, name, schema);
    }
    json_t *deployments = json_array ();
    for (size_t i = 0; i < config->count; i++)
        json_array_append_new (deployments, json_pack ("{s:s, s:s, s:i}",
            "name", config->deployments [i].name, "model", config->deployments [i].model,
            "traffic", config->deployments [i].traffic));
    char *names_text = json_dumps (names, JSON_COMPACT);
    char *properties_text = json_dumps (properties, JSON_COMPACT);
    char *deployments_text = json_dumps (deployments, JSON_COMPACT);
    json_t *title = json_string (endpoint);
    char *title_text = json_dumps (title, JSON_ENCODE_ANY);
    char *text = wb_sprintf (
        "{\"openapi\":\"3.0.3\","
        "\"info\":{\"title\":%s,\"version\":\"1\",\"description\":"
        "\"A Workbench endpoint: POST rows to /score, get predictions\"},"
        "\"paths\":{\"/score\":{\"post\":{\"summary\":\"Score rows\","
        "\"security\":[{\"bearer\":[]}],"
        "\"parameters\":[{\"name\":\"probabilities\",\"in\":\"query\","
        "\"schema\":{\"type\":\"boolean\"}},{\"name\":\"X-Deployment\",\"in\":\"header\","
        "\"schema\":{\"type\":\"string\"}}],"
        "\"requestBody\":{\"required\":true,\"content\":{"
        "\"application/json\":{\"schema\":{\"type\":\"object\",\"properties\":{"
        "\"input_data\":{\"type\":\"object\",\"properties\":{"
        "\"columns\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"example\":%s},"
        "\"data\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{}}}}},"
        "\"dataframe_records\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
        "\"properties\":%s}}}}},"
        "\"text/csv\":{\"schema\":{\"type\":\"string\"}}}},"
        "\"responses\":{"
        "\"200\":{\"description\":\"{\\\"predictions\\\": [...]}\"},"
        "\"400\":{\"description\":\"a bad body: the error says what was wrong and what the model expects\"},"
        "\"401\":{\"description\":\"no key, or a wrong one\"},"
        "\"413\":{\"description\":\"a body over 1 MiB\"},"
        "\"415\":{\"description\":\"a content type other than application/json or text/csv\"}}}}},"
        "\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}}},"
        "\"x-workbench\":{\"task\":\"%s\",\"deployments\":%s}}",
        title_text, names_text, properties_text, task? task: "", deployments_text);
    free (names_text);
    free (properties_text);
    free (deployments_text);
    free (title_text);
    json_decref (title);
    json_decref (names);
    json_decref (properties);
    json_decref (deployments);
    return text;
}

//  A configuration from the workspace; NULL with err (a model that cannot
//  be loaded: the old configuration stays)
static s_config_t *
s_config_load (s_server_t *server, wb_store_t *store, wb_error_t *err)
{
    json_t *record = wb_registry_endpoint_get (store, server->endpoint, err);
    if (!record)
        return NULL;
    s_config_t *config = wb_calloc (1, sizeof (s_config_t));
    atomic_init (&config->refs, 1);
    config->generation = json_integer_value (json_object_get (record, "generation"));
    config->open = streq (json_string_value (json_object_get (record, "auth")), "none");
    for (int k = 0; k < 2; k++) {
        const char *hash = json_string_value (json_array_get (
            json_object_get (record, "key_hashes"), k));
        snprintf (config->keys [k], sizeof (config->keys [k]), "%s",
                  wb_key_is_hash (hash)? hash: "");
    }
    config->log_rows = json_integer_value (json_object_get (record, "log_rows"));
    config->log_days = json_number_value (json_object_get (record, "log_days"));
    size_t index;
    json_t *row;
    int rc = 0;
    json_array_foreach (json_object_get (record, "deployments"), index, row) {
        if (config->count == S_MAX_DEPLOYMENTS) {
            rc = wb_error_set (err, "an endpoint holds at most %d deployments", S_MAX_DEPLOYMENTS);
            break;
        }
        s_deployment_t *d = &config->deployments [config->count];
        const char *name = json_string_value (json_object_get (row, "name"));
        snprintf (d->name, sizeof (d->name), "%s", name);
        snprintf (d->model, sizeof (d->model), "%s:%lld",
                  json_string_value (json_object_get (row, "model")),
                  (long long) json_integer_value (json_object_get (row, "version")));
        d->traffic = (int) json_integer_value (json_object_get (row, "traffic"));
        d->mirror = (int) json_integer_value (json_object_get (row, "mirror"));
        const char *hash = json_string_value (json_object_get (row, "hash"));
        char *file = hash? wb_store_blob_path (store, hash): NULL;
        size_t size = 0;
        char *data = file? wb_file_read (file, &size): NULL;
        free (file);
        wb_error_t why;
        d->scorer = data? wb_scorer_new (data, size, &why): NULL;
        free (data);
        if (!d->scorer) {
            rc = wb_error_set (err, "deployment %s cannot load model %s: %s", name, d->model,
                               hash && data? why.text: "its model file is missing from the workspace");
            break;
        }
        d->stats = s_stats_for (server, name);
        config->taking += d->traffic > 0;
        config->count++;
    }
    json_decref (record);
    if (rc) {
        atomic_store (&config->refs, 1);
        s_config_release (config);
        return NULL;
    }
    config->swagger = s_swagger (config, server->endpoint);
    return config;
}

//  ---- Answering ----

//  A thread's random numbers (xorshift64*), seeded from libsodium
static _Thread_local uint64_t s_random_state;

static unsigned
s_percent (void)
{
    if (!s_random_state)
        randombytes_buf (&s_random_state, sizeof (s_random_state));
    s_random_state ^= s_random_state >> 12;
    s_random_state ^= s_random_state << 25;
    s_random_state ^= s_random_state >> 27;
    return (unsigned) (((s_random_state * 2685821657736338717ULL) >> 33) % 10000);
}

static enum MHD_Result
s_send (struct MHD_Connection *connection, int status, const char *type, char *text,
        size_t size, s_deployment_t *deployment)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (size, text,
                                                                     MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (response, "Content-Type", type);
    if (deployment) {
        MHD_add_response_header (response, "X-Deployment", deployment->name);
        MHD_add_response_header (response, "X-Model", deployment->model);
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header (response, "WWW-Authenticate", "Bearer");
    enum MHD_Result result = MHD_queue_response (connection, (unsigned) status, response);
    MHD_destroy_response (response);
    return result;
}

//  The error body: {"error": {"code", "message", "expects"?}}
static char *
s_error_body (const char *code, const char *message, wb_scorer_t *scorer, size_t *size)
{
    json_t *error = json_pack ("{s:s, s:s}", "code", code, "message", message);
    if (scorer) {
        json_t *expects = wb_scorer_expects (scorer);
        json_object_set_new (error, "expects", json_pack ("{s:O, s:o}",
            "columns", json_object_get (expects, "columns"),
            "content_types", json_pack ("[ss]", "application/json", "text/csv")));
    }
    json_t *body = json_pack ("{s:o}", "error", error);
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    *size = strlen (text);
    return text;
}

static char *
s_sample (const char *text, size_t size)
{
    return wb_strndup (text, size < S_SAMPLE_BYTES? size: S_SAMPLE_BYTES);
}

//  Whether one more refusal may be kept in the log this second: a flood
//  of refused requests is counted in /metrics, and only a sample of it
//  (S_REFUSALS_KEPT a second) reaches the workspace
static bool
s_refusal_slot (s_server_t *server)
{
    long long second = (long long) wb_time_mono ();
    long long seen = atomic_load (&server->refusal_second);
    if (seen != second && atomic_compare_exchange_strong (&server->refusal_second, &seen, second))
        atomic_store (&server->refusals_kept, 0);
    return atomic_fetch_add (&server->refusals_kept, 1) < S_REFUSALS_KEPT;
}

static void
    s_record (s_server_t *server, s_deployment_t *deployment, int status, int rows,
              double start, bool mirrored, const char *body, size_t body_size,
              const char *answer, size_t answer_size);

//  Count a request refused before a deployment took it; log a sample
static void
s_refused (s_server_t *server, int reason, int status, double start, const char *body,
           size_t body_size, const char *answer, size_t answer_size)
{
    atomic_fetch_add (&server->refused [reason], 1);
    if (s_refusal_slot (server))
        s_record (server, NULL, status, 0, start, false, body, body_size, answer, answer_size);
    else
        atomic_fetch_add (&server->unlogged, 1);
}

//  Count and log one request
static void
s_record (s_server_t *server, s_deployment_t *deployment, int status, int rows,
          double start, bool mirrored, const char *body, size_t body_size,
          const char *answer, size_t answer_size)
{
    double latency = (wb_time_mono () - start) * 1000;
    if (deployment) {
        s_stats_t *stats = deployment->stats;
        if (mirrored)
            atomic_fetch_add (&stats->mirrored, 1);
        else {
            atomic_fetch_add (&stats->requests, 1);
            if (status >= 400)
                atomic_fetch_add (&stats->errors, 1);
            size_t bucket = 0;
            while (bucket < S_BUCKETS - 1 && latency > s_bounds [bucket])
                bucket++;
            atomic_fetch_add (&stats->buckets [bucket], 1);
            atomic_fetch_add (&stats->micros, (unsigned long long) (latency * 1000));
        }
    }
    unsigned long long count = atomic_fetch_add (&server->served, 1);
    bool sample = status >= 400 || count % S_SAMPLE_EVERY == 0;
    wb_request_t request = { wb_time_now (), latency, status, rows, mirrored, "", NULL, NULL };
    if (deployment)
        snprintf (request.deployment, sizeof (request.deployment), "%s", deployment->name);
    if (sample && body)
        request.input = s_sample (body, body_size);
    if (sample && answer)
        request.output = s_sample (answer, answer_size);
    pthread_mutex_lock (&server->lock);
    if (server->nlog >= S_LOG_PENDING) {
        //  The writer is behind (a busy workspace): count, do not pile up
        pthread_mutex_unlock (&server->lock);
        atomic_fetch_add (&server->unlogged, 1);
        free (request.input);
        free (request.output);
        return;
    }
    if (server->nlog == server->log_room) {
        server->log_room = server->log_room? server->log_room * 2: 1024;
        server->log = wb_realloc (server->log, server->log_room * sizeof (wb_request_t));
    }
    server->log [server->nlog++] = request;
    pthread_mutex_unlock (&server->lock);
}

//  Queue a mirrored copy (dropped when the queue is full)
static void
s_mirror (s_server_t *server, s_config_t *config, size_t index, const char *type,
          const char *body, size_t size)
{
    pthread_mutex_lock (&server->lock);
    size_t next = (server->tail + 1) % S_MIRROR_QUEUE;
    if (next != server->head && server->queued_bytes + size <= S_MIRROR_BYTES) {
        server->queued_bytes += size;
        atomic_fetch_add (&config->refs, 1);
        s_copy_t *copy = &server->queue [server->tail];
        copy->config = config;
        copy->deployment = index;
        copy->type = type? wb_strdup (type): NULL;
        copy->body = wb_strndup (body, size);
        copy->size = size;
        server->tail = next;
        pthread_cond_signal (&server->wake);
    }
    pthread_mutex_unlock (&server->lock);
}

static void *
s_mirror_thread (void *arg)
{
    s_server_t *server = arg;
    int ignored = setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);
    (void) ignored;
    wb_buf_t *answer = wb_buf_new ();
    pthread_mutex_lock (&server->lock);
    while (true) {
        while (server->head == server->tail && !server->stopping)
            pthread_cond_wait (&server->wake, &server->lock);
        if (server->head == server->tail)
            break;
        s_copy_t copy = server->queue [server->head];
        server->head = (server->head + 1) % S_MIRROR_QUEUE;
        server->queued_bytes -= copy.size;
        pthread_mutex_unlock (&server->lock);
        double start = wb_time_mono ();
        s_deployment_t *deployment = &copy.config->deployments [copy.deployment];
        wb_scorer_fault_t fault;
        wb_buf_reset (answer);
        int rows = wb_scorer_score (deployment->scorer, copy.type, copy.body, copy.size,
                                    false, answer, &fault);
        s_record (server, deployment, rows < 0? fault.status: 200, rows < 0? 0: rows, start,
                  true, copy.body, copy.size, wb_buf_data (answer), wb_buf_size (answer));
        free (copy.type);
        free (copy.body);
        s_config_release (copy.config);
        pthread_mutex_lock (&server->lock);
    }
    pthread_mutex_unlock (&server->lock);
    wb_buf_destroy (&answer);
    return NULL;
}

//  Is the request's key one of the endpoint's, or the owner's key of this
//  process? The workspace keeps hashes only: the key sent is hashed and the
//  hashes compared in constant time (all of them, whatever matches).
static bool
s_authorized (s_server_t *server, s_config_t *config, struct MHD_Connection *connection)
{
    if (config->open)
        return true;
    const char *header = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_AUTHORIZATION);
    if (!header || strncasecmp (header, "Bearer ", 7) != 0)
        return false;
    const char *key = header + 7;
    while (*key == ' ')
        key++;
    size_t size = strlen (key);
    if (size == 0 || size > 256)
        return false;
    char hash [WB_KEY_HASH_TEXT];
    wb_key_hash (key, size, hash);
    const char *hashes [3] = { config->keys [0], config->keys [1], server->owner_hash };
    bool ok = false;
    for (int k = 0; k < 3; k++)
        if (sodium_memcmp (hash, hashes [k], WB_KEY_HASH_TEXT - 1) == 0 && *hashes [k])
            ok = true;
    return ok;
}

static enum MHD_Result
s_score (s_server_t *server, struct MHD_Connection *connection, s_request_t *request)
{
    s_config_t *config = s_config_hold (server);
    size_t size;
    char *text;
    enum MHD_Result result;
    const char *body = wb_buf_data (request->body);
    size_t body_size = wb_buf_size (request->body);
    if (!s_authorized (server, config, connection)) {
        text = s_error_body ("unauthorized", "send one of the endpoint's keys as "
                             "`Authorization: Bearer KEY` (they are shown when made: "
                             "%endpoint keys EP --regenerate makes new ones)", NULL, &size);
        s_refused (server, S_REFUSED_UNAUTHORIZED, 401, request->start, NULL, 0, text, size);
        result = s_send (connection, MHD_HTTP_UNAUTHORIZED, "application/json", text, size, NULL);
        s_config_release (config);
        return result;
    }
    //  Which deployment: pinned by a header, else drawn by the split
    const char *pin = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "X-Deployment");
    if (!pin)
        pin = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "azureml-model-deployment");
    s_deployment_t *deployment = NULL;
    size_t chosen = 0;
    if (pin) {
        for (size_t i = 0; i < config->count; i++)
            if (streq (config->deployments [i].name, pin)) {
                deployment = &config->deployments [i];
                chosen = i;
            }
        if (!deployment) {
            char message [512];
            size_t used = (size_t) snprintf (message, sizeof (message),
                "no deployment '%.60s' on this endpoint; it has", pin);
            for (size_t i = 0; i < config->count && used < sizeof (message); i++)
                used += (size_t) snprintf (message + used, sizeof (message) - used, "%s %s",
                                           i? ",": "", config->deployments [i].name);
            text = s_error_body ("unknown_deployment", message, NULL, &size);
            s_refused (server, S_REFUSED_DEPLOYMENT, 400, request->start, body, body_size,
                       text, size);
            result = s_send (connection, MHD_HTTP_BAD_REQUEST, "application/json", text, size, NULL);
            s_config_release (config);
            return result;
        }
    }
    else
    if (config->taking) {
        unsigned draw = s_percent (), sum = 0;
        for (size_t i = 0; i < config->count && !deployment; i++) {
            sum += (unsigned) config->deployments [i].traffic * 100;
            if (draw < sum) {
                deployment = &config->deployments [i];
                chosen = i;
            }
        }
        if (!deployment)        //  shares below 100 (cannot happen: they sum to 100)
            for (size_t i = config->count; i-- > 0 && !deployment; )
                if (config->deployments [i].traffic > 0) {
                    deployment = &config->deployments [i];
                    chosen = i;
                }
    }
    if (!deployment) {
        text = s_error_body ("no_traffic", "no deployment of this endpoint takes traffic: "
                             "set a split with %endpoint traffic, or pin one with X-Deployment",
                             NULL, &size);
        s_refused (server, S_REFUSED_NO_TRAFFIC, 503, request->start, body, body_size,
                   text, size);
        result = s_send (connection, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", text, size, NULL);
        s_config_release (config);
        return result;
    }
    const char *type = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *proba = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND,
                                                     "probabilities");
    bool probabilities = proba && (streq (proba, "true") || streq (proba, "1"));
    int status = 200, rows;
    if (request->too_large) {
        char message [160];
        snprintf (message, sizeof (message), "the body is over %d bytes: send fewer rows "
                  "per request", WB_SERVE_MAX_BODY);
        text = s_error_body ("too_large", message, deployment->scorer, &size);
        status = MHD_HTTP_CONTENT_TOO_LARGE;
        rows = 0;
        body = NULL;
        body_size = 0;
    }
    else {
        wb_buf_t *answer = wb_buf_new ();
        wb_scorer_fault_t fault;
        rows = wb_scorer_score (deployment->scorer, type, body, body_size, probabilities,
                                answer, &fault);
        if (rows < 0) {
            wb_buf_destroy (&answer);
            text = s_error_body (fault.code, fault.message, deployment->scorer, &size);
            status = fault.status;
            rows = 0;
        }
        else {
            size = wb_buf_size (answer);
            text = wb_buf_detach (&answer);
        }
    }
    s_record (server, deployment, status, rows, request->start, false, body, body_size, text, size);
    result = s_send (connection, status, "application/json", text, size, deployment);
    //  Mirrored copies, after the answer is on its way
    if (status == 200 && !pin)
        for (size_t i = 0; i < config->count; i++)
            if (i != chosen && config->deployments [i].mirror > 0
            &&  s_percent () < (unsigned) config->deployments [i].mirror * 100)
                s_mirror (server, config, i, type, body, body_size);
    s_config_release (config);
    return result;
}

static char *
s_metrics_text (s_server_t *server)
{
    wb_buf_t *buf = wb_buf_new ();
    const char *families [][3] = {
        { "workbench_requests_total", "counter", "Requests answered, by deployment and outcome" },
        { "workbench_mirrored_total", "counter", "Mirrored copies scored, by deployment" },
        { "workbench_request_seconds", "histogram", "Time to answer a request" },
    };
    pthread_mutex_lock (&server->lock);
    size_t count = server->nstats;
    pthread_mutex_unlock (&server->lock);
    for (int f = 0; f < 3; f++) {
        wb_buf_printf (buf, "# HELP %s %s\n# TYPE %s %s\n", families [f][0], families [f][2],
                       families [f][0], families [f][1]);
        for (size_t i = 0; i < count; i++) {
            s_stats_t *s = &server->stats [i];
            unsigned long long requests = atomic_load (&s->requests);
            unsigned long long errors = atomic_load (&s->errors);
            if (f == 0)
                wb_buf_printf (buf, "%s{endpoint=\"%s\",deployment=\"%s\",outcome=\"ok\"} %llu\n"
                               "%s{endpoint=\"%s\",deployment=\"%s\",outcome=\"error\"} %llu\n",
                               families [f][0], server->endpoint, s->name, requests - errors,
                               families [f][0], server->endpoint, s->name, errors);
            else
            if (f == 1)
                wb_buf_printf (buf, "%s{endpoint=\"%s\",deployment=\"%s\"} %llu\n", families [f][0],
                               server->endpoint, s->name, atomic_load (&s->mirrored));
            else {
                unsigned long long cumulative = 0;
                for (int b = 0; b < S_BUCKETS; b++) {
                    cumulative += atomic_load (&s->buckets [b]);
                    if (b < S_BUCKETS - 1)
                        wb_buf_printf (buf, "%s_bucket{endpoint=\"%s\",deployment=\"%s\",le=\"%g\"} %llu\n",
                                       families [f][0], server->endpoint, s->name,
                                       s_bounds [b] / 1000, cumulative);
                    else
                        wb_buf_printf (buf, "%s_bucket{endpoint=\"%s\",deployment=\"%s\",le=\"+Inf\"} %llu\n",
                                       families [f][0], server->endpoint, s->name, cumulative);
                }
                wb_buf_printf (buf, "%s_sum{endpoint=\"%s\",deployment=\"%s\"} %.6f\n"
                               "%s_count{endpoint=\"%s\",deployment=\"%s\"} %llu\n",
                               families [f][0], server->endpoint, s->name,
                               atomic_load (&s->micros) / 1e6,
                               families [f][0], server->endpoint, s->name, cumulative);
            }
        }
    }
    wb_buf_printf (buf, "# HELP workbench_refused_total Requests refused before a deployment "
                   "scored them, by reason\n# TYPE workbench_refused_total counter\n");
    for (int r = 0; r < S_REFUSED_REASONS; r++)
        wb_buf_printf (buf, "workbench_refused_total{endpoint=\"%s\",reason=\"%s\"} %llu\n",
                       server->endpoint, s_refused_names [r], atomic_load (&server->refused [r]));
    wb_buf_printf (buf, "# HELP workbench_unlogged_total Requests counted here but not written "
                   "to the request log (refusals beyond the sample, or the writer behind)\n"
                   "# TYPE workbench_unlogged_total counter\n"
                   "workbench_unlogged_total{endpoint=\"%s\"} %llu\n", server->endpoint,
                   atomic_load (&server->unlogged));
    return wb_buf_detach (&buf);
}

static char *
s_json_text (json_t *value, size_t *size)
{
    char *text = json_dumps (value, JSON_COMPACT);
    json_decref (value);
    *size = strlen (text);
    return text;
}

//  ---- The warden: a request must arrive in time ----
//
//  A client that sends its request a byte at a time (slowloris) would
//  hold a connection as long as it likes, since an idle timeout restarts
//  at every byte. So each request has a budget for all of its arrival,
//  headers and body: S_ARRIVAL seconds from the connection's start (or
//  its previous answer), S_ARRIVAL_BUSY when half the connections are
//  waiting for theirs. The warden thread shuts down the sockets over it
//  (libmicrohttpd then closes them); a request that has arrived is never
//  cut. Every client here comes from 127.0.0.1, so a limit per address
//  would lock out the good clients with the bad: the budget is per
//  connection.

static void
s_notify_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    s_server_t *server = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection,
                                                   MHD_CONNECTION_INFO_CONNECTION_FD);
        s_conn_t *conn = wb_calloc (1, sizeof (s_conn_t));
        conn->fd = info? (int) info->connect_fd: -1;
        atomic_init (&conn->since, wb_time_mono ());
        atomic_init (&conn->arrived, false);
        pthread_mutex_lock (&server->conns_lock);
        if (server->nconns == server->conns_room) {
            server->conns_room = server->conns_room? server->conns_room * 2: 256;
            server->conns = wb_realloc (server->conns, server->conns_room * sizeof (s_conn_t *));
        }
        conn->slot = server->nconns;
        server->conns [server->nconns++] = conn;
        pthread_mutex_unlock (&server->conns_lock);
        *socket_context = conn;
    }
    else
    if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        //  Called before libmicrohttpd closes the socket: once it is off
        //  the list, the warden no longer touches its descriptor
        s_conn_t *conn = *socket_context;
        pthread_mutex_lock (&server->conns_lock);
        s_conn_t *last = server->conns [--server->nconns];
        last->slot = conn->slot;
        server->conns [conn->slot] = last;
        pthread_mutex_unlock (&server->conns_lock);
        free (conn);
        *socket_context = NULL;
    }
}

//  The connection's record; its request has arrived (true) or a new one
//  begins (false). Atomics, no lock: this is on every request's path, and
//  the record lives until the connection's own thread says it closed.
static void
s_conn_arrived (struct MHD_Connection *connection, bool arrived)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection,
                                               MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    s_conn_t *conn = info? info->socket_context: NULL;
    if (!conn)
        return;
    if (!arrived)
        atomic_store (&conn->since, wb_time_mono ());
    atomic_store (&conn->arrived, arrived);
}

//  One pass: cut the connections over their budget. The count cut.
static size_t
s_warden_pass (s_server_t *server)
{
    double now = wb_time_mono ();
    size_t cut = 0, waiting = 0;
    pthread_mutex_lock (&server->conns_lock);
    for (size_t i = 0; i < server->nconns; i++)
        waiting += !atomic_load (&server->conns [i]->arrived) && !server->conns [i]->cut;
    double budget = waiting * 2 >= server->max_connections? S_ARRIVAL_BUSY: S_ARRIVAL;
    for (size_t i = 0; i < server->nconns; i++) {
        s_conn_t *conn = server->conns [i];
        if (!atomic_load (&conn->arrived) && !conn->cut && conn->fd >= 0
        &&  now - atomic_load (&conn->since) > budget) {
            shutdown (conn->fd, SHUT_RDWR);
            conn->cut = true;
            cut++;
        }
    }
    pthread_mutex_unlock (&server->conns_lock);
    atomic_fetch_add (&server->refused [S_REFUSED_SLOW], cut);
    return cut;
}

static void *
s_warden_thread (void *arg)
{
    s_server_t *server = arg;
    while (true) {
        pthread_mutex_lock (&server->lock);
        bool stopping = server->stopping;
        pthread_mutex_unlock (&server->lock);
        if (stopping)
            break;
        s_warden_pass (server);
        usleep (100 * 1000);
    }
    return NULL;
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version;
    s_server_t *server = cls;
    s_request_t *request = *con_cls;
    if (!request) {
        request = wb_calloc (1, sizeof (s_request_t));
        request->start = wb_time_mono ();
        request->body = wb_buf_new ();
        const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull (length, NULL, 10) > WB_SERVE_MAX_BODY)
            request->too_large = true;
        *con_cls = request;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!request->too_large && wb_buf_size (request->body) + *upload_data_size > WB_SERVE_MAX_BODY)
            request->too_large = true;
        if (!request->too_large)
            wb_buf_append (request->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    s_conn_arrived (connection, true);
    size_t size;
    char *text;
    bool get = streq (method, "GET") || streq (method, "HEAD");
    bool post = streq (method, "POST");
    if (streq (url, "/score")) {
        if (post)
            return s_score (server, connection, request);
        text = s_error_body ("method", "POST rows to /score", NULL, &size);
        atomic_fetch_add (&server->refused [S_REFUSED_ROUTE], 1);
        return s_send (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", text, size, NULL);
    }
    bool known = streq (url, "/") || streq (url, "/health") || streq (url, "/swagger.json")
              || streq (url, "/metrics");
    if (known && !get) {
        text = s_error_body ("method", "this route takes GET", NULL, &size);
        atomic_fetch_add (&server->refused [S_REFUSED_ROUTE], 1);
        return s_send (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", text, size, NULL);
    }
    if (streq (url, "/")) {
        text = s_json_text (json_pack ("{s:s, s:s}", "status", "alive",
                                       "endpoint", server->endpoint), &size);
        return s_send (connection, MHD_HTTP_OK, "application/json", text, size, NULL);
    }
    if (streq (url, "/health")) {
        s_config_t *config = s_config_hold (server);
        json_t *deployments = json_array ();
        for (size_t i = 0; i < config->count; i++)
            json_array_append_new (deployments, json_pack ("{s:s, s:s, s:i, s:i}",
                "name", config->deployments [i].name, "model", config->deployments [i].model,
                "traffic", config->deployments [i].traffic, "mirror", config->deployments [i].mirror));
        bool ready = config->taking > 0;
        text = s_json_text (json_pack ("{s:s, s:I, s:o}", "status", ready? "ready": "no traffic",
                                       "generation", (json_int_t) config->generation,
                                       "deployments", deployments), &size);
        s_config_release (config);
        return s_send (connection, ready? MHD_HTTP_OK: MHD_HTTP_SERVICE_UNAVAILABLE,
                       "application/json", text, size, NULL);
    }
    if (streq (url, "/swagger.json")) {
        s_config_t *config = s_config_hold (server);
        text = wb_strdup (config->swagger);
        size = strlen (text);
        s_config_release (config);
        return s_send (connection, MHD_HTTP_OK, "application/json", text, size, NULL);
    }
    if (streq (url, "/metrics")) {
        text = s_metrics_text (server);
        size = strlen (text);
        return s_send (connection, MHD_HTTP_OK, "text/plain; version=0.0.4", text, size, NULL);
    }
    char message [200];
    snprintf (message, sizeof (message), "no route %.80s: the routes are POST /score, GET /, "
              "/health, /swagger.json, /metrics", url);
    text = s_error_body ("not_found", message, NULL, &size);
    atomic_fetch_add (&server->refused [S_REFUSED_ROUTE], 1);
    return s_send (connection, MHD_HTTP_NOT_FOUND, "application/json", text, size, NULL);
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode code)
{
    (void) code;
    (void) cls;
    s_conn_arrived (connection, false);     //  a next request's budget starts
    s_request_t *request = *con_cls;
    if (request) {
        wb_buf_destroy (&request->body);
        free (request);
        *con_cls = NULL;
    }
}

//  ---- The server process ----

//  A key for the workspace's owner, made anew by each server process and
//  written where only the owner can read it (0600, in the private
//  workspace folder): the workspace keeps no key an owner could send,
//  only hashes, so this is how %endpoint invoke calls the endpoint. It is
//  removed when the server stops. 0 or -1.
static int
s_owner_key_write (s_server_t *server, wb_store_t *store, wb_error_t *err)
{
    unsigned char bytes [32];
    char key [64];
    randombytes_buf (bytes, sizeof (bytes));
    sodium_bin2base64 (key, sizeof (key), bytes, sizeof (bytes),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (bytes, sizeof (bytes));
    wb_key_hash (key, strlen (key), server->owner_hash);
    char *folder = wb_sprintf ("%s/endpoints", wb_store_path (store));
    mkdir (folder, 0700);
    free (folder);
    server->owner_path = wb_serve_owner_key_path (store, server->endpoint);
    char *temp = wb_sprintf ("%s.%d", server->owner_path, (int) getpid ());
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t size = strlen (key);
    bool ok = fd >= 0 && fchmod (fd, 0600) == 0 && write (fd, key, size) == (ssize_t) size;
    if (fd >= 0 && close (fd))
        ok = false;
    if (ok && rename (temp, server->owner_path))
        ok = false;
    sodium_memzero (key, sizeof (key));
    int rc = ok? 0: wb_error_set (err, "cannot write the owner's key '%s': %s",
                                  server->owner_path, strerror (errno));
    if (!ok)
        unlink (temp);
    free (temp);
    return rc;
}

//  Keep the request log within its retention: a pass when a tenth of the
//  rows kept were written since the last, a minute went by, or the
//  retention changed; a pass
//  deletes at most S_PRUNE_BATCH rows, so a long backlog goes in steps
static void
s_prune (s_server_t *server, wb_store_t *store)
{
    s_config_t *config = s_config_hold (server);
    if (!config)
        return;
    size_t due = config->log_rows / 10 > 1? (size_t) config->log_rows / 10: 1;
    if (server->since_prune >= due || wb_time_mono () - server->pruned_at >= S_PRUNE_EVERY) {
        wb_error_t err;
        int64_t deleted = wb_registry_requests_prune (store, server->endpoint,
                                                      config->log_rows > 0? config->log_rows: 1,
                                                      config->log_days > 0? config->log_days: 1,
                                                      S_PRUNE_BATCH, &err);
        if (deleted < 0)
            fprintf (stderr, "workbench serve: %s\n", err.text);
        server->pruned_at = wb_time_mono ();
        server->since_prune = deleted == S_PRUNE_BATCH? due: 0;
    }
    s_config_release (config);
}

//  Write the log batch (dropped when the workspace refuses it: counted in
//  /metrics), then keep the log within its retention
static void
s_flush (s_server_t *server, wb_store_t *store)
{
    pthread_mutex_lock (&server->lock);
    wb_request_t *batch = server->log;
    size_t count = server->nlog;
    server->log = NULL;
    server->nlog = server->log_room = 0;
    pthread_mutex_unlock (&server->lock);
    wb_error_t err;
    if (count && wb_registry_requests_add (store, server->endpoint, batch, count, &err)) {
        //  Said once a minute at most: the server's own log stays small
        if (wb_time_mono () - server->complained_at >= 60 || server->complained_at == 0) {
            fprintf (stderr, "workbench serve: %s (%zu requests not logged; /metrics counts "
                     "them in workbench_unlogged_total)\n", err.text, count);
            server->complained_at = wb_time_mono ();
        }
        atomic_fetch_add (&server->unlogged, count);
    }
    else
        server->since_prune += count;
    s_prune (server, store);
    for (size_t i = 0; i < count; i++) {
        free (batch [i].input);
        free (batch [i].output);
    }
    free (batch);
}

//  Load the workspace's generation if it moved on. 1 when the endpoint is
//  gone, else 0.
static int
s_refresh (s_server_t *server, wb_store_t *store, bool force)
{
    wb_error_t err;
    int64_t generation = wb_registry_endpoint_generation (store, server->endpoint, &err);
    if (generation < 0)
        return strstr (err.text, "no endpoint")? 1: 0;
    if (!force && server->config && server->config->generation == generation)
        return 0;
    s_config_t *config = s_config_load (server, store, &err);
    if (!config) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        wb_registry_endpoint_loaded (store, server->endpoint, generation, err.text, NULL);
        return 0;
    }
    pthread_mutex_lock (&server->lock);
    s_config_t *old = server->config;
    server->config = config;
    pthread_mutex_unlock (&server->lock);
    if (!old || old->log_rows != config->log_rows || old->log_days != config->log_days)
        server->pruned_at = 0;      //  a retention pass at the next flush
    s_config_release (old);     //  requests under way keep it until they finish
    wb_registry_endpoint_loaded (store, server->endpoint, config->generation, NULL, NULL);
    return 0;
}

int
wb_serve_main (const char *path, const char *endpoint)
{
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, false, &err);
    if (!store) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        return 1;
    }
    json_t *record = wb_registry_endpoint_get (store, endpoint, &err);
    if (!record) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        wb_store_destroy (&store);
        return 1;
    }
    if (wb_registry_endpoint_alive (record)
    &&  json_integer_value (json_object_get (record, "pid")) != getpid ()) {
        fprintf (stderr, "workbench serve: endpoint %s is served already (process %lld)\n",
                 endpoint, (long long) json_integer_value (json_object_get (record, "pid")));
        json_decref (record);
        wb_store_destroy (&store);
        return 1;
    }
    int port = (int) json_integer_value (json_object_get (record, "port"));
    json_decref (record);
    //  Signals are taken by the main thread only (sigtimedwait)
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGHUP);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);

    s_server_t *server = wb_calloc (1, sizeof (s_server_t));
    server->endpoint = wb_strdup (endpoint);
    pthread_mutex_init (&server->lock, NULL);
    pthread_cond_init (&server->wake, NULL);
    pthread_mutex_init (&server->conns_lock, NULL);
    s_refresh (server, store, true);
    int rc = 0;
    if (!server->config) {
        fprintf (stderr, "workbench serve: endpoint %s: nothing to serve\n", endpoint);
        rc = 1;
    }
    //  The owner's key of this process, for %endpoint invoke
    if (rc == 0 && s_owner_key_write (server, store, &err)) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        rc = 1;
    }
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    unsigned threads = cores < 2? 2: cores > 16? 16: (unsigned) cores;
    //  As many connections as there may be open files (less a margin for
    //  the workspace, the log and the models), up to S_CONNECTIONS
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max > S_CONNECTIONS + 256? S_CONNECTIONS + 256: files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
        getrlimit (RLIMIT_NOFILE, &files);
    }
    rlim_t room = files.rlim_cur > 320? files.rlim_cur - 256: 64;
    server->max_connections = room < S_CONNECTIONS? (size_t) room: S_CONNECTIONS;
    struct MHD_Daemon *daemon = rc? NULL: MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO,
        0, NULL, NULL, s_handle, server,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) server->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_ARRIVAL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned) 1,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, server,
        MHD_OPTION_NOTIFY_CONNECTION, s_notify_connection, server,
        MHD_OPTION_END);
    if (!rc && !daemon) {
        fprintf (stderr, "workbench serve: cannot listen on 127.0.0.1:%d (%s): choose another "
                 "--port\n", port, port? "in use?": "no free port");
        rc = 1;
    }
    pthread_t mirror, warden;
    if (daemon) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
        port = info? info->port: port;
        pthread_create (&mirror, NULL, s_mirror_thread, server);
        pthread_create (&warden, NULL, s_warden_thread, server);
        if (wb_registry_endpoint_process (store, endpoint, getpid (), port, &err))
            fprintf (stderr, "workbench serve: %s\n", err.text);
        fprintf (stderr, "workbench serve: endpoint %s on http://127.0.0.1:%d (process %d)\n",
                 endpoint, port, (int) getpid ());
        //  The main loop: signals, the log, the generation, the workspace.
        //  It and the mirror thread yield to the request threads (a lower
        //  priority for this thread only), so that writing the log does
        //  not add to the latency of answers.
        if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 5))
            fprintf (stderr, "workbench serve: cannot lower the logger's priority: %s\n",
                     strerror (errno));
        char *database = wb_sprintf ("%s/workspace.db", path);
        double last_check = wb_time_mono ();
        while (true) {
            struct timespec wait = { 0, 200 * 1000 * 1000 };
            int sig = sigtimedwait (&signals, NULL, &wait);
            if (sig == SIGTERM || sig == SIGINT)
                break;
            s_flush (server, store);
            if (sig == SIGHUP || wb_time_mono () - last_check >= 0.5) {
                last_check = wb_time_mono ();
                if (s_refresh (server, store, false))
                    break;          //  the endpoint was deleted
                if (access (database, F_OK)) {
                    fprintf (stderr, "workbench serve: the workspace %s is gone\n", path);
                    break;
                }
            }
        }
        free (database);
        MHD_stop_daemon (daemon);   //  waits for requests under way
        pthread_mutex_lock (&server->lock);
        server->stopping = true;
        pthread_cond_signal (&server->wake);
        pthread_mutex_unlock (&server->lock);
        pthread_join (mirror, NULL);
        pthread_join (warden, NULL);
        s_flush (server, store);
        //  Say we are gone, unless another server took over
        record = wb_registry_endpoint_get (store, endpoint, NULL);
        if (record && json_integer_value (json_object_get (record, "pid")) == getpid ())
            wb_registry_endpoint_process (store, endpoint, 0, 0, NULL);
        json_decref (record);
        fprintf (stderr, "workbench serve: endpoint %s stopped\n", endpoint);
    }
    if (server->owner_path)
        unlink (server->owner_path);
    free (server->owner_path);
    s_config_release (server->config);
    pthread_mutex_destroy (&server->lock);
    pthread_cond_destroy (&server->wake);
    pthread_mutex_destroy (&server->conns_lock);
    free (server->conns);
    free (server->log);
    free (server->endpoint);
    free (server);
    wb_store_destroy (&store);
    return rc;
}

//  ---- Starting, reloading, stopping ----

char *
wb_serve_log_path (wb_store_t *store, const char *endpoint)
{
    return wb_sprintf ("%s/endpoints/%s.log", wb_store_path (store), endpoint);
}

char *
wb_serve_owner_key_path (wb_store_t *store, const char *endpoint)
{
    return wb_sprintf ("%s/endpoints/%s.key", wb_store_path (store), endpoint);
}

char *
wb_serve_owner_key (wb_store_t *store, const char *endpoint)
{
    char *path = wb_serve_owner_key_path (store, endpoint);
    size_t size = 0;
    char *key = wb_file_read (path, &size);
    free (path);
    if (key && (size == 0 || size > 128)) {
        free (key);
        key = NULL;
    }
    return key;
}

//  The last non-empty line of a file (caller owns), or NULL
static char *
s_last_line (const char *path)
{
    size_t size;
    char *text = wb_file_read (path, &size);
    if (!text)
        return NULL;
    while (size && (text [size - 1] == '\n' || text [size - 1] == '\r'))
        text [--size] = 0;
    char *line = strrchr (text, '\n');
    char *result = wb_strdup (line? line + 1: text);
    free (text);
    return result;
}

//  Wait until the server has loaded the current generation: 0, or -1
//  with err (it said why, or it died, or it took too long)
static int
s_wait_loaded (wb_store_t *store, const char *endpoint, pid_t pid, wb_error_t *err)
{
    double deadline = wb_time_mono () + S_START_TIMEOUT;
    while (wb_time_mono () < deadline) {
        json_t *record = wb_registry_endpoint_get (store, endpoint, err);
        if (!record)
            return -1;
        json_int_t generation = json_integer_value (json_object_get (record, "generation"));
        json_int_t loaded = json_integer_value (json_object_get (record, "loaded"));
        const char *error = json_string_value (json_object_get (record, "error"));
        bool alive = wb_registry_endpoint_alive (record);
        pid_t recorded = (pid_t) json_integer_value (json_object_get (record, "pid"));
        int rc = 1;
        if (loaded >= generation && error && (!pid || recorded == pid))
            rc = wb_error_set (err, "endpoint %s: %s (it still serves what it served before)",
                               endpoint, error);
        else
        if (loaded >= generation && alive && (!pid || recorded == pid))
            rc = 0;
        json_decref (record);
        if (rc <= 0)
            return rc;
        if (pid && wb_store_process_start (pid) == 0) {
            char *log = wb_serve_log_path (store, endpoint);
            char *line = s_last_line (log);
            wb_error_set (err, "the server of endpoint %s stopped: %s", endpoint,
                          line? line: "(no log)");
            free (line);
            free (log);
            return -1;
        }
        usleep (20 * 1000);
    }
    return wb_error_set (err, "the server of endpoint %s did not answer within %.0f s: see "
                         "%%endpoint show %s", endpoint, S_START_TIMEOUT, endpoint);
}

int
wb_serve_start (wb_store_t *store, const char *endpoint, const char *binary, wb_error_t *err)
{
    char self_path [4096];
    if (!binary) {
        const char *exe = getenv ("WORKBENCH_EXE");
        if (exe && *exe)
            binary = exe;
        else
        if (wb_self_path (self_path, sizeof (self_path)))
            binary = self_path;
        else
            return wb_error_set (err, "cannot find the workbench binary to start the server");
    }
    if (access (binary, X_OK))
        return wb_error_set (err, "cannot start the server: '%s' is gone (%s)", binary,
                             strerror (errno));
    char *folder = wb_sprintf ("%s/endpoints", wb_store_path (store));
    mkdir (folder, 0700);
    free (folder);
    char *log = wb_serve_log_path (store, endpoint);
    //  A server started from inside a job is not part of that job: it does
    //  not carry the job's run id, by which a job's leftovers are killed
    //  (built before fork: the child only execs)
    size_t count = 0;
    while (environ [count])
        count++;
    char **env = wb_calloc (count + 1, sizeof (char *));
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (!wb_starts_with (environ [i], "WORKBENCH_RUN_ID="))
            env [kept++] = environ [i];
    char *argv [] = { "workbench", "serve", (char *) wb_store_path (store), (char *) endpoint, NULL };
    //  Fork twice so the server belongs to no one: it outlives the kernel
    int report [2];
    if (pipe2 (report, O_CLOEXEC)) {
        free (env);
        free (log);
        return wb_error_set (err, "cannot start the server: %s", strerror (errno));
    }
    pid_t child = fork ();
    if (child == 0) {
        setsid ();
        pid_t grandchild = fork ();
        if (grandchild == 0) {
            int null = open ("/dev/null", O_RDWR);
            int out = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2 (null, 0);
            dup2 (null, 1);
            dup2 (out >= 0? out: null, 2);
            for (int fd = 3; fd < 1024; fd++)
                close (fd);
            sigset_t none;
            sigemptyset (&none);
            sigprocmask (SIG_SETMASK, &none, NULL);
            signal (SIGINT, SIG_IGN);
            signal (SIGPIPE, SIG_DFL);
            execve (binary, argv, env);
            fprintf (stderr, "workbench serve: cannot run '%s': %s\n", binary, strerror (errno));
            _exit (127);
        }
        ssize_t wrote = write (report [1], &grandchild, sizeof (grandchild));
        _exit (wrote == sizeof (grandchild)? 0: 1);
    }
    close (report [1]);
    free (env);
    free (log);
    pid_t server = -1;
    ssize_t got = child > 0? read (report [0], &server, sizeof (server)): -1;
    close (report [0]);
    if (child > 0)
        waitpid (child, NULL, 0);
    if (got != sizeof (server) || server <= 0)
        return wb_error_set (err, "cannot start the server of endpoint %s: %s", endpoint,
                             strerror (errno));
    return s_wait_loaded (store, endpoint, server, err);
}

int
wb_serve_reload (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    if (!record)
        return -1;
    bool alive = wb_registry_endpoint_alive (record);
    pid_t pid = (pid_t) json_integer_value (json_object_get (record, "pid"));
    json_decref (record);
    if (!alive)
        return wb_error_set (err, "endpoint %s is down: %%deploy brings it back", endpoint);
    kill (pid, SIGHUP);
    return s_wait_loaded (store, endpoint, pid, err);
}

int
wb_serve_stop (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    if (!record)
        return -1;
    bool alive = wb_registry_endpoint_alive (record);
    pid_t pid = (pid_t) json_integer_value (json_object_get (record, "pid"));
    int64_t start = json_integer_value (json_object_get (record, "pid_start"));
    json_decref (record);
    if (!alive)
        return 0;
    kill (pid, SIGTERM);
    double deadline = wb_time_mono () + 5;
    while (wb_store_process_start (pid) == start && wb_time_mono () < deadline)
        usleep (10 * 1000);
    if (wb_store_process_start (pid) == start) {
        kill (pid, SIGKILL);
        wb_registry_endpoint_process (store, endpoint, 0, 0, NULL);
    }
    return 0;
}

//  ---- A small HTTP client ----

int
wb_serve_request (int port, const char *method, const char *target, const char *headers,
                  const char *body, size_t size, double timeout, int *status, char **answer,
                  wb_error_t *err)
{
    if (answer)
        *answer = NULL;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wb_error_set (err, "cannot open a socket: %s", strerror (errno));
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &address, sizeof (address))) {
        int failure = errno;
        close (fd);
        return wb_error_set (err, "cannot reach 127.0.0.1:%d: %s", port, strerror (failure));
    }
    wb_buf_t *request = wb_buf_new ();
    wb_buf_printf (request, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                   "%sContent-Length: %zu\r\n\r\n", method, target, port, headers? headers: "",
                   body? size: 0);
    if (body)
        wb_buf_append (request, body, size);
    double deadline = wb_time_mono () + timeout;
    const char *data = wb_buf_data (request);
    size_t left = wb_buf_size (request);
    int rc = 0;
    while (left && rc == 0) {
        ssize_t sent = send (fd, data, left, MSG_NOSIGNAL);
        if (sent < 0 && errno != EINTR)
            rc = wb_error_set (err, "cannot send to 127.0.0.1:%d: %s", port, strerror (errno));
        if (sent > 0) {
            data += sent;
            left -= (size_t) sent;
        }
    }
    wb_buf_t *reply = wb_buf_new ();
    while (rc == 0) {
        int wait = (int) ((deadline - wb_time_mono ()) * 1000);
        struct pollfd item = { fd, POLLIN, 0 };
        if (wait <= 0 || poll (&item, 1, wait) == 0) {
            rc = wb_error_set (err, "127.0.0.1:%d did not answer within %.0f s", port, timeout);
            break;
        }
        char chunk [16384];
        ssize_t got = recv (fd, chunk, sizeof (chunk), 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        wb_buf_append (reply, chunk, (size_t) got);
    }
    close (fd);
    wb_buf_destroy (&request);
    const char *text = wb_buf_data (reply);
    const char *split = rc? NULL: strstr (text, "\r\n\r\n");
    if (rc == 0 && (!split || sscanf (text, "HTTP/1.%*d %d", status) != 1))
        rc = wb_error_set (err, "127.0.0.1:%d answered something that is not HTTP", port);
    if (rc == 0 && answer)
        *answer = wb_strndup (split + 4, wb_buf_size (reply) - (size_t) (split + 4 - text));
    wb_buf_destroy (&reply);
    return rc;
}

//  ---- Self-test ----

//  @selftest
void
wb_serve_test (bool verbose)
{
    (void) verbose;
    char folder [] = "/tmp/wb-serve-test-XXXXXX";
    assert (mkdtemp (folder));
    wb_error_t err;
    wb_store_t *store = wb_store_open (folder, true, &err);
    assert (store);
    //  A linear model y = 2 a + 3 b + 1 (written by hand)
    const char *model =
        "{\"format\":\"workbench-model\",\"version\":1,\"kind\":\"linear\","
        "\"task\":\"regression\",\"target\":{\"name\":\"y\",\"type\":\"numeric\","
        "\"mean\":0,\"std\":1},\"classes\":[],\"features\":["
        "{\"name\":\"a\",\"type\":\"numeric\",\"mean\":0,\"std\":1},"
        "{\"name\":\"b\",\"type\":\"numeric\",\"mean\":0,\"std\":1}],\"inputs\":2,"
        "\"layers\":[{\"weights\":[[2],[3]],\"bias\":[1],\"activation\":\"identity\"}],"
        "\"centers\":[],\"params\":{},\"training\":{},\"metrics\":null}";
    char run [16];
    wb_run_spec_t spec = { .name = "fit", .kind = "train" };
    assert (wb_store_run_create (store, &spec, run, &err) == 0);
    assert (wb_store_artifact_data (store, run, "outputs/model.json", model, strlen (model), &err) == 0);
    wb_model_spec_t registration = { "line", run, NULL, NULL, NULL };
    assert (wb_registry_model_register (store, &registration, &err) == 1);
    wb_keys_t made;
    assert (wb_registry_endpoint_create (store, "ep", "key", &made, &err) == 0);
    assert (wb_registry_deploy (store, "ep", "blue", "line", 1, -1, &err) == 0);
    json_t *record;
    char *key = wb_strdup (made.key [1]);
    //  The server in a child process
    pid_t child = fork ();
    assert (child >= 0);
    if (child == 0)
        _exit (wb_serve_main (folder, "ep"));
    int port = 0;
    for (int i = 0; i < 500 && !port; i++) {
        record = wb_registry_endpoint_get (store, "ep", &err);
        if (json_integer_value (json_object_get (record, "pid")) == child
        &&  json_integer_value (json_object_get (record, "loaded")) >= 1)
            port = (int) json_integer_value (json_object_get (record, "port"));
        json_decref (record);
        if (!port)
            usleep (10 * 1000);
    }
    assert (port > 0);
    int status;
    char *answer;
    const char *body = "{\"data\": [[1, 2], [0, 0]]}";
    //  No key, a wrong key: 401; the right key: predictions
    assert (wb_serve_request (port, "POST", "/score", "Content-Type: application/json\r\n",
                              body, strlen (body), 5, &status, &answer, &err) == 0);
    assert (status == 401 && strstr (answer, "unauthorized"));
    free (answer);
    char *auth = wb_sprintf ("Content-Type: application/json\r\nAuthorization: Bearer %sx\r\n", key);
    assert (wb_serve_request (port, "POST", "/score", auth, body, strlen (body), 5, &status,
                              &answer, &err) == 0);
    assert (status == 401);
    free (answer);
    free (auth);
    auth = wb_sprintf ("Content-Type: application/json\r\nAuthorization: Bearer %s\r\n", key);
    assert (wb_serve_request (port, "POST", "/score", auth, body, strlen (body), 5, &status,
                              &answer, &err) == 0);
    assert (status == 200);
    assert (streq (answer, "{\"predictions\":[9,1]}"));
    free (answer);
    //  A bad body says what the model expects
    assert (wb_serve_request (port, "POST", "/score", auth, "{\"data\": [[1]]}", 15, 5,
                              &status, &answer, &err) == 0);
    assert (status == 400 && strstr (answer, "feature_count") && strstr (answer, "\"expects\""));
    free (answer);
    //  Routes
    assert (wb_serve_request (port, "GET", "/health", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 200 && strstr (answer, "ready"));
    free (answer);
    assert (wb_serve_request (port, "GET", "/swagger.json", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 200 && strstr (answer, "openapi") && strstr (answer, "\"a\""));
    free (answer);
    assert (wb_serve_request (port, "GET", "/nope", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 404);
    free (answer);
    assert (wb_serve_request (port, "GET", "/metrics", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 200);
    assert (strstr (answer, "workbench_requests_total{endpoint=\"ep\",deployment=\"blue\",outcome=\"ok\"} 1"));
    assert (strstr (answer, "outcome=\"error\"} 1"));
    free (answer);
    //  A new version, loaded while running
    const char *model2 = "{\"format\":\"workbench-model\",\"version\":1,\"kind\":\"linear\","
        "\"task\":\"regression\",\"target\":{\"name\":\"y\",\"type\":\"numeric\","
        "\"mean\":0,\"std\":1},\"classes\":[],\"features\":["
        "{\"name\":\"a\",\"type\":\"numeric\",\"mean\":0,\"std\":1},"
        "{\"name\":\"b\",\"type\":\"numeric\",\"mean\":0,\"std\":1}],\"inputs\":2,"
        "\"layers\":[{\"weights\":[[0],[0]],\"bias\":[5],\"activation\":\"identity\"}],"
        "\"centers\":[],\"params\":{},\"training\":{},\"metrics\":null}";
    assert (wb_store_artifact_data (store, run, "outputs/model2.json", model2, strlen (model2), &err) == 0);
    registration.path = "outputs/model2.json";
    assert (wb_registry_model_register (store, &registration, &err) == 2);
    assert (wb_registry_deploy (store, "ep", "blue", "line", 2, -1, &err) == 0);
    assert (wb_serve_reload (store, "ep", &err) == 0);
    assert (wb_serve_request (port, "POST", "/score", auth, body, strlen (body), 5, &status,
                              &answer, &err) == 0);
    assert (status == 200 && streq (answer, "{\"predictions\":[5,5]}"));
    free (answer);
    free (auth);
    free (key);
    //  Stop: the log is written, the endpoint says it is down
    kill (child, SIGTERM);
    int child_status;
    assert (waitpid (child, &child_status, 0) == child);
    assert (WIFEXITED (child_status) && WEXITSTATUS (child_status) == 0);
    json_t *log = wb_registry_requests (store, "ep", 0, &err);
    assert (json_array_size (log) == 5);
    json_decref (log);
    record = wb_registry_endpoint_get (store, "ep", &err);
    assert (!wb_registry_endpoint_alive (record));
    json_decref (record);
    assert (wb_serve_request (port, "GET", "/", NULL, NULL, 0, 1, &status, &answer, &err) == -1);
    assert (strstr (err.text, "cannot reach"));
    wb_store_destroy (&store);
    char *command = wb_sprintf ("rm -rf '%s'", folder);
    assert (system (command) == 0);
    free (command);
}
//  @end
