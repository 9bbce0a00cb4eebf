/*  wb_pool_queue - the pool's queue of requests, dynamic batching, and
    answering requests

    Part of wb_pool (wb_pool_int.h).
*/
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "wb_pool_int.h"
#include "base/wb_util.h"

//  {"error": {"code": code, "message": message}}
json_t *
wb_pool__error_body (const char *code, const char *message)
{
    return json_pack ("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

//  Which histogram bucket a call of rows goes in: rows <= 2^i, or the last
static size_t
s_bucket (size_t rows)
{
    size_t bucket = 0;
    while (bucket < WB_POOL_BUCKETS - 1 && rows > ((size_t) 1 << bucket))
        bucket++;
    return bucket;
}

//  ---- The queue and answers ----

void
wb_pool__enqueue (wb_pool_t *self, wb_pool__request_t *request)
{
    request->state = WB_POOL__QUEUED;
    request->next = NULL;
    request->prev = self->tail;
    if (self->tail)
        self->tail->next = request;
    else
        self->head = request;
    self->tail = request;
    self->stats.queued++;
    //  One wake-up, not all: every idle worker looks at the queue before
    //  it waits, so none misses a request, and the others stay asleep
    //  (each wake-up of a thread costs 50-150 us on a shared machine)
    if (self->gathering)
        pthread_cond_signal (&self->gather);
    else
        pthread_cond_signal (&self->work);
}

static void
s_unlink (wb_pool_t *self, wb_pool__request_t *request)
{
    assert (request->state == WB_POOL__QUEUED);
    if (request->prev)
        request->prev->next = request->next;
    else
        self->head = request->next;
    if (request->next)
        request->next->prev = request->prev;
    else
        self->tail = request->prev;
    request->prev = request->next = NULL;
    self->stats.queued--;
}

void
wb_pool__answer (wb_pool_t *self, wb_pool__request_t *request, int status,
                 json_t *reply, char *detail)
{
    if (request->state == WB_POOL__QUEUED)
        s_unlink (self, request);
    assert (request->state != WB_POOL__DONE);
    request->status = status;
    request->reply = reply;
    request->detail = detail;
    request->state = WB_POOL__DONE;
    self->stats.requests++;
    if (status == 500)
        self->stats.scorer_errors++;
    else
    if (status == 503)
        self->stats.crashed++;
    else
    if (status == 504)
        self->stats.timeouts++;
    else
    if (status == 413)
        self->stats.too_large++;
    if (request->deliver) {
        request->next = self->delivered;
        self->delivered = request;
    }
    else
        pthread_cond_signal (&request->done);
}

void
wb_pool__deliver (wb_pool_t *self)
{
    pthread_mutex_lock (&self->lock);
    wb_pool__request_t *list = self->delivered;
    self->delivered = NULL;
    //  Counted out before the callbacks run: they never touch the pool,
    //  which wb_pool_destroy may free as soon as the count is 0
    for (wb_pool__request_t *request = list; request; request = request->next)
        self->callers--;
    if (list && self->stopping && self->callers == 0)
        pthread_cond_signal (&self->left);
    pthread_mutex_unlock (&self->lock);
    while (list) {
        wb_pool__request_t *request = list;
        list = request->next;
        request->deliver (request->deliver_arg, request->status, request->reply,
                          request->detail);
        free (request->rows);
        free (request->columns);
        free (request);
    }
}

void
wb_pool__fail (wb_pool_t *self, wb_pool__request_t **requests, size_t count,
               int status, const char *code, const char *message, const char *detail)
{
    //  The bodies are made before the lock is taken: jansson's counts are
    //  touched by this thread only until the callers wake
    json_t **bodies = wb_malloc ((count? count: 1) * sizeof (json_t *));
    for (size_t index = 0; index < count; index++)
        bodies [index] = wb_pool__error_body (code, message);
    pthread_mutex_lock (&self->lock);
    for (size_t index = 0; index < count; index++)
        wb_pool__answer (self, requests [index], status, bodies [index],
                         detail? wb_strdup (detail): NULL);
    pthread_mutex_unlock (&self->lock);
    free (bodies);
    wb_pool__deliver (self);
}

void
wb_pool__flush (wb_pool_t *self, const char *message)
{
    while (self->head)
        wb_pool__answer (self, self->head, 503, wb_pool__error_body ("unavailable", message), NULL);
}

void
wb_pool__count_call (wb_pool_t *self, size_t rows)
{
    pthread_mutex_lock (&self->lock);
    self->stats.batches++;
    self->stats.rows += rows;
    self->stats.batch_sizes [s_bucket (rows)]++;
    pthread_mutex_unlock (&self->lock);
}

//  ---- Taking requests: dynamic batching ----

//  Whether request may go in the same call as first (rows as JSON both:
//  a matrix goes alone)
static bool
s_fits (wb_pool__request_t *first, wb_pool__request_t *request)
{
    return !request->is_matrix && !first->is_matrix
        && request->proba == first->proba && streq (request->columns, first->columns);
}

size_t
wb_pool__take (wb_pool_t *self, wb_pool__worker_t *worker)
{
    wb_pool__request_t **batch = worker->batch_of;
    pthread_mutex_lock (&self->lock);
    //  An idle worker tells a gathering one that waiting is no use
    self->idle++;
    if (self->gathering)
        pthread_cond_signal (&self->gather);
    while (!self->stopping && (!self->head || self->gathering))
        pthread_cond_wait (&self->work, &self->lock);
    self->idle--;
    if (self->stopping) {
        pthread_mutex_unlock (&self->lock);
        return 0;
    }
    wb_pool__request_t *first = self->head;
    s_unlink (self, first);
    first->state = WB_POOL__TAKEN;
    batch [0] = first;
    size_t count = 1;
    size_t rows = first->nrows;
    size_t bytes = first->rows_size + strlen (first->columns);
    size_t limit = self->max_batch_rows;
    if (worker->batch && limit > 1 && rows < limit && !first->is_matrix) {
        //  One worker gathers at a time, until the batch is full or the
        //  delay since it took the first request has passed, but only
        //  while every other worker is busy: an idle one would take the
        //  next request at once, so waiting for it would only add latency
        //  (with 16 clients and 2 workers the delay was waited out on every
        //  call: 6.5 k requests/s with 2 ms, 45 k with none)
        bool gather = self->max_batch_delay > 0;
        double until = wb_time_mono () + self->max_batch_delay;
        if (gather)
            self->gathering = true;
        while (true) {
            wb_pool__request_t *next;
            for (wb_pool__request_t *request = self->head;
                 request && rows < limit && count < limit; request = next) {
                next = request->next;
                if (s_fits (first, request) && rows + request->nrows <= limit
                &&  bytes + request->rows_size + 1024 < WB_POOL__FRAME_MAX) {
                    s_unlink (self, request);
                    request->state = WB_POOL__TAKEN;
                    batch [count++] = request;
                    rows += request->nrows;
                    bytes += request->rows_size + 1;
                }
            }
            if (!gather || rows >= limit || count >= limit || self->stopping
            ||  self->idle > 0)
                break;
            //  After the delay, one last look at the queue
            if (wb_pool__wait_until (&self->gather, &self->lock, until) == ETIMEDOUT)
                gather = false;
        }
        self->gathering = false;
    }
    //  What did not fit is the next idle worker's (each enqueue woke one
    //  worker only)
    if (self->head && self->idle > 0)
        pthread_cond_signal (&self->work);
    pthread_mutex_unlock (&self->lock);
    return count;
}
