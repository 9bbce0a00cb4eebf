/*  wb_pool_worker - one worker of a pool: its thread

    The thread starts the process (wb_pool_process.c), takes requests from
    the pool's queue (wb_pool__take batches them), sends them as one frame,
    waits for the reply within the request timeout, splits it back and
    answers each request. When the process dies, breaks the protocol or is
    killed on a timeout, the requests it held are answered and a new
    process is started, after a pause when it keeps failing.

    Part of wb_pool (wb_pool_int.h).
*/
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_pool_int.h"
#include "base/wb_util.h"

#define S_BACKOFF_MAX   30.0    //  seconds a start waits at most in a burst

//  How a call ended for the worker
enum {
    S_CALL_OK,                  //  the process serves on
    S_CALL_GONE,                //  it was ended: start another
    S_CALL_STOPPED              //  it was ended because the pool stops
};

//  ---- Calls ----

//  The call failed with rc (WB_POOL__IO_*): end the process, answer the
//  requests
static int
s_call_failed (wb_pool__worker_t *self, wb_pool__request_t **batch, size_t count, int rc,
               size_t size, char **why)
{
    wb_pool_t *pool = self->pool;
    char how [128], *message;
    if (rc == WB_POOL__IO_TIMEOUT) {
        wb_pool__log (pool, self->index, "killed: a request took longer than %g s "
                      "(the request timeout)", pool->request_timeout);
        wb_pool__end (self, 0, how, sizeof (how));
        *why = wb_sprintf ("it was killed: a request took longer than %g s",
                           pool->request_timeout);
        message = wb_sprintf ("the request took longer than %g s (the deployment's request "
                              "timeout); its worker was killed and is being restarted",
                              pool->request_timeout);
        wb_pool__fail (pool, batch, count, 504, "timeout", message, NULL);
    }
    else
    if (rc == WB_POOL__IO_STOPPED) {
        wb_pool__log (pool, self->index, "killed: still busy %g s after the pool began "
                      "to stop", WB_POOL__STOP_GRACE);
        wb_pool__end (self, 0, how, sizeof (how));
        message = wb_strdup ("the deployment stopped before its worker answered");
        wb_pool__fail (pool, batch, count, 503, "unavailable", message, NULL);
        free (message);
        return S_CALL_STOPPED;
    }
    else
    if (rc == WB_POOL__IO_TOO_BIG) {
        wb_pool__log (pool, self->index, "killed: its reply of %zu bytes is over the "
                      "256 MiB limit", size);
        wb_pool__end (self, 0, how, sizeof (how));
        *why = wb_sprintf ("it was killed: its reply of %zu bytes was over the limit", size);
        message = wb_sprintf ("the scorer's reply is %zu bytes, over the 256 MiB a reply "
                              "may have: score fewer rows at a time", size);
        wb_pool__fail (pool, batch, count, 500, "scorer_error", message, NULL);
    }
    else {
        wb_pool__end (self, WB_POOL__EXIT_WAIT, how, sizeof (how));
        wb_pool__log (pool, self->index, "died with %zu request%s in flight", count,
                      count == 1? "": "s");
        *why = wb_sprintf ("it %s", how);
        message = wb_sprintf ("the worker scoring this request %s; it is being restarted",
                              how);
        wb_pool__fail (pool, batch, count, 503, "worker_crashed", message, NULL);
    }
    free (message);
    return S_CALL_GONE;
}

static int
    s_call (wb_pool__worker_t *self, wb_pool__request_t **batch, size_t count, char **why);

//  The reply says the scorer raised: a call of one request gets the 500;
//  each request of a batch is scored again alone, so that only those
//  whose rows raise get it
static int
s_raised (wb_pool__worker_t *self, wb_pool__request_t **batch, size_t count,
          const char *error, const char *traceback, char **why)
{
    wb_pool_t *pool = self->pool;
    if (count == 1) {
        wb_pool__fail (pool, batch, 1, 500, "scorer_error", error, traceback);
        return S_CALL_OK;
    }
    for (size_t index = 0; index < count; index++) {
        int rc = s_call (self, &batch [index], 1, why);
        if (rc != S_CALL_OK) {
            char *message = rc == S_CALL_STOPPED
                          ? wb_strdup ("the deployment stopped before its worker answered")
                          : wb_sprintf ("the worker holding this request was restarted (%s)",
                                        *why);
            wb_pool__fail (pool, batch + index + 1, count - index - 1, 503,
                           rc == S_CALL_STOPPED? "unavailable": "worker_crashed", message, NULL);
            free (message);
            return rc;
        }
    }
    return S_CALL_OK;
}

