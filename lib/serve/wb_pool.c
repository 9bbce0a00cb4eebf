/*  wb_pool - a pool of Python worker processes that score requests for one
    deployment of a user's own model

    This file: starting and stopping the pool, scoring (a request thread's
    side: rows as JSON text, or a matrix, whose raw predictions and
    probabilities are made JSON here), counters, the log. The queue and
    batching are wb_pool_queue.c, a worker's process wb_pool_process.c, a
    worker's thread wb_pool_worker.c, the self-test wb_pool_test.c, behind
    wb_pool_int.h.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_pool_int.h"
#include "base/wb_util.h"

extern char **environ;

//  ---- Small helpers ----

void
wb_pool__cond_init (pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (cond, &attr);
    pthread_condattr_destroy (&attr);
}

int
wb_pool__wait_until (pthread_cond_t *cond, pthread_mutex_t *lock, double deadline)
{
    struct timespec when;
    when.tv_sec = (time_t) deadline;
    when.tv_nsec = (long) ((deadline - (double) when.tv_sec) * 1e9);
    if (when.tv_nsec >= 1000000000L) {
        when.tv_sec++;
        when.tv_nsec -= 1000000000L;
    }
    int rc = pthread_cond_timedwait (cond, lock, &when);
    return rc == ETIMEDOUT? ETIMEDOUT: 0;
}

void
wb_pool__log (wb_pool_t *self, int index, const char *format, ...)
{
    char line [WB_POOL__LINE_MAX + 512];
    int size = index >= 0
             ? snprintf (line, sizeof (line), "[%.100s worker %d] ", self->label, index)
             : snprintf (line, sizeof (line), "[%.100s] ", self->label);
    va_list args;
    va_start (args, format);
    int more = vsnprintf (line + size, sizeof (line) - (size_t) size - 1, format, args);
    va_end (args);
    size_t length = (size_t) size + (size_t) (more < 0? 0: more);
    if (length > sizeof (line) - 2)
        length = sizeof (line) - 2;
    line [length++] = '\n';
    //  One write a line, so that lines of several threads do not mix
    size_t done = 0;
    while (done < length) {
        ssize_t rc = write (self->log_fd, line + done, length - done);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        done += (size_t) rc;
    }
}

//  The path of program: as given when it names a folder, else the first
//  on PATH. NULL when there is none to run (caller owns the return value).
static char *
s_find_program (const char *program)
{
    if (strchr (program, '/'))
        return access (program, X_OK) == 0? wb_strdup (program): NULL;
    const char *path = getenv ("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        size_t length = strcspn (path, ":");
        char *candidate = length
                        ? wb_sprintf ("%.*s/%s", (int) length, path, program)
                        : wb_sprintf ("./%s", program);
        struct stat info;
        if (stat (candidate, &info) == 0 && S_ISREG (info.st_mode)
        &&  access (candidate, X_OK) == 0)
            return candidate;
        free (candidate);
        if (path [length] == 0)
            return NULL;
        path += length + 1;
    }
}

//  The workers' environment: ours, with WORKBENCH_MODEL_DIR set (or
//  taken off when model_dir is NULL) and PYTHONUNBUFFERED=1 unless set,
//  so that a print() in user code reaches the log when it is made
static char **
s_environment (const char *model_dir)
{
    size_t count = 0;
    while (environ && environ [count])
        count++;
    char **envp = wb_calloc (count + 3, sizeof (char *));
    size_t used = 0;
    bool unbuffered = false;
    for (size_t index = 0; index < count; index++) {
        if (wb_starts_with (environ [index], "WORKBENCH_MODEL_DIR="))
            continue;
        if (wb_starts_with (environ [index], "PYTHONUNBUFFERED="))
            unbuffered = true;
        envp [used++] = wb_strdup (environ [index]);
    }
    if (model_dir)
        envp [used++] = wb_sprintf ("WORKBENCH_MODEL_DIR=%s", model_dir);
    if (!unbuffered)
        envp [used++] = wb_strdup ("PYTHONUNBUFFERED=1");
    return envp;
}

static void
s_strings_free (char **strings)
{
    for (size_t index = 0; strings && strings [index]; index++)
        free (strings [index]);
    free (strings);
}

//  ---- The pool ----

wb_pool_t *
wb_pool_new (const wb_pool_config_t *config, char **detail_p, wb_error_t *err)
{
    assert (config);
    assert (config->python && config->worker && config->flavor && config->model);
    if (detail_p)
        *detail_p = NULL;
    char *python = s_find_program (config->python);
    if (!python) {
        wb_error_set (err, "cannot run the Python interpreter '%s': %s; give the model "
                      "version one that exists (--python PATH)", config->python,
                      strchr (config->python, '/')? strerror (errno): "not found on PATH");
        return NULL;
    }
    int stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0) {
        wb_error_set (err, "cannot start the workers: no eventfd (%s); close some files "
                      "or raise 'ulimit -n'", strerror (errno));
        free (python);
        return NULL;
    }
    wb_pool_t *self = wb_calloc (1, sizeof (wb_pool_t));
    self->label = wb_strdup (config->label? config->label: "pool");
    self->python = python;
    const char *argv [] = {
        config->python, config->worker, "serve", "--flavor", config->flavor,
        "--model", config->model, config->scorer? "--scorer": NULL, config->scorer, NULL
    };
    size_t argc = sizeof (argv) / sizeof (argv [0]);
    self->argv = wb_calloc (argc, sizeof (char *));
    for (size_t index = 0; argv [index]; index++)
        self->argv [index] = wb_strdup (argv [index]);
    self->envp = s_environment (config->model_dir);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->nworkers = config->workers > 0? config->workers: cores > 0? (int) cores: 1;
    self->max_batch_rows = config->max_batch_rows > 1? (size_t) config->max_batch_rows: 1;
    self->max_batch_delay = config->max_batch_delay > 0? config->max_batch_delay: 0;
    self->request_timeout = config->request_timeout > 0? config->request_timeout: 0;
    self->start_timeout = config->start_timeout > 0? config->start_timeout: 60;
    self->log_fd = config->log_fd >= 0? config->log_fd: STDERR_FILENO;
    self->stop_fd = stop_fd;
    pthread_mutex_init (&self->lock, NULL);
    wb_pool__cond_init (&self->work);
    wb_pool__cond_init (&self->gather);
    wb_pool__cond_init (&self->started);
    wb_pool__cond_init (&self->left);
    self->stats.workers = self->nworkers;

    self->workers = wb_calloc ((size_t) self->nworkers, sizeof (wb_pool__worker_t));
    for (int index = 0; index < self->nworkers; index++) {
        wb_pool__worker_t *worker = &self->workers [index];
        worker->pool = self;
        worker->index = index;
        worker->to_fd = worker->from_fd = worker->err_fd = worker->wake_fd = -1;
        worker->backoff = 1;
        worker->batch_of = wb_calloc (self->max_batch_rows, sizeof (wb_pool__request_t *));
        pthread_mutex_init (&worker->tail_lock, NULL);
    }
    //  The threads write to pipes whose reader may be gone: SIGPIPE is
    //  blocked in them from their start (EPIPE is handled)
    sigset_t pipe_set, saved;
    sigemptyset (&pipe_set);
    sigaddset (&pipe_set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipe_set, &saved);
    double began = wb_time_mono ();
    for (int index = 0; index < self->nworkers; index++) {
        wb_pool__worker_t *worker = &self->workers [index];
        int rc = pthread_create (&worker->thread, NULL, wb_pool__worker_thread, worker);
        worker->started = rc == 0;
        if (rc) {
            pthread_mutex_lock (&self->lock);
            self->reported++;
            if (!self->failed) {
                self->failed = true;
                wb_error_set (&self->start_error, "cannot start a worker thread (%s); the "
                              "system is short of threads or memory", strerror (rc));
            }
            pthread_mutex_unlock (&self->lock);
        }
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);

    pthread_mutex_lock (&self->lock);
    while (self->reported < self->nworkers)
        pthread_cond_wait (&self->started, &self->lock);
    bool failed = self->failed;
    pthread_mutex_unlock (&self->lock);
    if (failed) {
        wb_error_set (err, "%s", self->start_error.text);
        if (detail_p) {
            *detail_p = self->start_detail;
            self->start_detail = NULL;
        }
        wb_pool_destroy (&self);
        return NULL;
    }
    const char *version = json_string_value (json_object_get (self->hello, "python"));
    bool batching = json_is_true (json_object_get (self->hello, "batch"))
                 && self->max_batch_rows > 1;
    wb_pool__log (self, -1, "%d worker%s ready in %.2f s (flavor %s, Python %s%s)", self->nworkers,
                  self->nworkers == 1? "": "s", wb_time_mono () - began, config->flavor,
                  version? version: "?", batching? ", batching": "");
    return self;
}

void
wb_pool_destroy (wb_pool_t **self_p)
{
    assert (self_p);
    wb_pool_t *self = *self_p;
    if (!self)
        return;
    //  Waiting requests get 503; the workers end their calls (or are
    //  killed 2 s on) and their processes
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    wb_pool__flush (self, "the deployment is stopping");
    pthread_cond_broadcast (&self->work);
    pthread_cond_broadcast (&self->gather);
    pthread_mutex_unlock (&self->lock);
    wb_pool__deliver (self);
    uint64_t one = 1;
    ssize_t rc = write (self->stop_fd, &one, sizeof (one));
    (void) rc;
    for (int index = 0; index < self->nworkers; index++)
        if (self->workers [index].started)
            pthread_join (self->workers [index].thread, NULL);
    //  Callers answered may still be on their way out of wb_pool_score
    //  (the workers delivered wb_pool_submit's answers before they ended)
    pthread_mutex_lock (&self->lock);
    while (self->callers > 0)
        pthread_cond_wait (&self->left, &self->lock);
    pthread_mutex_unlock (&self->lock);
    if (self->hello || self->reported)
        wb_pool__log (self, -1, "stopped");

    for (int index = 0; index < self->nworkers; index++) {
        wb_pool__worker_t *worker = &self->workers [index];
        for (size_t line = 0; line < WB_POOL__TAIL; line++)
            free (worker->tail [line]);
        pthread_mutex_destroy (&worker->tail_lock);
        free (worker->batch_of);
    }
    free (self->workers);
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->work);
    pthread_cond_destroy (&self->gather);
    pthread_cond_destroy (&self->started);
    pthread_cond_destroy (&self->left);
    close (self->stop_fd);
    json_decref (self->hello);
    free (self->start_detail);
    s_strings_free (self->argv);
    s_strings_free (self->envp);
    free (self->python);
    free (self->label);
    free (self);
    *self_p = NULL;
}

json_t *
wb_pool_hello (wb_pool_t *self)
{
    assert (self);
    return self->hello;
}

//  A request in: answered at once when it is too large (too_large, a
//  message: 413), the pool stops or no worker can start (503), else queued
//  with its deadline (under the lock)
static void
s_admit (wb_pool_t *self, wb_pool__request_t *request, const char *too_large)
{
    self->callers++;
    if (too_large) {
        request->state = WB_POOL__TAKEN;
        wb_pool__answer (self, request, 413, wb_pool__error_body ("too_large", too_large), NULL);
    }
    else
    if (self->stopping) {
        request->state = WB_POOL__TAKEN;
        wb_pool__answer (self, request, 503,
                         wb_pool__error_body ("unavailable", "the deployment is stopping"), NULL);
    }
    else
    if (self->ready == 0 && self->down == self->nworkers) {
        request->state = WB_POOL__TAKEN;
        wb_pool__answer (self, request, 503, wb_pool__error_body ("unavailable",
            "no worker is running: starting one failed (the endpoint's log says why); "
            "it is tried again"), NULL);
    }
    else {
        request->deadline = self->request_timeout > 0
                          ? wb_time_mono () + self->request_timeout: 0;
        wb_pool__enqueue (self, request);
    }
}

//  A queued request past its deadline: 504 (under the lock)
static void
s_expire (wb_pool_t *self, wb_pool__request_t *request)
{
    char *message = wb_sprintf ("the request waited %g s for a free worker (the "
                                "deployment's request timeout): every worker was "
                                "busy or restarting", self->request_timeout);
    wb_pool__answer (self, request, 504, wb_pool__error_body ("timeout", message), NULL);
    free (message);
}

//  A caller's request through the queue to its answer: waits for it, or
//  answers it 504 when it is still queued at its deadline. Frees what the
//  request holds; the status.
static int
s_score (wb_pool_t *self, wb_pool__request_t *request, const char *too_large,
         json_t **reply, char **detail)
{
    wb_pool__cond_init (&request->done);
    pthread_mutex_lock (&self->lock);
    s_admit (self, request, too_large);
    while (request->state != WB_POOL__DONE) {
        if (request->state == WB_POOL__QUEUED && request->deadline) {
            if (wb_pool__wait_until (&request->done, &self->lock, request->deadline) == ETIMEDOUT
            &&  request->state == WB_POOL__QUEUED)
                s_expire (self, request);
        }
        else
            pthread_cond_wait (&request->done, &self->lock);
    }
    self->callers--;
    if (self->stopping && self->callers == 0)
        pthread_cond_signal (&self->left);
    pthread_mutex_unlock (&self->lock);

    pthread_cond_destroy (&request->done);
    free (request->rows);
    free (request->columns);
    if (reply)
        *reply = request->reply;
    else
        json_decref (request->reply);
    if (detail)
        *detail = request->detail;
    else
        free (request->detail);
    return request->status;
}

//  8 bytes in little-endian order as an unsigned integer, on any host
static uint64_t
s_le64 (const unsigned char *bytes)
{
    uint64_t value = 0;
    for (int index = 7; index >= 0; index--)
        value = value << 8 | bytes [index];
    return value;
}

//  The values of a raw field's frame as a JSON array: rows of cols values
//  (cols 0: one dimension), float64 (NaN and infinities as null) or int64
static json_t *
s_raw_array (const unsigned char *bytes, bool integers, size_t rows, size_t cols)
{
    json_t *array = json_array ();
    size_t width = cols? cols: 1;
    for (size_t row = 0; row < rows; row++) {
        json_t *values = cols? json_array (): array;
        for (size_t col = 0; col < width; col++, bytes += 8) {
            uint64_t bits = s_le64 (bytes);
            double number;
            memcpy (&number, &bits, sizeof (number));
            json_array_append_new (values, integers? json_integer ((json_int_t) (int64_t) bits)
                                         : isfinite (number)? json_real (number): json_null ());
        }
        if (cols)
            json_array_append_new (array, values);
    }
    return array;
}

void
wb_pool__raw_json (wb_pool__request_t *request, json_t *reply)
{
    const char *keys [] = { "predictions", "probabilities" };
    for (size_t key = 0; key < 2; key++) {
        if (!request->raw [key])
            continue;
        //  The descriptor was checked against its frame on the worker's thread
        json_t *field = json_object_get (reply, keys [key]);
        json_t *shape = json_object_get (field, "shape");
        if (json_is_object (field))
            json_object_set_new (reply, keys [key], s_raw_array (
                (const unsigned char *) request->raw [key],
                streq (json_string_value (json_object_get (field, "dtype")), "<i8"),
                (size_t) json_integer_value (json_array_get (shape, 0)),
                (size_t) json_integer_value (json_array_get (shape, 1))));
        free (request->raw [key]);
        request->raw [key] = NULL;
    }
}

//  The columns as the worker gets them: JSON text, "null" when none
static char *
s_columns (json_t *columns)
{
    char *text = columns && !json_is_null (columns)
               ? json_dumps (columns, JSON_COMPACT | JSON_ENCODE_ANY)
               : wb_strdup ("null");
    assert (text);
    return text;
}

//  A request of rows (an array) and columns: the rows go to the worker as
//  JSON text, made here on the caller's thread (a batch only joins the
//  texts). The message when it is too large for a frame, else NULL.
static char *
s_rows (wb_pool__request_t *request, json_t *rows, json_t *columns, bool proba)
{
    request->rows = json_dumps (rows, JSON_COMPACT);
    assert (request->rows);
    request->rows_size = strlen (request->rows);
    request->nrows = json_array_size (rows);
    request->columns = s_columns (columns);
    request->proba = proba;
    if (request->rows_size + strlen (request->columns) + 1024 > WB_POOL__FRAME_MAX)
        return wb_sprintf ("the rows take %zu bytes as JSON, over the %u MiB a "
                           "worker takes in one request: send fewer rows at a time",
                           request->rows_size, WB_POOL__FRAME_MAX >> 20);
    return NULL;
}

int
wb_pool_score (wb_pool_t *self, json_t *rows, json_t *columns, bool proba,
               json_t **reply, char **detail)
{
    assert (self);
    assert (json_is_array (rows));
    wb_pool__request_t request;
    memset (&request, 0, sizeof (request));
    char *too_large = s_rows (&request, rows, columns, proba);
    int status = s_score (self, &request, too_large, reply, detail);
    free (too_large);
    return status;
}

void
wb_pool_submit (wb_pool_t *self, json_t *rows, json_t *columns, bool proba,
                wb_pool_done_fn *done, void *arg)
{
    assert (self);
    assert (json_is_array (rows));
    assert (done);
    wb_pool__request_t *request = wb_calloc (1, sizeof (wb_pool__request_t));
    char *too_large = s_rows (request, rows, columns, proba);
    request->deliver = done;
    request->deliver_arg = arg;
    pthread_mutex_lock (&self->lock);
    s_admit (self, request, too_large);
    pthread_mutex_unlock (&self->lock);
    free (too_large);
    wb_pool__deliver (self);        //  when it was answered at once
}

void
wb_pool_expire (wb_pool_t *self)
{
    assert (self);
    if (self->request_timeout <= 0)
        return;
    double now = wb_time_mono ();
    pthread_mutex_lock (&self->lock);
    //  The queue is in arrival order, and every deadline is arrival plus
    //  the one timeout: past the first one still in time, none has passed
    while (self->head && self->head->deadline && self->head->deadline <= now)
        s_expire (self, self->head);
    pthread_mutex_unlock (&self->lock);
    wb_pool__deliver (self);
}

int
wb_pool_score_matrix (wb_pool_t *self, const double *data, size_t rows, size_t cols,
                      json_t *columns, bool proba, json_t **reply, char **detail)
{
    assert (self);
    assert (data || rows == 0 || cols == 0);
    //  The worker thread writes the caller's numbers straight to the pipe:
    //  the caller waits in s_score until then
    wb_pool__request_t request;
    memset (&request, 0, sizeof (request));
    request.is_matrix = true;
    request.matrix = data;
    request.nrows = rows;
    request.ncols = cols;
    bool fits = cols == 0 || rows <= WB_POOL__FRAME_MAX / sizeof (double) / cols;
    request.rows_size = fits? rows * cols * sizeof (double): SIZE_MAX;
    request.columns = s_columns (columns);
    request.proba = proba;
    char *too_large = NULL;
    if (!fits || strlen (request.columns) + 1024 > WB_POOL__FRAME_MAX)
        too_large = wb_sprintf ("%zu rows of %zu numbers take %.0f bytes, over the %u "
                                "MiB a worker takes in one request: send fewer rows at a time",
                                rows, cols, (double) rows * (double) cols * sizeof (double),
                                WB_POOL__FRAME_MAX >> 20);
    json_t *body = NULL;
    int status = s_score (self, &request, too_large, &body, detail);
    free (too_large);
    //  Raw predictions and probabilities become JSON here, not on the
    //  worker's thread: its worker does not wait for it
    wb_pool__raw_json (&request, body);
    if (reply)
        *reply = body;
    else
        json_decref (body);
    return status;
}

void
wb_pool_stats (wb_pool_t *self, wb_pool_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->lock);
    *stats = self->stats;
    stats->ready = self->ready;
    pthread_mutex_unlock (&self->lock);
}
