/*  selftest - runs the self-test of every class, each in its own process

    Usage: selftest [-v] [-l] [-t NAME]...
      -v       verbose: tests may print what they do
      -l       list the tests and exit
      -t NAME  run only this test (may repeat)
    Ends with the line "N passed, N failed"; exits non-zero if any failed.
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/wb_util.h"
#include "base/wb_fs.h"
#include "base/wb_proc.h"
#include "cell/wb_out.h"
#include "cell/wb_args.h"
#include "base/wb_utf8.h"
#include "base/wb_rng.h"
#include "cell/wb_shell.h"
#include "cell/wb_history.h"
#include "store/wb_store.h"
#include "jobs/wb_snapshot.h"
#include "jobs/wb_job.h"
#include "kernel/wb_msg.h"
#include "kernel/wb_conn.h"
#include "magics/wb_magics.h"
#include "render/wb_render.h"
#include "store/wb_query.h"
#include "data/wb_frame.h"
#include "data/wb_dataset.h"
#include "render/wb_view_data.h"
#include "render/wb_view.h"
#include "render/wb_view_jobs.h"
#include "render/wb_view_train.h"
#include "render/wb_view_sweep.h"
#include "render/wb_view_serve.h"
#include "render/wb_view_runs.h"
#include "train/wb_blas.h"
#include "train/wb_model.h"
#include "tune/wb_sweep.h"
#include "tune/wb_sweeper.h"
#include "render/wb_parcoords.h"
#include "serve/wb_registry.h"
#include "serve/wb_scorer.h"
#include "serve/wb_serve.h"
#include "serve/wb_pool.h"
#include "serve/wb_batch.h"

//  name, function: one row per class with a self-test
typedef struct {
    const char *name;           //  what -t selects
    void (*test) (bool verbose);    //  asserts; a failed assert fails the test
} s_test_t;

static const s_test_t s_tests [] = {
    { "wb_util",    wb_util_test },
    { "wb_fs",      wb_fs_test },
    { "wb_proc",    wb_proc_test },
    { "wb_out",     wb_out_test },
    { "wb_args",    wb_args_test },
    { "wb_utf8",    wb_utf8_test },
    { "wb_rng",     wb_rng_test },
    { "wb_shell",   wb_shell_test },
    { "wb_history", wb_history_test },
    { "wb_store",   wb_store_test },
    { "wb_snapshot", wb_snapshot_test },
    { "wb_job",     wb_job_test },
    { "wb_msg",     wb_msg_test },
    { "wb_conn",    wb_conn_test },
    { "wb_magics",  wb_magics_test },
    { "wb_render",  wb_render_test },
    { "wb_query",   wb_query_test },
    { "wb_frame",   wb_frame_test },
    { "wb_dataset", wb_dataset_test },
    { "wb_view_data", wb_view_data_test },
    { "wb_view",    wb_view_test },
    { "wb_view_jobs", wb_view_jobs_test },
    { "wb_view_train", wb_view_train_test },
    { "wb_view_sweep", wb_view_sweep_test },
    { "wb_view_serve", wb_view_serve_test },
    { "wb_view_runs", wb_view_runs_test },
    { "wb_blas",    wb_blas_test },
    { "wb_model",   wb_model_test },
    { "wb_sweep",   wb_sweep_test },
    { "wb_sweeper", wb_sweeper_test },
    { "wb_parcoords", wb_parcoords_test },
    { "wb_registry", wb_registry_test },
    { "wb_scorer",  wb_scorer_test },
    { "wb_serve",   wb_serve_test },
    { "wb_pool",    wb_pool_test },
    { "wb_batch",   wb_batch_test },
    { NULL, NULL }
};

static bool
s_selected (const char *name, int argc, char **argv)
{
    bool any = false;
    for (int i = 1; i < argc; i++)
        if (streq (argv [i], "-t") && i + 1 < argc) {
            any = true;
            if (streq (argv [i + 1], name))
                return true;
        }
    return !any;
}

int
main (int argc, char **argv)
{
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "-v"))
            verbose = true;
        else
        if (streq (argv [i], "-l")) {
            for (const s_test_t *t = s_tests; t->name; t++)
                puts (t->name);
            return 0;
        }
    }
    int passed = 0, failed = 0;
    for (const s_test_t *t = s_tests; t->name; t++) {
        if (!s_selected (t->name, argc, argv))
            continue;
        printf (" * %s: ", t->name);
        fflush (stdout);
        pid_t pid = fork ();
        if (pid == 0) {
            t->test (verbose);
            fflush (NULL);
            _exit (0);
        }
        int status = 0;
        waitpid (pid, &status, 0);
        if (WIFEXITED (status) && WEXITSTATUS (status) == 0) {
            puts ("OK");
            passed++;
        }
        else {
            puts ("FAILED");
            failed++;
        }
    }
    printf ("%d passed, %d failed\n", passed, failed);
    return failed? 1: 0;
}