//  The worker broke the protocol (what it sent, e.g. "a reply that is not
//  a JSON object"): kill it, answer the requests with 503
static int
s_broken (wb_pool__worker_t *self, wb_pool__request_t **batch, size_t count, const char *what,
          char **why)
{
    wb_pool_t *pool = self->pool;
    wb_pool__log (pool, self->index, "killed: it sent %s", what);
    char how [128];
    wb_pool__end (self, 0, how, sizeof (how));
    *why = wb_sprintf ("it was killed: it sent %s", what);
    char *message = wb_sprintf ("the worker scoring this request sent %s; it is being "
                                "restarted", what);
    wb_pool__fail (pool, batch, count, 503, "worker_crashed", message, NULL);
    free (message);
    return S_CALL_GONE;
}

//  ---- Raw numbers: a matrix request, raw fields of its reply ----

//  A matrix's numbers as the frame after its request: the caller's
//  doubles as they are on a little-endian host, else in that order
static int
s_matrix_write (wb_pool__worker_t *self, wb_pool__request_t *request, double deadline)
{
    const char *bytes = request->matrix? (const char *) request->matrix: "";
    char *ordered = NULL;
#if defined (__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    ordered = wb_malloc (request->rows_size + 1);
    for (size_t index = 0; index < request->rows_size; index++)
        ordered [index] = bytes [index ^ 7];
    bytes = ordered;
#endif
    int rc = wb_pool__frame_write (self, bytes, request->rows_size, deadline);
    free (ordered);
    return rc;
}

static void
s_raw_free (wb_pool__request_t *request)
{
    for (size_t key = 0; key < 2; key++) {
        free (request->raw [key]);
        request->raw [key] = NULL;
    }
}

//  How many rows a reply's predictions or probabilities hold: an array, or
//  a raw field's descriptor (checked)
static size_t
s_count (json_t *field)
{
    return json_is_array (field)? json_array_size (field)
                                : (size_t) json_integer_value (json_array_get (
                                      json_object_get (field, "shape"), 0));
}

//  A reply to request, a matrix: each of its predictions and probabilities
//  that is a descriptor {"dtype": "<f8" | "<i8", "shape": [n] | [n, k]}
//  is checked and its frame read into request->raw (the caller makes them
//  JSON with wb_pool__raw_json: not on this thread, which its worker waits
//  for).
//  WB_POOL__IO_READY; another WB_POOL__IO_* when reading failed (the size
//  announced in *size_p); or -1 with *what (lent) when the reply breaks
//  the protocol. Frames read are freed on failure.
static int
s_raw_fields (wb_pool__worker_t *self, wb_pool__request_t *request, json_t *reply,
              double deadline, size_t *size_p, const char **what)
{
    int rc = WB_POOL__IO_READY;
    const char *keys [] = { "predictions", "probabilities" };
    for (size_t key = 0; key < 2; key++) {
        json_t *field = json_object_get (reply, keys [key]);
        if (!json_is_object (field))
            continue;
        const char *dtype = json_string_value (json_object_get (field, "dtype"));
        json_t *shape = json_object_get (field, "shape");
        size_t dims = json_array_size (shape), count [2] = { 0, 0 }, values = 1;
        bool right = dtype && (streq (dtype, "<f8") || streq (dtype, "<i8"))
                  && json_is_array (shape) && (dims == 1 || dims == 2);
        for (size_t dim = 0; right && dim < dims; dim++) {
            json_t *extent = json_array_get (shape, dim);
            json_int_t number = json_integer_value (extent);
            right = json_is_integer (extent) && number >= 0
                 && (uint64_t) number <= WB_POOL__FRAME_MAX / 8;
            count [dim] = right? (size_t) number: 0;
            values *= count [dim];
            right = right && values <= WB_POOL__FRAME_MAX / 8;
        }
        if (!right) {
            *what = "a raw field that is not {\"dtype\": \"<f8\" or \"<i8\", \"shape\": [n] "
                    "or [n, k]}";
            rc = -1;
            break;
        }
        size_t size = 0;
        rc = wb_pool__frame_read (self, deadline, &request->raw [key], &size);
        *size_p = size;
        if (rc != WB_POOL__IO_READY)
            break;
        if (size != values * 8) {
            *what = "a raw field whose frame does not hold its shape";
            rc = -1;
            break;
        }
    }
    if (rc != WB_POOL__IO_READY)
        s_raw_free (request);
    return rc;
}

