/*  wb_serve_answer - how the scoring server answers: authorization, the
    traffic split, scoring, refusals, the request log's rows, /metrics,
    mirrored copies (on their own thread) and the warden that closes
    connections whose request is slow to arrive

    These are libmicrohttpd's callbacks; the server process
    (wb_serve_process.c) starts the daemon and the threads.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_serve_int.h"
#include "base/wb_util.h"

#define S_SAMPLE_EVERY     100      //  log the body of one success in this many
#define S_SAMPLE_BYTES     1024     //  at most this much of a body or answer
#define S_REFUSALS_KEPT    10       //  refusals a second whose rows are logged
#define S_LOG_PENDING      (256 * 1024) //  log rows waiting for the writer at most
#define S_MIRROR_BYTES     (64 * 1024 * 1024)   //  bytes of mirrored bodies waiting
#define S_ARRIVAL_BUSY     1.0      //  the same, when half the connections are waiting

static const char *s_refused_names [WB_SERVE__REFUSED_REASONS] = {
    "unauthorized", "unknown_deployment", "no_traffic", "route", "slow"
};

static const double s_bounds [WB_SERVE__BUCKETS - 1] = {
    0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000
};

//  Per-connection state of a request
typedef struct {
    wb_buf_t *body;                 //  what came so far
    bool too_large;                 //  over WB_SERVE_MAX_BODY
    double start;                   //  monotonic seconds at its first byte
    wb_serve__job_t *job;           //  waiting for a Python worker, or NULL
    bool pinned;                    //  X-Deployment chose the deployment
    size_t chosen;                  //  its index in the job's configuration
} s_request_t;

//  ---- Answering ----

static char *
    s_pool_answer (int status, json_t *reply, size_t *size);

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
        size_t size, wb_serve__deployment_t *deployment)
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
//  The columns a Python deployment's model names (lent), or NULL
static json_t *
s_pool_columns (wb_serve__deployment_t *deployment)
{
    json_t *columns = deployment && deployment->pool
        ? json_object_get (wb_pool_hello (deployment->pool->pool), "columns"): NULL;
    return json_array_size (columns)? columns: NULL;
}

//  A body refused before a Python deployment scores it, with what its
//  model takes (the columns it names)
static char *
s_pool_error_body (const char *code, const char *message, json_t *columns, size_t *size)
{
    json_t *error = json_pack ("{s:s, s:s}", "code", code, "message", message);
    if (columns)
        json_object_set_new (error, "expects", json_pack ("{s:o, s:[ss]}", "columns",
                             json_deep_copy (columns),     //  not a reference: shared
                             "content_types", "application/json", "text/csv"));
    json_t *body = json_pack ("{s:o}", "error", error);
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    *size = strlen (text);
    return text;
}

//  Rows for a model that names its columns: each named column is there
//  (rows by name), or each row has as many values (rows in order). 0, or
//  -1 with fault (the C scorer's codes).
static int
s_pool_check (json_t *model_columns, json_t *rows, json_t *columns, wb_scorer_fault_t *fault)
{
    if (!model_columns)
        return 0;
    size_t want = json_array_size (model_columns);
    char names [300] = "";
    size_t used = 0, index;
    json_t *name;
    json_array_foreach (model_columns, index, name) {
        int wrote = snprintf (names + used, sizeof (names) - used, "%s%s", index? ", ": "",
                              json_string_value (name)? json_string_value (name): "?");
        if (wrote < 0 || (size_t) wrote >= sizeof (names) - used) {
            snprintf (names + (sizeof (names) > 5? sizeof (names) - 5: 0), 5, "...");
            break;
        }
        used += (size_t) wrote;
    }
    json_t *row;
    json_array_foreach (rows, index, row) {
        if (json_is_array (row) && !columns && json_array_size (row) != want) {
            fault->status = 400;
            fault->code = "feature_count";
            snprintf (fault->message, sizeof (fault->message), "row %zu has %zu values; the model "
                      "takes %zu (%s)", index + 1, json_array_size (row), want, names);
            return -1;
        }
        size_t c;
        json_t *column;
        json_array_foreach (model_columns, c, column) {
            const char *wanted = json_string_value (column);
            bool found = !wanted;
            if (json_is_object (row))
                found = found || json_object_get (row, wanted);
            else
            if (columns) {
                size_t k;
                json_t *given;
                json_array_foreach (columns, k, given)
                    found = found || (json_is_string (given) && streq (json_string_value (given), wanted));
            }
            else
                found = true;
            if (!found) {
                fault->status = 400;
                fault->code = "missing_column";
                snprintf (fault->message, sizeof (fault->message), "column '%s' that the model "
                          "takes is missing%s%zu; it takes %s", wanted,
                          json_is_object (row)? " from row ": " (row ", index + 1, names);
                if (!json_is_object (row))
                    strncat (fault->message, ")", sizeof (fault->message) - strlen (fault->message) - 1);
                return -1;
            }
        }
        if (columns)
            break;              //  one list of names for every row
    }
    return 0;
}

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
s_refusal_slot (wb_serve__server_t *server)
{
    long long second = (long long) wb_time_mono ();
    long long seen = atomic_load (&server->refusal_second);
    if (seen != second && atomic_compare_exchange_strong (&server->refusal_second, &seen, second))
        atomic_store (&server->refusals_kept, 0);
    return atomic_fetch_add (&server->refusals_kept, 1) < S_REFUSALS_KEPT;
}

static void
    s_record (wb_serve__server_t *server, wb_serve__deployment_t *deployment, int status,
              int rows, double start, bool mirrored, const char *body, size_t body_size,
              const char *answer, size_t answer_size);

//  Count a request refused before a deployment took it; log a sample
static void
s_refused (wb_serve__server_t *server, int reason, int status, double start, const char *body,
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
s_record (wb_serve__server_t *server, wb_serve__deployment_t *deployment, int status,
          int rows, double start, bool mirrored, const char *body, size_t body_size,
          const char *answer, size_t answer_size)
{
    double latency = (wb_time_mono () - start) * 1000;
    if (deployment) {
        wb_serve__stats_t *stats = deployment->stats;
        if (mirrored)
            atomic_fetch_add (&stats->mirrored, 1);
        else {
            atomic_fetch_add (&stats->requests, 1);
            if (status >= 400)
                atomic_fetch_add (&stats->errors, 1);
            size_t bucket = 0;
            while (bucket < WB_SERVE__BUCKETS - 1 && latency > s_bounds [bucket])
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
s_mirror (wb_serve__server_t *server, wb_serve__config_t *config, size_t index,
          const char *type, const char *body, size_t size)
{
    pthread_mutex_lock (&server->lock);
    size_t next = (server->tail + 1) % WB_SERVE__MIRROR_QUEUE;
    if (next != server->head && server->queued_bytes + size <= S_MIRROR_BYTES) {
        server->queued_bytes += size;
        atomic_fetch_add (&config->refs, 1);
        wb_serve__copy_t *copy = &server->queue [server->tail];
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

void *
wb_serve__mirror_thread (void *arg)
{
    wb_serve__server_t *server = arg;
    int ignored = setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);
    (void) ignored;
    wb_buf_t *answer = wb_buf_new ();
    pthread_mutex_lock (&server->lock);
    while (true) {
        while (server->head == server->tail && !server->stopping)
            pthread_cond_wait (&server->wake, &server->lock);
        if (server->head == server->tail)
            break;
        wb_serve__copy_t copy = server->queue [server->head];
        server->head = (server->head + 1) % WB_SERVE__MIRROR_QUEUE;
        server->queued_bytes -= copy.size;
        pthread_mutex_unlock (&server->lock);
        double start = wb_time_mono ();
        wb_serve__deployment_t *deployment = &copy.config->deployments [copy.deployment];
        wb_scorer_fault_t fault;
        wb_buf_reset (answer);
        int rows, status;
        if (deployment->pool) {
            json_t *rows_json, *columns, *reply = NULL;
            bool proba = false;
            char *detail = NULL;
            if (wb_serve__rows (copy.type, copy.body, copy.size, &rows_json, &columns, &proba, &fault)) {
                status = fault.status;
                rows = 0;
            }
            else {
                status = wb_pool_score (deployment->pool->pool, rows_json, columns, false,
                                        &reply, &detail);
                rows = status == 200? (int) json_array_size (rows_json): 0;
                size_t size;
                char *text = s_pool_answer (status, reply, &size);
                wb_buf_append (answer, text, size);
                free (text);
                json_decref (rows_json);
                json_decref (columns);
            }
            json_decref (reply);
            free (detail);
        }
        else {
            rows = wb_scorer_score (deployment->scorer, copy.type, copy.body, copy.size,
                                    false, answer, &fault);
            status = rows < 0? fault.status: 200;
        }
        s_record (server, deployment, status, rows < 0? 0: rows, start,
                  true, copy.body, copy.size, wb_buf_data (answer), wb_buf_size (answer));
        free (copy.type);
        free (copy.body);
        wb_serve__config_release (copy.config);
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
s_authorized (wb_serve__server_t *server, wb_serve__config_t *config,
              struct MHD_Connection *connection)
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

//  A pool's answer to a job: kept, and the connection resumed (on the
//  pool's thread that read it, the lock of no pool held)
static void
s_job_done (void *arg, int status, json_t *reply, char *detail)
{
    wb_serve__job_t *job = arg;
    wb_serve__server_t *server = job->server;
    job->status = status;
    job->reply = reply;
    job->detail = detail;
    atomic_store (&job->done, true);
    MHD_resume_connection (job->connection);    //  job is the connection's from here
    pthread_mutex_lock (&server->jobs_lock);
    if (--server->jobs_out == 0 && server->jobs_stopping)
        pthread_cond_broadcast (&server->jobs_wake);
    pthread_mutex_unlock (&server->jobs_lock);
}

static enum MHD_Result
s_score (wb_serve__server_t *server, struct MHD_Connection *connection, s_request_t *request)
{
    wb_serve__config_t *config = wb_serve__config_hold (server);
    size_t size;
    char *text;
    enum MHD_Result result;
    const char *body = wb_buf_data (request->body);
    size_t body_size = wb_buf_size (request->body);
    if (!s_authorized (server, config, connection)) {
        text = s_error_body ("unauthorized", "send one of the endpoint's keys as "
                             "`Authorization: Bearer KEY` (they are shown when made: "
                             "%endpoint keys EP --regenerate makes new ones)", NULL, &size);
        s_refused (server, WB_SERVE__REFUSED_UNAUTHORIZED, 401, request->start, NULL, 0,
                   text, size);
        result = s_send (connection, MHD_HTTP_UNAUTHORIZED, "application/json", text, size, NULL);
        wb_serve__config_release (config);
        return result;
    }
    //  Which deployment: pinned by a header, else drawn by the split
    const char *pin = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "X-Deployment");
    if (!pin)
        pin = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "azureml-model-deployment");
    wb_serve__deployment_t *deployment = NULL;
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
            s_refused (server, WB_SERVE__REFUSED_DEPLOYMENT, 400, request->start, body, body_size,
                       text, size);
            result = s_send (connection, MHD_HTTP_BAD_REQUEST, "application/json", text, size, NULL);
            wb_serve__config_release (config);
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
        s_refused (server, WB_SERVE__REFUSED_NO_TRAFFIC, 503, request->start, body, body_size,
                   text, size);
        result = s_send (connection, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", text, size, NULL);
        wb_serve__config_release (config);
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
    else
    if (deployment->pool) {
        //  A user's own model: its pool scores while the connection is
        //  suspended; s_job_done resumes it, s_python_done answers
        wb_scorer_fault_t fault;
        json_t *rows_json, *columns;
        int refused = wb_serve__rows (type, body, body_size, &rows_json, &columns,
                                      &probabilities, &fault);
        if (!refused && s_pool_check (s_pool_columns (deployment), rows_json, columns, &fault)) {
            json_decref (rows_json);
            json_decref (columns);
            refused = -1;
        }
        if (refused) {
            text = s_pool_error_body (fault.code, fault.message, s_pool_columns (deployment), &size);
            status = fault.status;
            rows = 0;
        }
        else {
            pthread_mutex_lock (&server->jobs_lock);
            bool stopping = server->jobs_stopping;
            if (!stopping)
                server->jobs_out++;
            pthread_mutex_unlock (&server->jobs_lock);
            if (!stopping) {
                wb_serve__job_t *job = wb_calloc (1, sizeof (wb_serve__job_t));
                job->server = server;
                job->config = config;       //  the job holds our reference now
                job->deployment = chosen;
                job->connection = connection;
                job->nrows = json_array_size (rows_json);
                request->job = job;
                request->pinned = pin != NULL;
                request->chosen = chosen;
                //  Suspended first: the answer may come before submit returns
                MHD_suspend_connection (connection);
                wb_pool_submit (deployment->pool->pool, rows_json, columns, probabilities,
                                s_job_done, job);
                json_decref (rows_json);
                json_decref (columns);
                return MHD_YES;
            }
            json_decref (rows_json);
            json_decref (columns);
            text = s_error_body ("unavailable", "the endpoint is stopping", NULL, &size);
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            rows = 0;
        }
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
    wb_serve__config_release (config);
    return result;
}

//  ---- Python deployments ----

//  The answer of a pool as text: its body (a scoring script's dict as it is)
static char *
s_pool_answer (int status, json_t *reply, size_t *size)
{
    json_t *result = json_object_get (reply, "result");
    char *text = json_dumps (status == 200 && json_is_object (result)? result: reply,
                             JSON_COMPACT);
    if (!text)
        text = wb_strdup ("{\"error\": {\"code\": \"scorer_error\", \"message\": "
                          "\"the answer is not JSON\"}}");
    *size = strlen (text);
    return text;
}

//  A resumed connection whose job is done: answer it, log it, mirror it
static enum MHD_Result
s_python_done (wb_serve__server_t *server, struct MHD_Connection *connection, s_request_t *request)
{
    wb_serve__job_t *job = request->job;
    request->job = NULL;
    wb_serve__config_t *config = job->config;
    wb_serve__deployment_t *deployment = &config->deployments [job->deployment];
    //  Probabilities come with the classes they are of, as the C scorer's do
    json_t *classes = json_object_get (wb_pool_hello (deployment->pool->pool), "classes");
    if (job->status == 200 && json_object_get (job->reply, "probabilities") && json_is_array (classes))
        json_object_set_new (job->reply, "classes", json_deep_copy (classes));
        //  a copy: taking a reference would write the shared hello's count
        //  from every request thread
    size_t size;
    char *text = s_pool_answer (job->status, job->reply, &size);
    const char *body = wb_buf_data (request->body);
    size_t body_size = wb_buf_size (request->body);
    //  The request log gets the traceback of a scorer's exception, the
    //  caller only its name and message
    char *logged = job->detail? wb_sprintf ("%s\n%s", text, job->detail): NULL;
    s_record (server, deployment, job->status, job->status == 200? (int) job->nrows: 0,
              request->start, false, body, body_size, logged? logged: text,
              logged? strlen (logged): size);
    free (logged);
    enum MHD_Result result = s_send (connection, job->status, "application/json", text, size,
                                     deployment);
    if (job->status == 200 && !request->pinned) {
        const char *type = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_CONTENT_TYPE);
        for (size_t i = 0; i < config->count; i++)
            if (i != request->chosen && config->deployments [i].mirror > 0
            &&  s_percent () < (unsigned) config->deployments [i].mirror * 100)
                s_mirror (server, config, i, type, body, body_size);
    }
    json_decref (job->reply);
    free (job->detail);
    free (job);
    wb_serve__config_release (config);
    return result;
}

//  The Python deployments' workers, for /metrics: how many serve, restarts,
//  the queue, and rows per call to a worker (the batches)
static void
s_metrics_pools (wb_serve__server_t *server, wb_buf_t *buf)
{
    wb_serve__config_t *config = wb_serve__config_hold (server);
    if (!config)
        return;
    static const char *families [][3] = {
        { "workbench_workers", "gauge", "Python worker processes a deployment keeps" },
        { "workbench_workers_ready", "gauge", "Of them, serving now" },
        { "workbench_worker_restarts_total", "counter", "Worker processes started again (crash, timeout, failed start)" },
        { "workbench_worker_queue", "gauge", "Requests waiting for a worker now" },
        { "workbench_worker_errors_total", "counter", "Worker answers by status: 500 scorer error, 503 crashed, 504 timeout, 413 too large" },
        { "workbench_batch_rows", "histogram", "Rows per call to a worker (a batch of requests, or one)" },
    };
    bool any = false;
    for (size_t i = 0; i < config->count; i++)
        any = any || config->deployments [i].pool;
    for (int f = 0; any && f < 6; f++) {
        wb_buf_printf (buf, "# HELP %s %s\n# TYPE %s %s\n", families [f][0], families [f][2],
                       families [f][0], families [f][1]);
        for (size_t i = 0; i < config->count; i++) {
            wb_serve__deployment_t *d = &config->deployments [i];
            if (!d->pool)
                continue;
            wb_pool_stats_t stats;
            wb_pool_stats (d->pool->pool, &stats);
            const char *name = families [f][0];
            if (f == 0 || f == 1 || f == 3)
                wb_buf_printf (buf, "%s{endpoint=\"%s\",deployment=\"%s\"} %llu\n", name,
                               server->endpoint, d->name, (unsigned long long)
                               (f == 0? (size_t) stats.workers: f == 1? (size_t) stats.ready: stats.queued));
            else
            if (f == 2)
                wb_buf_printf (buf, "%s{endpoint=\"%s\",deployment=\"%s\"} %llu\n", name,
                               server->endpoint, d->name, (unsigned long long) stats.restarts);
            else
            if (f == 4) {
                const char *codes [] = { "500", "503", "504", "413" };
                uint64_t counts [] = { stats.scorer_errors, stats.crashed, stats.timeouts, stats.too_large };
                for (int c = 0; c < 4; c++)
                    wb_buf_printf (buf, "%s{endpoint=\"%s\",deployment=\"%s\",status=\"%s\"} %llu\n",
                                   name, server->endpoint, d->name, codes [c],
                                   (unsigned long long) counts [c]);
            }
            else {
                unsigned long long cumulative = 0;
                for (int b = 0; b < WB_POOL_BUCKETS; b++) {
                    cumulative += stats.batch_sizes [b];
                    if (b < WB_POOL_BUCKETS - 1)
                        wb_buf_printf (buf, "%s_bucket{endpoint=\"%s\",deployment=\"%s\",le=\"%d\"} %llu\n",
                                       name, server->endpoint, d->name, 1 << b, cumulative);
                    else
                        wb_buf_printf (buf, "%s_bucket{endpoint=\"%s\",deployment=\"%s\",le=\"+Inf\"} %llu\n",
                                       name, server->endpoint, d->name, cumulative);
                }
                wb_buf_printf (buf, "%s_sum{endpoint=\"%s\",deployment=\"%s\"} %llu\n"
                               "%s_count{endpoint=\"%s\",deployment=\"%s\"} %llu\n",
                               name, server->endpoint, d->name, (unsigned long long) stats.rows,
                               name, server->endpoint, d->name, (unsigned long long) stats.batches);
            }
        }
    }
    wb_serve__config_release (config);
}

static char *
s_metrics_text (wb_serve__server_t *server)
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
            wb_serve__stats_t *s = &server->stats [i];
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
                for (int b = 0; b < WB_SERVE__BUCKETS; b++) {
                    cumulative += atomic_load (&s->buckets [b]);
                    if (b < WB_SERVE__BUCKETS - 1)
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
    for (int r = 0; r < WB_SERVE__REFUSED_REASONS; r++)
        wb_buf_printf (buf, "workbench_refused_total{endpoint=\"%s\",reason=\"%s\"} %llu\n",
                       server->endpoint, s_refused_names [r], atomic_load (&server->refused [r]));
    wb_buf_printf (buf, "# HELP workbench_unlogged_total Requests counted here but not written "
                   "to the request log (refusals beyond the sample, or the writer behind)\n"
                   "# TYPE workbench_unlogged_total counter\n"
                   "workbench_unlogged_total{endpoint=\"%s\"} %llu\n", server->endpoint,
                   atomic_load (&server->unlogged));
    s_metrics_pools (server, buf);
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
//  headers and body: WB_SERVE__ARRIVAL seconds from the connection's start (or
//  its previous answer), S_ARRIVAL_BUSY when half the connections are
//  waiting for theirs. The warden thread shuts down the sockets over it
//  (libmicrohttpd then closes them); a request that has arrived is never
//  cut. Every client here comes from 127.0.0.1, so a limit per address
//  would lock out the good clients with the bad: the budget is per
//  connection.

void
wb_serve__notify_connection (void *cls, struct MHD_Connection *connection,
                             void **socket_context, enum MHD_ConnectionNotificationCode code)
{
    wb_serve__server_t *server = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection,
                                                   MHD_CONNECTION_INFO_CONNECTION_FD);
        wb_serve__conn_t *conn = wb_calloc (1, sizeof (wb_serve__conn_t));
        conn->fd = info? (int) info->connect_fd: -1;
        atomic_init (&conn->since, wb_time_mono ());
        atomic_init (&conn->arrived, false);
        pthread_mutex_lock (&server->conns_lock);
        if (server->nconns == server->conns_room) {
            server->conns_room = server->conns_room? server->conns_room * 2: 256;
            server->conns = wb_realloc (server->conns,
                                        server->conns_room * sizeof (wb_serve__conn_t *));
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
        wb_serve__conn_t *conn = *socket_context;
        pthread_mutex_lock (&server->conns_lock);
        wb_serve__conn_t *last = server->conns [--server->nconns];
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
    wb_serve__conn_t *conn = info? info->socket_context: NULL;
    if (!conn)
        return;
    if (!arrived)
        atomic_store (&conn->since, wb_time_mono ());
    atomic_store (&conn->arrived, arrived);
}

//  One pass: cut the connections over their budget. The count cut.
static size_t
s_warden_pass (wb_serve__server_t *server)
{
    double now = wb_time_mono ();
    size_t cut = 0, waiting = 0;
    pthread_mutex_lock (&server->conns_lock);
    for (size_t i = 0; i < server->nconns; i++)
        waiting += !atomic_load (&server->conns [i]->arrived) && !server->conns [i]->cut;
    double budget = waiting * 2 >= server->max_connections? S_ARRIVAL_BUSY: WB_SERVE__ARRIVAL;
    for (size_t i = 0; i < server->nconns; i++) {
        wb_serve__conn_t *conn = server->conns [i];
        if (!atomic_load (&conn->arrived) && !conn->cut && conn->fd >= 0
        &&  now - atomic_load (&conn->since) > budget) {
            shutdown (conn->fd, SHUT_RDWR);
            conn->cut = true;
            cut++;
        }
    }
    pthread_mutex_unlock (&server->conns_lock);
    atomic_fetch_add (&server->refused [WB_SERVE__REFUSED_SLOW], cut);
    return cut;
}

void *
wb_serve__warden_thread (void *arg)
{
    wb_serve__server_t *server = arg;
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

enum MHD_Result
wb_serve__handle (void *cls, struct MHD_Connection *connection, const char *url,
                  const char *method, const char *version, const char *upload_data,
                  size_t *upload_data_size, void **con_cls)
{
    (void) version;
    wb_serve__server_t *server = cls;
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
    if (request->job && atomic_load (&request->job->done))
        return s_python_done (server, connection, request);
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
        atomic_fetch_add (&server->refused [WB_SERVE__REFUSED_ROUTE], 1);
        return s_send (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", text, size, NULL);
    }
    bool known = streq (url, "/") || streq (url, "/health") || streq (url, "/swagger.json")
              || streq (url, "/metrics");
    if (known && !get) {
        text = s_error_body ("method", "this route takes GET", NULL, &size);
        atomic_fetch_add (&server->refused [WB_SERVE__REFUSED_ROUTE], 1);
        return s_send (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", text, size, NULL);
    }
    if (streq (url, "/")) {
        text = s_json_text (json_pack ("{s:s, s:s}", "status", "alive",
                                       "endpoint", server->endpoint), &size);
        return s_send (connection, MHD_HTTP_OK, "application/json", text, size, NULL);
    }
    if (streq (url, "/health")) {
        wb_serve__config_t *config = wb_serve__config_hold (server);
        json_t *deployments = json_array ();
        for (size_t i = 0; i < config->count; i++)
            json_array_append_new (deployments, json_pack ("{s:s, s:s, s:i, s:i}",
                "name", config->deployments [i].name, "model", config->deployments [i].model,
                "traffic", config->deployments [i].traffic, "mirror", config->deployments [i].mirror));
        bool ready = config->taking > 0;
        text = s_json_text (json_pack ("{s:s, s:I, s:o}", "status", ready? "ready": "no traffic",
                                       "generation", (json_int_t) config->generation,
                                       "deployments", deployments), &size);
        wb_serve__config_release (config);
        return s_send (connection, ready? MHD_HTTP_OK: MHD_HTTP_SERVICE_UNAVAILABLE,
                       "application/json", text, size, NULL);
    }
    if (streq (url, "/swagger.json")) {
        wb_serve__config_t *config = wb_serve__config_hold (server);
        text = wb_strdup (config->swagger);
        size = strlen (text);
        wb_serve__config_release (config);
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
    atomic_fetch_add (&server->refused [WB_SERVE__REFUSED_ROUTE], 1);
    return s_send (connection, MHD_HTTP_NOT_FOUND, "application/json", text, size, NULL);
}

void
wb_serve__completed (void *cls, struct MHD_Connection *connection, void **con_cls,
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
