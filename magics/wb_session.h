/*  wb_session - what a notebook keeps between cells: the shell session,
    the folder it started in, the open workspace, the current experiment,
    the active interactive run, and a copy of it that completion reads

    Every magic handler gets the session. The workspace is opened only when
    a magic asks for it (wb_session_open); the getters never open, create
    or recover anything, so a Tab press cannot create a workspace or start
    recovering orphaned jobs.

    Threads: a session belongs to the thread that runs its cells. After
    each cell that thread publishes (wb_session_publish), under a lock, a
    copy of what completion needs (the shell's directory and the workspace
    folder); completion, asked from another thread while a cell runs,
    reads only that copy (wb_session_seen).
*/
#ifndef WB_SESSION_H
#define WB_SESSION_H

#include <stdbool.h>
#include <jansson.h>
#include "cell/wb_out.h"
#include "cell/wb_shell.h"
#include "store/wb_store.h"

typedef struct _wb_session_t wb_session_t;

//  A session in the process's working directory, experiment "Default",
//  no workspace open yet.
wb_session_t *
    wb_session_new (void);
//  Ends the active interactive run as completed (wb_session_end_run),
//  then closes the workspace and the shell.
void
    wb_session_destroy (wb_session_t **self_p);

//  ---- The workspace ----

//  Open the workspace on first use: $WORKBENCH_WORKSPACE, else the nearest
//  .workbench/ above the home folder, else a new .workbench/ in it; jobs
//  whose supervisor died are recovered. Returns the open workspace (lent),
//  or NULL after reporting a WorkspaceError through out. Magics that need
//  the workspace call this; nothing else opens it.
wb_store_t *
    wb_session_open (wb_session_t *self, wb_out_t *out);
//  Switch to the workspace folder at path (relative to the shell's
//  directory; created if missing): the active run ends in the old one,
//  shell lines get WORKBENCH_WORKSPACE. 0, or -1 after reporting.
int
    wb_session_open_at (wb_session_t *self, const char *path, wb_out_t *out);
//  The open workspace (lent), or NULL when none is open yet. Never opens.
wb_store_t *
    wb_session_store (wb_session_t *self);

//  ---- Session state ----

//  The shell session: working directory and exported environment (lent).
wb_shell_t *
    wb_session_shell (wb_session_t *self);
//  The folder the session started in (the notebook's folder; lent).
const char *
    wb_session_home (wb_session_t *self);
//  The shell session's exported environment as a JSON object of strings
//  (what jobs start with; caller owns).
json_t *
    wb_session_environment (wb_session_t *self);
//  The current experiment (lent; "Default" until set).
const char *
    wb_session_experiment (wb_session_t *self);
void
    wb_session_set_experiment (wb_session_t *self, const char *name);
//  The active interactive run id (lent), or NULL.
const char *
    wb_session_active_run (wb_session_t *self);
void
    wb_session_set_active_run (wb_session_t *self, const char *id);
//  End the active interactive run as completed (the session ends, or
//  leaves its workspace). A terminal session only forgets it: inside a
//  job, the run it logs to is the job's, which its supervisor ends.
void
    wb_session_end_run (wb_session_t *self);
//  Terminal sessions (the command-line tool) do not start interactive
//  runs on their own: each command is a process of its own.
void
    wb_session_set_terminal (wb_session_t *self, bool terminal);
bool
    wb_session_terminal (wb_session_t *self);

//  ---- What completion reads, from any thread ----

//  Copy the shell's directory and the workspace folder for other threads
//  to read; the running thread calls this after each cell.
void
    wb_session_publish (wb_session_t *self);
//  The last published directory and workspace folder (NULL when none was
//  open); caller owns both. Safe from any thread.
void
    wb_session_seen (wb_session_t *self, char **cwd_p, char **store_p);

void
    wb_session_test (bool verbose);

#endif
