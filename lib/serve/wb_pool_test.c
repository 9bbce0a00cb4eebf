/*  wb_pool_test - the self-test of wb_pool, with a stand-in worker that
    speaks the protocol (part of wb_pool: wb_pool_int.h)
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

//  ---- Self-test ----

//  @selftest
//  A stand-in for share/wb_worker.py that speaks its protocol with the
//  standard library. Its "model" (the --model word) says how it behaves:
//  sum (predicts each row's sum; probabilities [sum, -sum]), nobatch (the
//  same, batch:false), result (run() returns a dict), short (one
//  prediction too few), chatty (a stderr line a request; a long one for a
//  row holding 7), broken (ready:false), dies (exits before its hello),
//  slow (no hello for 30 s), badraw (a matrix's reply announces one
//  prediction more than its frame holds); any of them is broken while the
//  folder holds a file "broken". Rows holding -1 raise, -2 exit with
//  status 3, -3 hang, -4 take 0.35 s (times the time factor), -5 announce
//  a reply of 300 MiB. A matrix request is read as wb_worker.py reads it
//  (its raw frame next; a wrong byte count is an error reply) and
//  answered with raw frames: predictions as int64 when every sum is a
//  whole number, else float64, probabilities as float64.
static const char *s_test_worker =
    "import json, os, struct, sys, time\n"
    "factor = float(os.environ.get('WORKBENCH_TIME_FACTOR') or 1)\n"
    "model = sys.argv[sys.argv.index('--model') + 1]\n"
    "source, out = sys.stdin.buffer, sys.stdout.buffer\n"
    "def send(message):\n"
    "    data = json.dumps(message).encode()\n"
    "    out.write(struct.pack('>I', len(data)) + data)\n"
    "    out.flush()\n"
    "def receive(raw=False):\n"
    "    head = source.read(4)\n"
    "    if len(head) < 4:\n"
    "        sys.exit(0)\n"
    "    data = source.read(struct.unpack('>I', head)[0])\n"
    "    return data if raw else json.loads(data)\n"
    "def send_raw(reply, key, code, values):\n"
    "    reply[key] = {'dtype': {'q': '<i8', 'd': '<f8'}[code], 'shape': [len(values)] +\n"
    "                  ([len(values[0])] if values and isinstance(values[0], list) else [])}\n"
    "    flat = [v for row in values for v in row] if len(reply[key]['shape']) == 2 else values\n"
    "    return struct.pack('<%d%s' % (len(flat), code), *flat)\n"
    "folder = os.environ.get('WORKBENCH_MODEL_DIR', '/nonexistent')\n"
    "broken = os.path.exists(os.path.join(folder, 'broken'))\n"
    "if model == 'broken' or broken:\n"
    "    send({'ready': False, 'error': 'RuntimeError: no weights', 'type': 'RuntimeError',\n"
    "          'traceback': 'Traceback (most recent call last):\\n  File \"score.py\", '\n"
    "                       'line 3, in init\\nRuntimeError: no weights\\n'})\n"
    "    sys.exit(1)\n"
    "if model == 'dies':\n"
    "    print('loading the model', file=sys.stderr)\n"
    "    print(\"ModuleNotFoundError: No module named 'torch'\", file=sys.stderr)\n"
    "    sys.exit(1)\n"
    "if model == 'slow':\n"
    "    time.sleep(30)\n"
    "send({'ready': True, 'flavor': 'python', 'batch': model != 'nobatch', 'proba': True,\n"
    "      'classes': None, 'columns': None, 'python': '3.11.2', 'pid': os.getpid(),\n"
    "      'dir': os.environ.get('WORKBENCH_MODEL_DIR')})\n"
    "while True:\n"
    "    request = receive()\n"
    "    matrix = request.get('matrix')\n"
    "    if matrix:\n"
    "        data = receive(raw=True)\n"
    "        n, m = matrix['shape']\n"
    "        if len(data) != 8 * n * m:\n"
    "            send({'id': request['id'], 'error': 'ValueError: %d bytes' % len(data),\n"
    "                  'type': 'ValueError', 'traceback': ''})\n"
    "            continue\n"
    "        flat = struct.unpack('<%dd' % (n * m), data)\n"
    "        request['rows'] = [list(flat[i * m:(i + 1) * m]) for i in range(n)]\n"
    "    rows = [list(row.values()) if isinstance(row, dict) else row\n"
    "            for row in request['rows']]\n"
    "    values = [value for row in rows for value in row]\n"
    "    if model == 'chatty':\n"
    "        print('scoring %d rows' % len(rows), file=sys.stderr)\n"
    "        if 7 in values:\n"
    "            print('x' * 5000 + 'y', file=sys.stderr)\n"
    "    if -2 in values:\n"
    "        os._exit(3)\n"
    "    if -3 in values:\n"
    "        time.sleep(60)\n"
    "    if -4 in values:\n"
    "        time.sleep(0.35 * factor)\n"
    "    if -5 in values:\n"
    "        out.write(struct.pack('>I', 300 << 20))\n"
    "        out.flush()\n"
    "        time.sleep(60)\n"
    "    if -1 in values:\n"
    "        send({'id': request['id'], 'error': 'ValueError: a row holds -1',\n"
    "              'type': 'ValueError',\n"
    "              'traceback': 'Traceback (most recent call last):\\n'\n"
    "                           'ValueError: a row holds -1\\n'})\n"
    "        continue\n"
    "    reply = {'id': request['id'], 'predictions': [sum(row) for row in rows]}\n"
    "    if request['proba']:\n"
    "        reply['probabilities'] = [[sum(row), -sum(row)] for row in rows]\n"
    "    if model == 'result':\n"
    "        reply = {'id': request['id'], 'result': {'rows': len(rows),\n"
    "                                                 'columns': request['columns']}}\n"
    "    if model == 'short':\n"
    "        reply['predictions'].pop()\n"
    "    if not matrix or 'result' in reply:\n"
    "        send(reply)\n"
    "        continue\n"
    "    sums = reply['predictions']\n"
    "    whole = all(v == v and abs(v) != float('inf') and v == int(v) for v in sums)\n"
    "    frames = [send_raw(reply, 'predictions', 'q' if whole else 'd',\n"
    "                       [int(v) for v in sums] if whole else sums)]\n"
    "    if 'probabilities' in reply:\n"
    "        frames.append(send_raw(reply, 'probabilities', 'd', reply['probabilities']))\n"
    "    if model == 'badraw':\n"
    "        reply['predictions']['shape'][0] += 1\n"
    "    send(reply)\n"
    "    for data in frames:\n"
    "        out.write(struct.pack('>I', len(data)) + data)\n"
    "    out.flush()\n";

//  The scratch folder of the self-test
typedef struct {
    char folder [64];           //  made by mkdtemp
    char *script;               //  the stand-in worker
    char *log;                  //  the pools' log file
    int log_fd;                 //  open on it
    double factor;              //  WORKBENCH_TIME_FACTOR: timeouts stretch under TSan
    double delay;               //  max_batch_delay of the pools it makes
} s_test_t;

static wb_pool_t *
s_test_pool (s_test_t *test, const char *model, int workers, int max_batch_rows,
             double request_timeout, char **detail, wb_error_t *err)
{
    wb_pool_config_t config = {
        .python = "/usr/bin/python3", .worker = test->script, .flavor = "python",
        .model = model, .model_dir = test->folder, .label = "test", .workers = workers,
        .max_batch_rows = max_batch_rows, .max_batch_delay = test->delay * test->factor,
        .request_timeout = request_timeout * test->factor,
        .start_timeout = 10 * test->factor, .log_fd = test->log_fd
    };
    return wb_pool_new (&config, detail, err);
}

//  Score rows given as JSON text; the status
static int
s_test_score (wb_pool_t *pool, const char *rows, const char *columns, bool proba,
              json_t **reply, char **detail)
{
    json_t *body = json_loads (rows, 0, NULL);
    json_t *names = columns? json_loads (columns, 0, NULL): NULL;
    assert (body);
    int status = wb_pool_score (pool, body, names, proba, reply, detail);
    json_decref (body);
    json_decref (names);
    return status;
}

//  Score a matrix of rows x cols numbers; the status
static int
s_test_matrix_score (wb_pool_t *pool, const double *data, size_t rows, size_t cols,
                     const char *columns, bool proba, json_t **reply, char **detail)
{
    json_t *names = columns? json_loads (columns, 0, NULL): NULL;
    int status = wb_pool_score_matrix (pool, data, rows, cols, names, proba, reply, detail);
    json_decref (names);
    return status;
}

//  The reply's predictions as JSON text (caller frees)
static char *
s_test_predictions (json_t *reply)
{
    return json_dumps (json_object_get (reply, "predictions"), JSON_COMPACT | JSON_ENCODE_ANY);
}

//  The error's message in a reply (lent)
static const char *
s_test_message (json_t *reply)
{
    return json_string_value (json_object_get (json_object_get (reply, "error"), "message"));
}

static const char *
s_test_code (json_t *reply)
{
    return json_string_value (json_object_get (json_object_get (reply, "error"), "code"));
}

//  Whether the log holds text within seconds
static bool
s_test_logged (s_test_t *test, const char *text, double seconds)
{
    double until = wb_time_mono () + seconds;
    while (true) {
        char *log = wb_file_read (test->log, NULL);
        bool found = log && strstr (log, text);
        free (log);
        if (found || wb_time_mono () > until)
            return found;
        usleep (10 * 1000);
    }
}

//  Wait until the pool has made restarts restarts and has ready workers
static void
s_test_recovered (wb_pool_t *pool, uint64_t restarts, int ready, double seconds)
{
    double until = wb_time_mono () + seconds;
    wb_pool_stats_t stats;
    while (true) {
        wb_pool_stats (pool, &stats);
        if ((stats.restarts >= restarts && stats.ready >= ready) || wb_time_mono () > until)
            break;
        usleep (5 * 1000);
    }
    assert (stats.restarts == restarts);
    assert (stats.ready == ready);
}

//  A thread sending requests of 1 to 3 rows [thread, i, r] and checking
//  that each gets its own rows' sums back; every raise_every-th request
//  holds a -1 and must get a 500 alone; with matrices, every other request
//  goes as a matrix
typedef struct {
    wb_pool_t *pool;            //  to score with
    int thread;                 //  its number
    int requests;               //  how many
    int raise_every;            //  0 = none raise
    bool matrices;              //  odd requests as matrices
    const char *single;         //  or: send these rows once (JSON)...
    int status;                 //  ...and keep the status
    json_t *reply;              //  ...and the reply
    char *detail;               //  ...and the detail
    int wrong;                  //  answers not as expected
} s_test_caller_t;

static void *
s_test_caller (void *arg)
{
    s_test_caller_t *self = arg;
    if (self->single) {
        self->status = s_test_score (self->pool, self->single, NULL, false,
                                     &self->reply, &self->detail);
        return NULL;
    }
    for (int index = 0; index < self->requests; index++) {
        bool raise = self->raise_every && index % self->raise_every == 3;
        int rows = 1 + (index + self->thread) % 3;
        json_t *body = json_array ();
        double numbers [3 * 3];
        for (int row = 0; row < rows; row++) {
            int last = raise && row == rows - 1? -1: row;
            json_array_append_new (body, json_pack ("[iii]", self->thread, index, last));
            numbers [row * 3] = self->thread;
            numbers [row * 3 + 1] = index;
            numbers [row * 3 + 2] = last;
        }
        json_t *reply = NULL;
        char *detail = NULL;
        int status = self->matrices && index % 2
                   ? wb_pool_score_matrix (self->pool, numbers, (size_t) rows, 3, NULL, false,
                                           &reply, &detail)
                   : wb_pool_score (self->pool, body, NULL, false, &reply, &detail);
        bool right = status == (raise? 500: 200);
        if (right && raise)
            right = detail && streq (s_test_code (reply), "scorer_error");
        json_t *predictions = json_object_get (reply, "predictions");
        if (right && !raise)
            right = json_array_size (predictions) == (size_t) rows;
        for (int row = 0; right && !raise && row < rows; row++)
            right = json_integer_value (json_array_get (predictions, (size_t) row))
                 == self->thread + index + row;
        self->wrong += !right;
        json_decref (reply);
        free (detail);
        json_decref (body);
    }
    return NULL;
}

//  Run count callers at once on pool; the wrong answers
static int
s_test_callers_of (wb_pool_t *pool, int count, int requests, int raise_every, bool matrices)
{
    s_test_caller_t callers [16];
    pthread_t threads [16];
    assert (count <= 16);
    for (int index = 0; index < count; index++) {
        callers [index] = (s_test_caller_t) { .pool = pool, .thread = index,
                                              .requests = requests, .raise_every = raise_every,
                                              .matrices = matrices };
        assert (pthread_create (&threads [index], NULL, s_test_caller, &callers [index]) == 0);
    }
    int wrong = 0;
    for (int index = 0; index < count; index++) {
        pthread_join (threads [index], NULL);
        wrong += callers [index].wrong;
    }
    return wrong;
}

static int
s_test_callers (wb_pool_t *pool, int count, int requests, int raise_every)
{
    return s_test_callers_of (pool, count, requests, raise_every, false);
}

//  Failing starts: the worker's error and traceback, or its last stderr lines
static void
s_test_start_failures (s_test_t *test)
{
    wb_error_t err;
    char *detail = NULL;
    assert (!s_test_pool (test, "broken", 2, 1, 0, &detail, &err));
    assert (streq (err.text, "RuntimeError: no weights"));
    assert (detail && strstr (detail, "Traceback (most recent call last)"));
    assert (strstr (detail, "in init"));
    free (detail);
    assert (!s_test_pool (test, "dies", 1, 1, 0, &detail, &err));
    assert (strstr (err.text, "exited with status 1 before it was ready: "
                              "ModuleNotFoundError: No module named 'torch'"));
    assert (detail && strstr (detail, "loading the model\nModuleNotFoundError"));
    free (detail);
    //  No hello in time
    wb_pool_config_t config = {
        .python = "/usr/bin/python3", .worker = test->script, .flavor = "python",
        .model = "slow", .label = "test", .workers = 1, .start_timeout = 0.3 * test->factor,
        .log_fd = test->log_fd
    };
    double began = wb_time_mono ();
    assert (!wb_pool_new (&config, &detail, &err));
    assert (wb_time_mono () - began < 0.3 * test->factor + 2);
    assert (strstr (err.text, "was not ready within"));
    assert (strstr (err.text, "(it wrote nothing on stderr)"));
    assert (!detail);
    //  No such interpreter
    config.python = "/nonexistent/python3";
    assert (!wb_pool_new (&config, &detail, &err));
    assert (strstr (err.text, "cannot run the Python interpreter '/nonexistent/python3'"));
    config.python = "no-such-python-here";
    assert (!wb_pool_new (&config, NULL, &err));
    assert (strstr (err.text, "not found on PATH"));
}

//  Scoring, probabilities, columns, raising, crashing, a reply too big,
//  batching from many threads
static void
s_test_scoring (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "sum", 2, 64, 10, NULL, &err);
    assert (pool);
    json_t *hello = wb_pool_hello (pool);
    assert (json_is_true (json_object_get (hello, "ready")));
    assert (json_is_true (json_object_get (hello, "batch")));
    assert (streq (json_string_value (json_object_get (hello, "dir")), test->folder));
    pid_t pid = (pid_t) json_integer_value (json_object_get (hello, "pid"));
    assert (pid > 0 && kill (pid, 0) == 0);

    json_t *reply = NULL;
    char *detail = NULL;
    assert (s_test_score (pool, "[[1, 2], [3, 4.5]]", NULL, false, &reply, &detail) == 200);
    char *text = s_test_predictions (reply);
    assert (streq (text, "[3,7.5]"));
    assert (!json_object_get (reply, "probabilities"));
    assert (!detail);
    free (text);
    json_decref (reply);
    //  Probabilities when asked; rows by column name; columns passed on
    assert (s_test_score (pool, "[[1, 2], [3, 4]]", NULL, true, &reply, NULL) == 200);
    text = json_dumps (json_object_get (reply, "probabilities"), JSON_COMPACT);
    assert (streq (text, "[[3,-3],[7,-7]]"));
    free (text);
    json_decref (reply);
    assert (s_test_score (pool, "[{\"a\": 1, \"b\": 2}]", NULL, false, &reply, NULL) == 200);
    assert (json_integer_value (json_array_get (json_object_get (reply, "predictions"), 0)) == 3);
    json_decref (reply);
    assert (s_test_score (pool, "[[5, 6]]", "[\"a\", \"b\"]", false, &reply, NULL) == 200);
    assert (json_integer_value (json_array_get (json_object_get (reply, "predictions"), 0)) == 11);
    json_decref (reply);
    assert (s_test_score (pool, "[]", NULL, false, &reply, NULL) == 200);
    assert (json_array_size (json_object_get (reply, "predictions")) == 0);
    json_decref (reply);

    //  The scorer raises: 500 naming the exception, the traceback as detail
    assert (s_test_score (pool, "[[1, -1]]", NULL, false, &reply, &detail) == 500);
    assert (streq (s_test_code (reply), "scorer_error"));
    assert (streq (s_test_message (reply), "ValueError: a row holds -1"));
    text = json_dumps (reply, JSON_COMPACT);
    assert (!strstr (text, "Traceback"));  //  the caller never sees it
    free (text);
    assert (detail && strstr (detail, "Traceback"));
    free (detail);
    json_decref (reply);
    assert (s_test_score (pool, "[[2]]", NULL, false, &reply, &detail) == 200);
    json_decref (reply);

    //  The worker dies with the request: 503, then it is back
    assert (s_test_score (pool, "[[-2]]", NULL, false, &reply, &detail) == 503);
    assert (streq (s_test_code (reply), "worker_crashed"));
    assert (strstr (s_test_message (reply), "exited with status 3"));
    assert (!detail);
    json_decref (reply);
    assert (s_test_score (pool, "[[2, 3]]", NULL, false, &reply, NULL) == 200);
    json_decref (reply);
    s_test_recovered (pool, 1, 2, 10 * test->factor);
    assert (s_test_logged (test, "restarting (restart 1): it exited with status 3", 1));

    //  A reply over 256 MiB is refused, not read
    assert (s_test_score (pool, "[[-5]]", NULL, false, &reply, NULL) == 500);
    assert (strstr (s_test_message (reply), "over the 256 MiB"));
    json_decref (reply);
    s_test_recovered (pool, 2, 2, 10 * test->factor);

    //  Many threads at once: batches of several requests, each request
    //  gets its own rows back
    wb_pool_stats_t before, after;
    wb_pool_stats (pool, &before);
    assert (s_test_callers (pool, 8, 40, 0) == 0);
    wb_pool_stats (pool, &after);
    uint64_t calls = after.batches - before.batches;
    assert (after.requests - before.requests == 8 * 40);
    assert (calls < 8 * 40);
    uint64_t big = 0;
    for (size_t bucket = 3; bucket < WB_POOL_BUCKETS; bucket++)
        big += after.batch_sizes [bucket] - before.batch_sizes [bucket];
    assert (big > 0);               //  over 4 rows: more than one request
    //  A raising request in a batch fails alone
    assert (s_test_callers (pool, 8, 20, 5) == 0);
    wb_pool_stats (pool, &after);
    assert (after.queued == 0);
    assert (after.restarts == 2);
    assert (after.crashed == 1 && after.timeouts == 0);
    if (test->factor == 1)
        printf ("(%.1f requests a call) ", (double) (8 * 40) / (double) calls);
    wb_pool_destroy (&pool);
    assert (!pool);
    wb_pool_destroy (&pool);
    assert (kill (pid, 0) == -1 && errno == ESRCH);
}

//  Matrices: raw numbers out, raw predictions and probabilities back
//  (int64 and float64, NaN as null), columns passed on, the scorer
//  raising, the worker dying, a matrix too big for a frame, a reply whose
//  raw frame does not match it, a hang; matrices never batched with rows
static void
s_test_matrix (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "sum", 2, 64, 10, NULL, &err);
    assert (pool);
    assert (json_is_true (json_object_get (wb_pool_hello (pool), "batch")));
    json_t *reply = NULL;
    char *detail = NULL;
    //  Sums that are not whole come back as float64, whole ones as int64
    const double halves [] = { 1, 2, 3, 4.5 };
    assert (s_test_matrix_score (pool, halves, 2, 2, NULL, false, &reply, &detail) == 200);
    char *text = s_test_predictions (reply);
    assert (streq (text, "[3.0,7.5]"));
    assert (!json_object_get (reply, "probabilities"));
    assert (!detail);
    free (text);
    json_decref (reply);
    const double wholes [] = { 1, 2, 3, 4, 5, 6 };
    assert (s_test_matrix_score (pool, wholes, 2, 3, "[\"a\", \"b\", \"c\"]", true,
                                 &reply, NULL) == 200);
    text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"predictions\":[6,15],\"probabilities\":[[6.0,-6.0],[15.0,-15.0]]}"));
    free (text);
    json_decref (reply);
    //  NaN is a missing value there and null back
    const double missing [] = { 1, NAN, 2, 3 };
    assert (s_test_matrix_score (pool, missing, 2, 2, NULL, true, &reply, NULL) == 200);
    text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"predictions\":[null,5.0],\"probabilities\":[[null,null],[5.0,-5.0]]}"));
    free (text);
    json_decref (reply);
    //  No rows: no predictions; the data is not read
    assert (s_test_matrix_score (pool, NULL, 0, 4, NULL, false, &reply, NULL) == 200);
    assert (json_array_size (json_object_get (reply, "predictions")) == 0);
    json_decref (reply);

    //  The scorer raises: 500 and the traceback; the worker dies: 503
    const double raising [] = { 1, -1 };
    assert (s_test_matrix_score (pool, raising, 1, 2, NULL, false, &reply, &detail) == 500);
    assert (streq (s_test_message (reply), "ValueError: a row holds -1"));
    assert (detail && strstr (detail, "Traceback"));
    free (detail);
    json_decref (reply);
    const double dying [] = { -2 };
    assert (s_test_matrix_score (pool, dying, 1, 1, NULL, false, &reply, NULL) == 503);
    assert (strstr (s_test_message (reply), "exited with status 3"));
    json_decref (reply);
    s_test_recovered (pool, 1, 2, 10 * test->factor);

    //  Over 256 MiB of numbers: 413 before anything is read or sent (the
    //  pool refuses on the count alone, so a small buffer stands for it)
    wb_pool_stats_t before, after;
    wb_pool_stats (pool, &before);
    assert (s_test_matrix_score (pool, halves, (size_t) 1 << 22, 16, NULL, false, &reply,
                                 NULL) == 413);
    assert (streq (s_test_code (reply), "too_large"));
    assert (strstr (s_test_message (reply), "4194304 rows of 16 numbers take 536870912 bytes"));
    json_decref (reply);
    assert (s_test_matrix_score (pool, halves, SIZE_MAX / 2, 4, NULL, false, &reply, NULL) == 413);
    json_decref (reply);
    wb_pool_stats (pool, &after);
    assert (after.batches == before.batches && after.too_large == before.too_large + 2);

    //  Rows and matrices from many threads, batching on: every answer right
    assert (s_test_callers_of (pool, 8, 30, 7, true) == 0);
    wb_pool_stats (pool, &after);
    assert (after.restarts == 1 && after.queued == 0);
    wb_pool_destroy (&pool);

    //  The columns reach the scorer
    pool = s_test_pool (test, "result", 1, 1, 10, NULL, &err);
    assert (pool);
    assert (s_test_matrix_score (pool, wholes, 3, 2, "[\"x\", \"y\"]", false, &reply,
                                 NULL) == 200);
    text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"result\":{\"columns\":[\"x\",\"y\"],\"rows\":3}}"));
    free (text);
    json_decref (reply);
    wb_pool_destroy (&pool);

    //  A raw field whose frame does not hold its shape breaks the
    //  protocol: 503, the worker killed and restarted
    pool = s_test_pool (test, "badraw", 1, 1, 10, NULL, &err);
    assert (pool);
    assert (s_test_matrix_score (pool, wholes, 2, 3, NULL, false, &reply, NULL) == 503);
    assert (streq (s_test_code (reply), "worker_crashed"));
    assert (strstr (s_test_message (reply), "a raw field whose frame does not hold its shape"));
    json_decref (reply);
    assert (s_test_logged (test, "killed: it sent a raw field whose frame", 1));
    s_test_recovered (pool, 1, 1, 10 * test->factor);
    //  Rows still answer in JSON
    assert (s_test_score (pool, "[[1, 2]]", NULL, false, &reply, NULL) == 200);
    json_decref (reply);
    wb_pool_destroy (&pool);

    //  A matrix that hangs: 504, the worker restarted
    pool = s_test_pool (test, "sum", 1, 1, 0.5, NULL, &err);
    assert (pool);
    const double hanging [] = { 1, -3 };
    assert (s_test_matrix_score (pool, hanging, 1, 2, NULL, false, &reply, NULL) == 504);
    assert (streq (s_test_code (reply), "timeout"));
    json_decref (reply);
    s_test_recovered (pool, 1, 1, 10 * test->factor);
    assert (s_test_matrix_score (pool, wholes, 1, 2, NULL, false, &reply, NULL) == 200);
    assert (json_integer_value (json_array_get (json_object_get (reply, "predictions"), 0)) == 3);
    json_decref (reply);
    wb_pool_destroy (&pool);
}

//  A request waits max_batch_delay for company when the pool has one
//  worker, and not at all when another worker is idle
static void
s_test_batch_delay (s_test_t *test)
{
    wb_error_t err;
    test->delay = 0.2;
    for (int workers = 1; workers <= 2; workers++) {
        wb_pool_t *pool = s_test_pool (test, "sum", workers, 64, 10, NULL, &err);
        assert (pool);
        json_t *reply;
        double began = wb_time_mono ();
        assert (s_test_score (pool, "[[1]]", NULL, false, &reply, NULL) == 200);
        double took = wb_time_mono () - began;
        json_decref (reply);
        if (workers == 1)
            assert (took >= 0.2 * test->factor);
        else
            assert (took < 0.1 * test->factor);
        wb_pool_destroy (&pool);
    }
    test->delay = 0.002;
}

//  No batching when the hello says batch:false or max_batch_rows is 1;
//  a dict from run() and a wrong count of predictions
static void
s_test_no_batching (s_test_t *test)
{
    wb_error_t err;
    const char *models [] = { "nobatch", "sum" };
    for (int index = 0; index < 2; index++) {
        wb_pool_t *pool = s_test_pool (test, models [index], 1, index? 1: 64, 10, NULL, &err);
        assert (pool);
        assert (s_test_callers (pool, 4, 15, 0) == 0);
        wb_pool_stats_t stats;
        wb_pool_stats (pool, &stats);
        assert (stats.requests == 60 && stats.batches == 60);
        assert (stats.batch_sizes [0] + stats.batch_sizes [1] + stats.batch_sizes [2] == 60);
        wb_pool_destroy (&pool);
    }
    //  A dict is the answer of a call of one request; a batch cannot split it
    wb_pool_t *pool = s_test_pool (test, "result", 1, 64, 10, NULL, &err);
    assert (pool);
    json_t *reply;
    assert (s_test_score (pool, "[[1]]", "[\"a\"]", false, &reply, NULL) == 200);
    char *text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"result\":{\"columns\":[\"a\"],\"rows\":1}}"));
    free (text);
    json_decref (reply);
    s_test_caller_t callers [4] = {
        { .pool = pool, .single = "[[-4]]" }, { .pool = pool, .single = "[[1]]" },
        { .pool = pool, .single = "[[2]]" }, { .pool = pool, .single = "[[3]]" }
    };
    pthread_t threads [4];
    for (int index = 0; index < 4; index++) {
        assert (pthread_create (&threads [index], NULL, s_test_caller, &callers [index]) == 0);
        if (index == 0)
            usleep ((useconds_t) (100 * 1000 * test->factor));
    }
    for (int index = 0; index < 4; index++)
        pthread_join (threads [index], NULL);
    assert (callers [0].status == 200);
    for (int index = 1; index < 4; index++) {
        assert (callers [index].status == 500);
        assert (strstr (s_test_message (callers [index].reply), "batching needs a list"));
    }
    for (int index = 0; index < 4; index++)
        json_decref (callers [index].reply);
    wb_pool_destroy (&pool);
    //  One prediction a row, or a 500
    pool = s_test_pool (test, "short", 1, 64, 10, NULL, &err);
    assert (pool);
    assert (s_test_score (pool, "[[1], [2]]", NULL, false, &reply, NULL) == 500);
    assert (strstr (s_test_message (reply), "returned 1 predictions for 2 rows"));
    json_decref (reply);
    wb_pool_destroy (&pool);
}

//  A request that hangs gets 504 and its worker is killed and restarted;
//  one that waits too long in the queue gets 504 too
static void
s_test_timeouts (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "sum", 1, 1, 0.5, NULL, &err);
    assert (pool);
    json_t *reply;
    double began = wb_time_mono ();
    assert (s_test_score (pool, "[[-3]]", NULL, false, &reply, NULL) == 504);
    double took = wb_time_mono () - began;
    assert (took >= 0.5 * test->factor && took < 0.5 * test->factor + 2);
    assert (streq (s_test_code (reply), "timeout"));
    assert (strstr (s_test_message (reply), "its worker was killed"));
    json_decref (reply);
    assert (s_test_score (pool, "[[1]]", NULL, false, &reply, NULL) == 200);
    json_decref (reply);
    s_test_recovered (pool, 1, 1, 10 * test->factor);
    assert (s_test_logged (test, "killed: a request took longer than", 1));
    assert (s_test_logged (test, "was killed by signal 9", 1));
    //  Two requests of 0.35 s ahead of it: the third waits over 0.5 s
    s_test_caller_t callers [3] = {
        { .pool = pool, .single = "[[-4]]" }, { .pool = pool, .single = "[[-4]]" },
        { .pool = pool, .single = "[[1]]" }
    };
    pthread_t threads [3];
    for (int index = 0; index < 3; index++) {
        assert (pthread_create (&threads [index], NULL, s_test_caller, &callers [index]) == 0);
        usleep ((useconds_t) (20 * 1000 * test->factor));
    }
    for (int index = 0; index < 3; index++)
        pthread_join (threads [index], NULL);
    assert (callers [0].status == 200 && callers [1].status == 200);
    assert (callers [2].status == 504);
    assert (strstr (s_test_message (callers [2].reply), "waited"));
    for (int index = 0; index < 3; index++)
        json_decref (callers [index].reply);
    wb_pool_stats_t stats;
    wb_pool_stats (pool, &stats);
    assert (stats.timeouts == 2 && stats.restarts == 1);
    wb_pool_destroy (&pool);
}

//  stderr lines reach the log with the label and the worker's number, a
//  long one cut
static void
s_test_stderr (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "chatty", 1, 1, 10, NULL, &err);
    assert (pool);
    json_t *reply;
    assert (s_test_score (pool, "[[1], [2]]", NULL, false, &reply, NULL) == 200);
    json_decref (reply);
    assert (s_test_logged (test, "[test worker 0] scoring 2 rows\n", 2));
    assert (s_test_score (pool, "[[7]]", NULL, false, &reply, NULL) == 200);
    json_decref (reply);
    assert (s_test_logged (test, "xxxx [cut: the line is longer than 4 KiB]\n", 2));
    char *log = wb_file_read (test->log, NULL);
    assert (!strstr (log, "xy"));
    assert (strstr (log, "[test worker 0] started (pid "));
    free (log);
    wb_pool_destroy (&pool);
}

//  A worker whose restarts fail: requests get 503 at once, the next start
//  waits after 5 in a row, and stopping does not wait for it
static void
s_test_failing_restarts (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "sum", 1, 1, 10, NULL, &err);
    assert (pool);
    char *broken = wb_sprintf ("%s/broken", test->folder);
    FILE *file = fopen (broken, "w");
    assert (file);
    fclose (file);
    json_t *reply;
    assert (s_test_score (pool, "[[-2]]", NULL, false, &reply, NULL) == 503);
    json_decref (reply);
    assert (s_test_logged (test, "5 starts in 10 s: waiting 1 s before the next",
                           5 * test->factor));
    assert (s_test_logged (test, "[test worker 0] not ready: RuntimeError: no weights", 1));
    assert (s_test_logged (test, "[test worker 0]   RuntimeError: no weights\n", 1));
    wb_pool_stats_t stats;
    wb_pool_stats (pool, &stats);
    assert (stats.restarts == 4 && stats.ready == 0);
    double began = wb_time_mono ();
    assert (s_test_score (pool, "[[1]]", NULL, false, &reply, NULL) == 503);
    assert (streq (s_test_code (reply), "unavailable"));
    assert (strstr (s_test_message (reply), "no worker is running"));
    json_decref (reply);
    wb_pool_destroy (&pool);
    assert (wb_time_mono () - began < 0.5 * test->factor);
    assert (unlink (broken) == 0);
    free (broken);
}

//  Destroy with requests waiting: they get 503 at once; one in flight
//  that never ends gets 503 when its worker is killed 2 s on
static void
s_test_destroy (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "sum", 1, 1, 0, NULL, &err);
    assert (pool);
    s_test_caller_t callers [3] = {
        { .pool = pool, .single = "[[-3]]" }, { .pool = pool, .single = "[[1]]" },
        { .pool = pool, .single = "[[2]]" }
    };
    //  The one that hangs first, then two behind it
    pthread_t threads [3];
    wb_pool_stats_t stats;
    for (int index = 0; index < 3; index++) {
        assert (pthread_create (&threads [index], NULL, s_test_caller, &callers [index]) == 0);
        double until = wb_time_mono () + 5 * test->factor;
        do {
            usleep (2 * 1000);
            wb_pool_stats (pool, &stats);
        } while (stats.batches + stats.queued < (uint64_t) index + 1
             &&  wb_time_mono () < until);
    }
    assert (stats.batches == 1 && stats.queued == 2);
    double began = wb_time_mono ();
    wb_pool_destroy (&pool);
    double took = wb_time_mono () - began;
    assert (took >= WB_POOL__STOP_GRACE - 0.1 && took < WB_POOL__STOP_GRACE + 1.5);
    for (int index = 0; index < 3; index++) {
        pthread_join (threads [index], NULL);
        assert (callers [index].status == 503);
        assert (streq (s_test_code (callers [index].reply), "unavailable"));
        json_decref (callers [index].reply);
    }
}

//  wb_pool_submit: what a callback got
typedef struct {
    atomic_int *delivered;      //  answers so far, of every call
    int status;
    json_t *reply;
} s_test_answer_t;

static void
s_test_done (void *arg, int status, json_t *reply, char *detail)
{
    s_test_answer_t *answer = arg;
    assert (answer->status == 0);   //  once
    answer->status = status;
    answer->reply = reply;
    free (detail);
    atomic_fetch_add (answer->delivered, 1);
}

//  Wait until count answers were delivered, calling wb_pool_expire as the
//  server's main loop does (pool may be NULL: only wait)
static void
s_test_delivered (wb_pool_t *pool, atomic_int *delivered, int count, double seconds)
{
    double until = wb_time_mono () + seconds;
    while (atomic_load (delivered) < count && wb_time_mono () < until) {
        if (pool)
            wb_pool_expire (pool);
        usleep (5 * 1000);
    }
    assert (atomic_load (delivered) == count);
}

//  Submit count calls of rows given as JSON text, answers [i] for the i-th,
//  the delivered count starting again at 0
static void
s_test_submit_rows (wb_pool_t *pool, const char **texts, int count, s_test_answer_t *answers,
                    atomic_int *delivered)
{
    atomic_store (delivered, 0);
    for (int index = 0; index < count; index++) {
        answers [index] = (s_test_answer_t) { .delivered = delivered };
        json_t *rows = json_loads (texts [index], 0, NULL);
        assert (rows);
        wb_pool_submit (pool, rows, NULL, false, s_test_done, &answers [index]);
        json_decref (rows);
    }
}

//  Calls without a waiting thread: each answer reaches its callback once,
//  in batches; a queued call past the timeout gets 504 from wb_pool_expire;
//  destroying the pool answers what is left (503) before it returns
static void
s_test_submit (s_test_t *test)
{
    wb_error_t err;
    wb_pool_t *pool = s_test_pool (test, "sum", 2, 8, 10, NULL, &err);
    assert (pool);
    enum { CALLS = 300 };
    static s_test_answer_t answers [CALLS];
    atomic_int delivered = 0;
    for (int index = 0; index < CALLS; index++) {
        answers [index] = (s_test_answer_t) { .delivered = &delivered };
        json_t *rows = json_pack ("[[i, i]]", index, 1000);
        wb_pool_submit (pool, rows, NULL, index % 2 == 0, s_test_done, &answers [index]);
        json_decref (rows);
    }
    s_test_delivered (NULL, &delivered, CALLS, 20 * test->factor);
    for (int index = 0; index < CALLS; index++) {
        assert (answers [index].status == 200);
        json_t *predictions = json_object_get (answers [index].reply, "predictions");
        assert (json_array_size (predictions) == 1);
        assert (json_integer_value (json_array_get (predictions, 0)) == index + 1000);
        assert ((json_object_get (answers [index].reply, "probabilities") != NULL)
                == (index % 2 == 0));
        json_decref (answers [index].reply);
    }
    wb_pool_stats_t stats;
    wb_pool_stats (pool, &stats);
    assert (stats.requests == CALLS && stats.batches < CALLS);     //  some were batched
    wb_pool_destroy (&pool);

    //  Two calls of 0.35 s on one worker, a third behind them: 504 at 0.5 s
    pool = s_test_pool (test, "sum", 1, 1, 0.5, NULL, &err);
    assert (pool);
    s_test_submit_rows (pool, (const char *[]) { "[[-4]]", "[[-4]]", "[[1]]" }, 3,
                        answers, &delivered);
    s_test_delivered (pool, &delivered, 3, 5 * test->factor);
    assert (answers [0].status == 200 && answers [1].status == 200);
    assert (answers [2].status == 504);
    assert (strstr (s_test_message (answers [2].reply), "waited"));
    for (int index = 0; index < 3; index++)
        json_decref (answers [index].reply);
    wb_pool_destroy (&pool);

    //  One that hangs, two behind it: destroy answers all three first
    pool = s_test_pool (test, "sum", 1, 1, 0, NULL, &err);
    assert (pool);
    s_test_submit_rows (pool, (const char *[]) { "[[-3]]", "[[1]]", "[[2]]" }, 3,
                        answers, &delivered);
    wb_pool_destroy (&pool);
    assert (atomic_load (&delivered) == 3);
    for (int index = 0; index < 3; index++) {
        assert (answers [index].status == 503);
        json_decref (answers [index].reply);
    }
}

void
wb_pool_test (bool verbose)
{
    s_test_t test;
    memset (&test, 0, sizeof (test));
    const char *factor = getenv ("WORKBENCH_TIME_FACTOR");
    test.factor = factor && atof (factor) >= 1? atof (factor): 1;
    test.delay = 0.002;
    snprintf (test.folder, sizeof (test.folder), "/tmp/wb-pool-test-XXXXXX");
    assert (mkdtemp (test.folder));
    test.script = wb_sprintf ("%s/worker.py", test.folder);
    FILE *file = fopen (test.script, "w");
    assert (file);
    fputs (s_test_worker, file);
    fclose (file);
    test.log = wb_sprintf ("%s/pool.log", test.folder);
    test.log_fd = open (test.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert (test.log_fd >= 0);

    //  name, function: the parts, timed with -v
    struct {
        const char *name;
        void (*run) (s_test_t *test);
    } parts [] = {
        { "start failures", s_test_start_failures }, { "scoring", s_test_scoring },
        { "matrices", s_test_matrix },
        { "no batching", s_test_no_batching }, { "batch delay", s_test_batch_delay },
        { "timeouts", s_test_timeouts },
        { "stderr", s_test_stderr }, { "failing restarts", s_test_failing_restarts },
        { "destroy", s_test_destroy }, { "submit", s_test_submit }
    };
    for (size_t index = 0; index < sizeof (parts) / sizeof (parts [0]); index++) {
        double began = wb_time_mono ();
        parts [index].run (&test);
        if (verbose)
            printf ("\n  %s: %.2f s", parts [index].name, wb_time_mono () - began);
    }

    //  Every worker was reaped
    assert (waitpid (-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    if (verbose) {
        char *log = wb_file_read (test.log, NULL);
        printf ("\n%s", log);
        free (log);
    }
    close (test.log_fd);
    char *command = wb_sprintf ("rm -rf '%s'", test.folder);
    assert (system (command) == 0);
    free (command);
    free (test.script);
    free (test.log);
}
//  @end