//  ---- Splitting a reply back ----

//  Items [offset, offset + count) of array, a new array
static json_t *
s_slice (json_t *array, size_t offset, size_t count)
{
    json_t *slice = json_array ();
    for (size_t index = 0; index < count; index++)
        json_array_append (slice, json_array_get (array, offset + index));
    return slice;
}

//  Send the requests as one, wait for the reply, answer them
static int
s_call (wb_pool__worker_t *self, wb_pool__request_t **batch, size_t count, char **why)
{
    wb_pool_t *pool = self->pool;
    uint64_t id = ++self->next_id;
    size_t rows = 0;
    wb_buf_t *buf = wb_buf_new ();
    wb_pool__request_t *matrix = batch [0]->is_matrix? batch [0]: NULL;
    assert (!matrix || count == 1);
    if (matrix) {
        wb_buf_printf (buf, "{\"id\":%" PRIu64 ",\"matrix\":{\"dtype\":\"<f8\","
                       "\"shape\":[%zu,%zu]}", id, matrix->nrows, matrix->ncols);
        rows = matrix->nrows;
    }
    else
        wb_buf_printf (buf, "{\"id\":%" PRIu64 ",\"rows\":[", id);
    bool any = false;
    for (size_t index = 0; !matrix && index < count; index++) {
        //  Each request's rows are "[...]": their insides are joined
        size_t inside = batch [index]->rows_size - 2;
        if (inside) {
            if (any)
                wb_buf_append (buf, ",", 1);
            wb_buf_append (buf, batch [index]->rows + 1, inside);
            any = true;
        }
        rows += batch [index]->nrows;
    }
    wb_buf_printf (buf, "%s,\"columns\":%s,\"proba\":%s}", matrix? "": "]",
                   batch [0]->columns, batch [0]->proba? "true": "false");
    wb_pool__count_call (pool, rows);
    double deadline = pool->request_timeout > 0? wb_time_mono () + pool->request_timeout: 0;
    int rc = wb_pool__frame_write (self, wb_buf_data (buf), wb_buf_size (buf), deadline);
    wb_buf_destroy (&buf);
    if (rc == WB_POOL__IO_READY && matrix)
        rc = s_matrix_write (self, matrix, deadline);
    char *frame = NULL;
    size_t size = 0;
    if (rc == WB_POOL__IO_READY)
        rc = wb_pool__frame_read (self, deadline, &frame, &size);
    if (rc != WB_POOL__IO_READY)
        return s_call_failed (self, batch, count, rc, size, why);

    json_t *reply = json_loadb (frame, size, 0, NULL);
    free (frame);
    json_t *got_id = json_object_get (reply, "id");
    if (!json_is_object (reply) || !json_is_integer (got_id)
    ||  json_integer_value (got_id) != (json_int_t) id) {
        const char *what = !json_is_object (reply)? "a reply that is not a JSON object"
                                                  : "a reply to another request";
        json_decref (reply);
        return s_broken (self, batch, count, what, why);
    }
    if (matrix && !json_object_get (reply, "error")) {
        const char *what = NULL;
        rc = s_raw_fields (self, matrix, reply, deadline, &size, &what);
        if (rc != WB_POOL__IO_READY)
            json_decref (reply);
        if (rc == -1)
            return s_broken (self, batch, count, what, why);
        if (rc != WB_POOL__IO_READY)
            return s_call_failed (self, batch, count, rc, size, why);
    }
    json_t *error = json_object_get (reply, "error");
    json_t *result = json_object_get (reply, "result");
    json_t *predictions = json_object_get (reply, "predictions");
    json_t *probabilities = batch [0]->proba? json_object_get (reply, "probabilities"): NULL;
    if (error) {
        char *text = wb_strdup (json_is_string (error)? json_string_value (error)
                                                       : "the scorer failed");
        const char *traceback = json_string_value (json_object_get (reply, "traceback"));
        char *detail = traceback? wb_strdup (traceback): NULL;
        json_decref (reply);
        rc = s_raised (self, batch, count, text, detail, why);
        free (text);
        free (detail);
        return rc;
    }
    char *problem = NULL;
    if (result && count > 1)
        problem = wb_sprintf ("the scorer returned a dict for a batch of %zu requests: "
                              "batching needs a list with one prediction a row (return a "
                              "list, or set BATCH = False in the scoring script)", count);
    else
    if (!result && !json_is_array (predictions) && !(matrix && matrix->raw [0]))
        problem = wb_strdup ("the worker's reply has no predictions, result or error");
    else
    if (!result && s_count (predictions) != rows)
        problem = wb_sprintf ("the scorer returned %zu predictions for %zu rows: it must "
                              "return one a row", s_count (predictions), rows);
    else
    if (!result && probabilities
    &&  ((!json_is_array (probabilities) && !(matrix && matrix->raw [1]))
    ||   s_count (probabilities) != rows))
        problem = wb_sprintf ("the scorer returned %zu probabilities for %zu rows: it must "
                              "return one list a row", s_count (probabilities), rows);
    //  Raw fields go to the caller with the answer they belong to
    if (matrix && (problem || result))
        s_raw_free (matrix);
    if (matrix && !probabilities) {
        free (matrix->raw [1]);
        matrix->raw [1] = NULL;
    }
    if (problem) {
        json_decref (reply);
        wb_pool__fail (pool, batch, count, 500, "scorer_error", problem, NULL);
        free (problem);
        return S_CALL_OK;
    }
    //  Split back by each request's rows. Every answer is made, and the
    //  reply let go, before a caller wakes: their jansson counts are this
    //  thread's alone until then
    json_t **answers = wb_malloc (count * sizeof (json_t *));
    size_t offset = 0;
    for (size_t index = 0; index < count; index++) {
        size_t mine = batch [index]->nrows;
        if (result)
            answers [index] = json_pack ("{s:O}", "result", result);
        else
        if (count == 1)
            answers [index] = json_pack ("{s:O}", "predictions", predictions);
        else
            answers [index] = json_pack ("{s:o}", "predictions",
                                         s_slice (predictions, offset, mine));
        if (!result && probabilities)
            json_object_set_new (answers [index], "probabilities", count == 1
                                 ? json_incref (probabilities)
                                 : s_slice (probabilities, offset, mine));
        offset += mine;
    }
    json_decref (reply);
    pthread_mutex_lock (&pool->lock);
    for (size_t index = 0; index < count; index++)
        wb_pool__answer (pool, batch [index], 200, answers [index], NULL);
    pthread_mutex_unlock (&pool->lock);
    free (answers);
    wb_pool__deliver (pool);
    return S_CALL_OK;
}

