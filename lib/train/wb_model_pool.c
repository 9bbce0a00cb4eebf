/*  wb_model_pool - a pool of training threads that meet at a barrier
    (spinning, then sleeping on a futex) and each do their share of a
    task; the caller's thread is one of them (part of wb_model; see
    wb_model_int.h)
*/
#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include "wb_model_int.h"

//  ---- A pool of training threads ----

//  Training splits its work by rows over a few threads of its own, each
//  calling OpenBLAS single-threaded, and sums their partial results in
//  thread order: the same thread count gives the same bits whatever the
//  timing. (OpenBLAS's own threads do worse on the small GEMMs of
//  mini-batches, and they spin for a while after each call, taking the
//  cores from ours; training stops them and restores them after.)

static void
s_pause (void)
{
#ifdef WB_MODEL__SSE
    _mm_pause ();
#endif
}

//  Where the threads meet. Waits between GEMMs are microseconds, so a
//  waiter spins first; past S_SPIN_SECONDS (the other side is busy, or
//  the machine has more work than cores) it sleeps on a futex, and the
//  last to arrive wakes the sleepers.
#define S_SPIN_SECONDS  100e-6

void
wb_model__barrier_wait (wb_model__barrier_t *barrier)
{
    unsigned round = atomic_load (&barrier->round);
    if (atomic_fetch_add (&barrier->arrived, 1) + 1 == barrier->count) {
        atomic_store (&barrier->arrived, 0);
        atomic_fetch_add (&barrier->round, 1);
        if (atomic_load (&barrier->sleepers))
            syscall (SYS_futex, (uint32_t *) &barrier->round, FUTEX_WAKE_PRIVATE, INT_MAX,
                     NULL, NULL, 0);
        return;
    }
    double start = 0;
    for (unsigned spins = 1; atomic_load (&barrier->round) == round; spins++) {
        s_pause ();
        if (spins % 64)
            continue;
        double now = wb_time_mono ();
        if (start == 0)
            start = now;
        else
        if (now - start > S_SPIN_SECONDS) {
            //  seen by the last to arrive, or it moved round first
            atomic_fetch_add (&barrier->sleepers, 1);
            while (atomic_load (&barrier->round) == round)
                syscall (SYS_futex, (uint32_t *) &barrier->round, FUTEX_WAIT_PRIVATE, round,
                         NULL, NULL, 0);
            atomic_fetch_sub (&barrier->sleepers, 1);
            break;
        }
    }
}

static void *
s_pool_thread (void *arg)
{
    wb_model__member_t *member = arg;
    wb_model__pool_t *pool = member->pool;
    while (true) {
        wb_model__barrier_wait (&pool->barrier);
        if (pool->quit)
            break;
        pool->task (pool->arg, member->index, pool->count);
        wb_model__barrier_wait (&pool->barrier);
    }
    return NULL;
}

wb_model__pool_t *
wb_model__pool_new (size_t count)
{
    wb_model__pool_t *pool = wb_calloc (1, sizeof (wb_model__pool_t));
    pool->count = count? count: 1;
    pool->barrier.count = (unsigned) pool->count;
    pool->members = wb_calloc (pool->count, sizeof (wb_model__member_t));
    //  The threads start with every signal blocked, so that signals (an
    //  interrupt, a cancel) reach the caller's thread as before
    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    for (size_t i = 1; i < pool->count; i++) {
        pool->members [i].pool = pool;
        pool->members [i].index = i;
        if (pthread_create (&pool->members [i].thread, NULL, s_pool_thread, &pool->members [i])) {
            fprintf (stderr, "workbench: cannot start a training thread\n");
            abort ();
        }
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    return pool;
}

void
wb_model__pool_destroy (wb_model__pool_t **pool_p)
{
    wb_model__pool_t *pool = *pool_p;
    if (!pool)
        return;
    if (pool->count > 1) {
        pool->quit = true;
        wb_model__barrier_wait (&pool->barrier);
        for (size_t i = 1; i < pool->count; i++)
            pthread_join (pool->members [i].thread, NULL);
    }
    free (pool->members);
    free (pool);
    *pool_p = NULL;
}

//  Run task on every thread of pool (NULL: just this one); returns when
//  all are done
void
wb_model__pool_run (wb_model__pool_t *pool, wb_model__task_fn *task, void *arg)
{
    if (!pool || pool->count == 1) {
        task (arg, 0, 1);
        return;
    }
    pool->task = task;
    pool->arg = arg;
    wb_model__barrier_wait (&pool->barrier);
    task (arg, 0, pool->count);
    wb_model__barrier_wait (&pool->barrier);
}
