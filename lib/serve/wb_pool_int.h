/*  wb_pool_int - private to wb_pool*.c: the pool, its requests and its
    workers

    wb_pool.c           the pool: starting and stopping, scoring, counters,
                        the log
    wb_pool_test.c      the self-test
    wb_pool_queue.c     the queue, dynamic batching, answers
    wb_pool_process.c   a worker's process: fork+exec, its hello, frames,
                        its stderr, ending and reaping it
    wb_pool_worker.c    a worker's thread: take, call, split, answer, restart

    Threads: the request threads (wb_pool_score) queue a request and wait
    on its own condition variable; one thread per worker takes requests,
    calls its process and answers them; one thread per worker process reads
    its stderr. The pool's mutex guards the queue, every request's state and
    answer, the counters and the workers' states; a request's fields set
    before it is queued are read-only afterwards.
*/
#ifndef WB_POOL_INT_H
#define WB_POOL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "wb_pool.h"

#define WB_POOL__FRAME_MAX   (256u * 1024 * 1024)  //  bytes a frame may have
#define WB_POOL__LINE_MAX    4096   //  bytes of a stderr line kept, the rest cut
#define WB_POOL__TAIL        20     //  last stderr lines kept for a start failure
#define WB_POOL__BURST       5      //  starts of one worker within...
#define WB_POOL__BURST_SPAN  10.0   //  ...this many seconds make the next one wait
#define WB_POOL__STOP_GRACE  2.0    //  seconds from stopping to SIGKILL
#define WB_POOL__EXIT_WAIT   1.0    //  seconds a worker that closed its pipes has to exit

//  Where a request is
enum {
    WB_POOL__QUEUED,                //  in the pool's queue
    WB_POOL__TAKEN,                 //  a worker holds it
    WB_POOL__DONE                   //  answered: status, reply, detail are set
};

//  How waiting on a worker's pipe ended
enum {
    WB_POOL__IO_READY,              //  done
    WB_POOL__IO_EOF,                //  the process closed its end: it died
    WB_POOL__IO_TIMEOUT,            //  the request's deadline passed
    WB_POOL__IO_STOPPED,            //  the pool stopped and its grace passed
    WB_POOL__IO_TOO_BIG             //  a frame over WB_POOL__FRAME_MAX
};

//  One call of wb_pool_score or wb_pool_score_matrix, on its caller's
//  stack, or of wb_pool_submit, on the heap until it is delivered
typedef struct _wb_pool__request_t wb_pool__request_t;
struct _wb_pool__request_t {
    char *rows;                     //  the rows as JSON, "[...]" (NULL for a matrix)
    size_t rows_size;               //  its length (a matrix: its bytes)
    size_t nrows;                   //  rows in it
    bool is_matrix;                 //  or the rows are a matrix (wb_pool_score_matrix)...
    const double *matrix;           //  ...of nrows x ncols numbers (the caller's; NULL
    size_t ncols;                   //  when it holds none)
    char *raw [2];                  //  its reply's raw predictions and probabilities: the
                                    //  frames, made JSON by the caller (the descriptors in
                                    //  the reply say how), NULL when the reply has none
    char *columns;                  //  the columns as JSON, "null" when none
    bool proba;                     //  probabilities asked
    double deadline;                //  monotonic: leaves the queue with 504 (0 = never)
    int state;                      //  WB_POOL__*
    int status;                     //  the answer: HTTP status...
    json_t *reply;                  //  ...body...
    char *detail;                   //  ...and traceback of a scorer error
    pthread_cond_t done;            //  signalled when answered (not wb_pool_submit's)
    wb_pool_done_fn *deliver;       //  wb_pool_submit's: called with the answer...
    void *deliver_arg;              //  ...and this, by wb_pool__deliver
    wb_pool__request_t *prev;       //  in the queue, or (next) in the delivered list
    wb_pool__request_t *next;
};

