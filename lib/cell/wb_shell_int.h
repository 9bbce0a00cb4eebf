/*  wb_shell_int - private to wb_shell*.c: the session's struct and what
    the parts of the shell share

    wb_shell.c           the session: its directory and environment, and
                         taking back the state a run left
    wb_shell_run.c       running a script: bash, its pipes, the run loop
    wb_shell_watchdog.c  the watchdog: a cell's processes die with ours
*/
#ifndef WB_SHELL_INT_H
#define WB_SHELL_INT_H

#include <sys/types.h>
#include "wb_shell.h"

struct _wb_shell_t {
    char *cwd;                  //  working directory, absolute
    char **env;                 //  "NAME=VALUE", sorted by name, NULL-terminated
    size_t env_size;            //  entries in env, without the NULL
    size_t env_room;            //  slots allocated in env, with the NULL
    pid_t watchdog;             //  the watchdog process, 0 until the first run
    int watch_fd;               //  write end of its pipe, -1 if none
    pid_t watch_owner;          //  the process whose watchdog it is (a fork
                                //  of ours inherits the fields, not the child)
};

//  ---- The session (wb_shell.c) ----

//  Compare the name in entry ("NAME=VALUE") with name [0..len).
int
    wb_shell__name_cmp (const char *entry, const char *name, size_t len);
//  Replace cwd and environment with the state the EXIT trap wrote
//  ("/cwd\n\0NAME=VALUE\0..."), if it is well-formed.
void
    wb_shell__state_apply (wb_shell_t *self, const char *data, size_t size);

//  ---- Running a script (wb_shell_run.c) ----

//  Close every fd from first up (below fd_max), but keep (async-signal-safe).
void
    wb_shell__close_from (int first, int keep, int fd_max);
//  Signals as a fresh process has them (async-signal-safe).
void
    wb_shell__signals_default (void);

//  ---- The watchdog (wb_shell_watchdog.c) ----

//  Tell the watchdog which process group runs now (0: none), starting it
//  first if need be; a watchdog that cannot be had is not fatal.
void
    wb_shell__watch (wb_shell_t *self, pid_t group, int fd_max);

//  ---- Self-tests of the parts (wb_shell_test runs them all) ----

//  A fresh scratch folder under /tmp, by its real path (caller frees it;
//  the test removes the folder)
char *
    wb_shell__test_scratch (void);
void
    wb_shell_run_test (bool verbose);
void
    wb_shell_watchdog_test (bool verbose);

#endif
