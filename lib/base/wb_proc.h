/*  wb_proc - run a program to its end and collect what it printed

    For short helper programs whose answer is their output: the Python
    worker's check and export (lib/serve). The program gets argv, this
    process's environment with env's NAME=VALUE entries added (or replacing
    the same names), /dev/null as standard input and the folder cwd (NULL:
    this one). Its standard output and standard error are read as it runs
    (up to WB_PROC_MAX_OUTPUT bytes each; the rest is dropped, and said). It
    is killed (SIGKILL, with its process group) after timeout seconds.
*/
#ifndef WB_PROC_H
#define WB_PROC_H

#include <stdbool.h>
#include "wb_error.h"

#define WB_PROC_MAX_OUTPUT  (16 * 1024 * 1024)

typedef struct {
    char *out;                  //  its standard output (owned, NUL-ended)
    char *err;                  //  its standard error (owned, NUL-ended)
    int status;                 //  exit status, or 128 + signal
    bool timed_out;             //  killed after the timeout
} wb_proc_result_t;

//  Run argv [0] (a path, or a name looked up on PATH) to its end. 0 with
//  result filled (whatever its exit status), or -1 with err when it could
//  not be started. Free the result with wb_proc_result_free.
int
    wb_proc_run (char *const argv [], char *const env [], const char *cwd, double timeout,
                 wb_proc_result_t *result, wb_error_t *err);
void
    wb_proc_result_free (wb_proc_result_t *result);

//  The absolute path of program name found on PATH (a name with a slash is
//  taken as it is, made absolute), or NULL when there is none that can be
//  run. Caller owns the return value.
char *
    wb_proc_which (const char *name);
//  The same on search, a PATH-like list of folders (NULL: the default).
char *
    wb_proc_which_on (const char *name, const char *search);

void
    wb_proc_test (bool verbose);

#endif