//  One worker: a slot the pool keeps filled with a running process
typedef struct {
    wb_pool_t *pool;                //  owner
    int index;                      //  0.. in the pool, for log lines
    pthread_t thread;               //  takes, calls, answers, restarts
    bool started;                   //  thread was created
    //  Under the pool's lock
    bool ready;                     //  a process serves now
    bool down;                      //  its last start failed (waiting to retry)
    //  The worker thread's own
    pid_t pid;                      //  the process, 0 when none
    int to_fd;                      //  its stdin (we write frames), non-blocking
    int from_fd;                    //  its stdout (we read frames), non-blocking
    int err_fd;                     //  its stderr, read by the stderr thread
    int wake_fd;                    //  eventfd: tells the stderr thread its process is gone
    pthread_t err_thread;           //  reads err_fd into the log
    bool err_running;               //  err_thread to join
    bool batch;                     //  its hello said batch:true
    uint64_t next_id;               //  request ids
    double stop_by;                 //  monotonic: when stopping, kill by then (0 = not stopping)
    double starts [WB_POOL__BURST]; //  monotonic times of its latest starts (a ring)
    size_t nstarts;                 //  starts so far
    double backoff;                 //  seconds the next start waits in a burst
    int restarts;                   //  its restarts, for log lines
    wb_pool__request_t **batch_of;  //  the requests of the current call
    //  Its stderr's last lines (guarded by tail_lock: the stderr thread writes them)
    pthread_mutex_t tail_lock;
    char *tail [WB_POOL__TAIL];     //  a ring of lines
    size_t ntail;                   //  lines so far
} wb_pool__worker_t;

struct _wb_pool_t {
    //  The configuration (read-only once the threads run)
    char *label;                    //  for log lines
    char *python;                   //  the interpreter's path
    char **argv;                    //  the worker's command line
    char **envp;                    //  its environment
    int nworkers;                   //  processes
    size_t max_batch_rows;          //  rows one call may take (1 = no batching)
    double max_batch_delay;         //  seconds a worker gathers a batch
    double request_timeout;         //  seconds, 0 = none
    double start_timeout;           //  seconds for a hello
    int log_fd;                     //  log lines go there
    int stop_fd;                    //  eventfd, readable once the pool stops
    wb_pool__worker_t *workers;     //  nworkers of them
    //  Under lock
    pthread_mutex_t lock;
    pthread_cond_t work;            //  idle workers: a request queued, stopping
    pthread_cond_t gather;          //  the gathering worker: a request queued, a
                                    //  worker idle, stopping
    pthread_cond_t started;         //  wb_pool_new: a worker's first start ended
    pthread_cond_t left;            //  wb_pool_destroy: a caller left wb_pool_score
    wb_pool__request_t *head;       //  the queue, oldest first
    wb_pool__request_t *tail;
    bool stopping;                  //  wb_pool_destroy began
    bool gathering;                 //  a worker is gathering a batch
    int ready;                      //  workers serving
    int down;                       //  workers whose last start failed
    int idle;                       //  workers waiting for a request
    int reported;                   //  workers whose first start ended
    int callers;                    //  threads inside wb_pool_score, and calls of
                                    //  wb_pool_submit not yet delivered
    wb_pool__request_t *delivered;  //  wb_pool_submit's calls answered, to deliver
    bool failed;                    //  a first start failed: start_error says why
    wb_error_t start_error;         //  the first failure's message
    char *start_detail;             //  its traceback or last stderr lines
    json_t *hello;                  //  worker 0's first hello
    wb_pool_stats_t stats;          //  counters (workers, ready, queued filled on copy)
};

//  ---- The pool (wb_pool.c) ----

//  Condition variables on the monotonic clock, and waiting on them until
//  a monotonic time: 0, or ETIMEDOUT
void
    wb_pool__cond_init (pthread_cond_t *cond);