//  ---- The worker thread ----

//  Serve with the running process until it is gone (why it went, caller
//  frees) or the pool stops (NULL: the process was ended)
static char *
s_serve (wb_pool__worker_t *self)
{
    wb_pool_t *pool = self->pool;
    while (true) {
        size_t count = wb_pool__take (pool, self);
        if (count == 0) {
            double now = wb_time_mono ();
            double grace = self->stop_by? self->stop_by - now: WB_POOL__STOP_GRACE;
            char how [128];
            wb_pool__end (self, grace < 0.2? 0.2: grace, how, sizeof (how));
            return NULL;
        }
        char *why = NULL;
        int rc = s_call (self, self->batch_of, count, &why);
        if (rc == S_CALL_STOPPED) {
            free (why);
            return NULL;
        }
        if (rc == S_CALL_GONE)
            return why;
    }
}

//  Before a restart: after WB_POOL__BURST starts within WB_POOL__BURST_SPAN
//  seconds, wait (1 s, then twice as long each time, up to S_BACKOFF_MAX).
//  Whether the pool stops.
static bool
s_backoff (wb_pool__worker_t *self)
{
    wb_pool_t *pool = self->pool;
    double now = wb_time_mono ();
    bool burst = self->nstarts >= WB_POOL__BURST
              && now - self->starts [self->nstarts % WB_POOL__BURST] < WB_POOL__BURST_SPAN;
    double until = now;
    if (burst) {
        wb_pool__log (pool, self->index, "%d starts in %g s: waiting %g s before the next",
                      WB_POOL__BURST, WB_POOL__BURST_SPAN, self->backoff);
        until = now + self->backoff;
        self->backoff = self->backoff * 2 > S_BACKOFF_MAX? S_BACKOFF_MAX: self->backoff * 2;
    }
    else
        self->backoff = 1;
    pthread_mutex_lock (&pool->lock);
    while (!pool->stopping && wb_time_mono () < until)
        wb_pool__wait_until (&pool->work, &pool->lock, until);
    bool stopping = pool->stopping;
    pthread_mutex_unlock (&pool->lock);
    return stopping;
}

