/*  wb_shell - the shell half of the cell language: a bash session whose
    working directory and exported environment persist from cell to cell

    Each call to wb_shell_run starts `bash` in its own process group, in the
    session's directory with the session's environment, streams its stdout
    and stderr to a callback as they come, and afterwards takes the
    directory and exported environment the script left behind as the new
    session state. wb_interrupted (see wb_interrupt.h) stops the script:
    the whole process group gets SIGINT, then SIGKILL if it lingers. If the
    process running the script dies (kill -9, an abort), a watchdog process
    stops the script's process group (SIGTERM, then SIGKILL). A script of
    any size runs (it does not go through argv).
*/
#ifndef WB_SHELL_H
#define WB_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include "base/wb_error.h"

typedef struct _wb_shell_t wb_shell_t;

//  Called with output as it is produced; name is "stdout" or "stderr".
typedef void (wb_shell_output_fn) (void *arg, const char *name,
                                   const char *data, size_t size);

//  What became of a script.
typedef struct {
    int status;                 //  exit status (0..255), 128+N for signal N
    bool interrupted;           //  stopped through wb_interrupted
    bool timed_out;             //  stopped because timeout ran out
} wb_shell_result_t;

//  A session starting in the process's current directory and environment.
wb_shell_t *
    wb_shell_new (void);
void
    wb_shell_destroy (wb_shell_t **self_p);

//  Run script with bash. Output goes to fn(arg, ...) (fn may be NULL to
//  discard it). timeout is in seconds, 0 for none. Returns 0 and fills
//  result once the script ran (whatever its exit status), -1 when it could
//  not be started (err says why).
int
    wb_shell_run (wb_shell_t *self, const char *script, double timeout,
                  wb_shell_output_fn *fn, void *arg,
                  wb_shell_result_t *result, wb_error_t *err);

//  The session's working directory (lent).
const char *
    wb_shell_cwd (wb_shell_t *self);
//  Change it; -1 if path is not a directory (err says so). Relative paths
//  are taken from the session's directory.
int
    wb_shell_chdir (wb_shell_t *self, const char *path, wb_error_t *err);
//  A variable of the session's environment (lent), or NULL.
const char *
    wb_shell_getenv (wb_shell_t *self, const char *name);
//  Set (value not NULL) or remove (value NULL) a variable.
void
    wb_shell_setenv (wb_shell_t *self, const char *name, const char *value);
//  The environment as a NULL-terminated "NAME=VALUE" array, sorted by name
//  (lent until the next change).
char **
    wb_shell_environ (wb_shell_t *self);
//  A path made absolute against the session's directory; caller owns it.
char *
    wb_shell_path (wb_shell_t *self, const char *path);

void
    wb_shell_test (bool verbose);

#endif