int
    wb_pool__wait_until (pthread_cond_t *cond, pthread_mutex_t *lock, double deadline);

//  One line to the log: "[LABEL worker N] text" (index >= 0) or
//  "[LABEL] text", cut to fit WB_POOL__LINE_MAX and a prefix
void
    wb_pool__log (wb_pool_t *self, int index, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  A matrix's reply (the caller's, once answered): each raw field's frame
//  in request->raw made the JSON array its descriptor says (NaN and
//  infinities as null), in place of the descriptor; the frames freed
void
    wb_pool__raw_json (wb_pool__request_t *request, json_t *reply);
//  ---- The queue and answers (wb_pool_queue.c) ----

//  {"error": {"code": code, "message": message}}
json_t *
    wb_pool__error_body (const char *code, const char *message);
//  Put request at the end of the queue and wake one worker: an idle one,
//  or the one gathering a batch (under the lock)
void
    wb_pool__enqueue (wb_pool_t *self, wb_pool__request_t *request);
//  Answer a taken or queued request (under the lock; reply is taken,
//  detail too); wakes its caller, or puts a wb_pool_submit call in the
//  delivered list: whoever answers calls wb_pool__deliver once the lock
//  is released
void
    wb_pool__answer (wb_pool_t *self, wb_pool__request_t *request, int status,
                     json_t *reply, char *detail);
//  Hand the answers of wb_pool_submit's calls in the delivered list to
//  their callbacks and free the calls (takes the lock; call it without)
void
    wb_pool__deliver (wb_pool_t *self);
//  The same answer to count requests, an error body {"error": {code,
//  message}} with a copy of detail each (takes the lock, delivers)
void
    wb_pool__fail (wb_pool_t *self, wb_pool__request_t **requests, size_t count,
                   int status, const char *code, const char *message, const char *detail);
//  Answer every queued request with 503 unavailable (under the lock)
void
    wb_pool__flush (wb_pool_t *self, const char *message);
//  Count a call of rows to a worker (takes the lock)
void
    wb_pool__count_call (wb_pool_t *self, size_t rows);
//  The next call for worker: requests into worker->batch_of (batching as
//  the header says), their count; 0 when the pool stops. Takes the lock.
size_t
    wb_pool__take (wb_pool_t *self, wb_pool__worker_t *worker);

//  ---- A worker's process (wb_pool_process.c) ----

//  Start a process and wait for its hello (start_timeout): 0 with
//  *hello_p (caller owns), or -1 with err (the worker's error, or what
//  happened and its last stderr line) and *detail_p (its traceback or last
//  stderr lines, or NULL; caller frees)
int
    wb_pool__start (wb_pool__worker_t *worker, json_t **hello_p, char **detail_p,
                    wb_error_t *err);
//  End the process: close its stdin, give it grace seconds to exit, then
//  SIGKILL; reap it, close its pipes, join its stderr thread. How it ended
//  goes to how ("exited with status 3", "was killed by signal 9 (Killed)").
void
    wb_pool__end (wb_pool__worker_t *worker, double grace, char *how, size_t size);
//  Write a frame (text of size bytes) within the deadline (monotonic, 0 =
//  none; the pool stopping gives WB_POOL__STOP_GRACE at most):
//  WB_POOL__IO_*
int
    wb_pool__frame_write (wb_pool__worker_t *worker, const char *text, size_t size,
                          double deadline);
//  Read a frame into *frame_p (caller frees), its size in *size_p (also
//  the size announced, for WB_POOL__IO_TOO_BIG): WB_POOL__IO_*
int
    wb_pool__frame_read (wb_pool__worker_t *worker, double deadline, char **frame_p,
                         size_t *size_p);

//  ---- A worker's thread (wb_pool_worker.c) ----

//  The worker thread, arg the worker: first start, then serve and restart
//  until the pool stops (or the first start fails)
void *
    wb_pool__worker_thread (void *arg);

#endif
