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

#include "wb_util.h"
#include "wb_out.h"
#include "wb_args.h"
#include "wb_utf8.h"
#include "wb_shell.h"
#include "wb_history.h"
#include "wb_store.h"
#include "wb_snapshot.h"
#include "wb_job.h"
#include "wb_msg.h"
#include "wb_conn.h"
#include "wb_magics.h"
#include "wb_render.h"
#include "wb_query.h"
#include "wb_frame.h"
#include "wb_dataset.h"
#include "wb_blas.h"
#include "wb_model.h"
#include "wb_sweep.h"
#include "wb_sweeper.h"
#include "wb_parcoords.h"
#include "wb_registry.h"
#include "wb_scorer.h"
#include "wb_serve.h"

//  name, function: one row per class with a self-test
typedef struct {
    const char *name;           //  what -t selects
    void (*test) (bool verbose);    //  asserts; a failed assert fails the test
} s_test_t;

static const s_test_t s_tests [] = {
    { "wb_util",    wb_util_test },
    { "wb_out",     wb_out_test },
    { "wb_args",    wb_args_test },
    { "wb_utf8",    wb_utf8_test },
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
    { "wb_blas",    wb_blas_test },
    { "wb_model",   wb_model_test },
    { "wb_sweep",   wb_sweep_test },
    { "wb_sweeper", wb_sweeper_test },
    { "wb_parcoords", wb_parcoords_test },
    { "wb_registry", wb_registry_test },
    { "wb_scorer",  wb_scorer_test },
    { "wb_serve",   wb_serve_test },
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