void *
wb_pool__worker_thread (void *arg)
{
    wb_pool__worker_t *self = arg;
    wb_pool_t *pool = self->pool;
    bool first = true;
    char *why = NULL;               //  why the last process went
    while (true) {
        if (!first) {
            if (s_backoff (self))
                break;
            self->restarts++;
            wb_pool__log (pool, self->index, "restarting (restart %d): %s", self->restarts,
                          why? why: "its last start failed");
            pthread_mutex_lock (&pool->lock);
            pool->stats.restarts++;
            pthread_mutex_unlock (&pool->lock);
        }
        free (why);
        why = NULL;
        json_t *hello = NULL;
        char *detail = NULL;
        wb_error_t err;
        wb_error_clear (&err);
        int rc = wb_pool__start (self, &hello, &detail, &err);
        pthread_mutex_lock (&pool->lock);
        if (first) {
            pool->reported++;
            if (rc && !pool->failed) {
                pool->failed = true;
                pool->start_error = err;
                pool->start_detail = detail;
                detail = NULL;
            }
            if (rc == 0 && self->index == 0)
                pool->hello = json_incref (hello);
            pthread_cond_signal (&pool->started);
        }
        if (rc == 0) {
            pool->ready++;
            self->ready = true;
            if (self->down)
                pool->down--;
            self->down = false;
        }
        else
        if (!self->down) {
            pool->down++;
            self->down = true;
        }
        //  No worker left to take the queue: it gets 503 now, not a 504 later
        if (rc && !first && pool->ready == 0 && pool->down == pool->nworkers)
            wb_pool__flush (pool, "no worker is running: starting one failed (the "
                            "endpoint's log says why); it is tried again");
        pthread_mutex_unlock (&pool->lock);
        wb_pool__deliver (pool);
        json_decref (hello);
        if (rc && detail && !first) {
            //  The traceback goes to the log, a line each
            char *line = detail;
            while (*line) {
                size_t length = strcspn (line, "\n");
                wb_pool__log (pool, self->index, "  %.*s", (int) length, line);
                line += length + (line [length] == '\n');
            }
        }
        free (detail);
        if (rc && first)
            break;                  //  wb_pool_new gives up
        first = false;
        if (rc)
            continue;
        why = s_serve (self);
        pthread_mutex_lock (&pool->lock);
        pool->ready--;
        self->ready = false;
        pthread_mutex_unlock (&pool->lock);
        if (!why)
            break;                  //  the pool stops
    }
    free (why);
    if (self->pid > 0) {
        char how [128];
        wb_pool__end (self, 0.2, how, sizeof (how));
    }
    return NULL;
}
