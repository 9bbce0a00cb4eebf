/*  wb_session - what a notebook keeps between cells: the shell session,
    the folder it started in, the open workspace, the current experiment,
    the active interactive run, and a copy of it that completion reads

    The workspace is opened explicitly, by the magics that need it
    (wb_session_open); getters never open it. See wb_session.h for the
    threads: everything but the published copy belongs to the thread that
    runs cells.
*/
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "wb_session.h"
#include "jobs/wb_job.h"
#include "base/wb_util.h"

struct _wb_session_t {
    wb_shell_t *shell;          //  the shell session: cwd and exported env
    char *home;                 //  the folder the session started in
    wb_store_t *store;          //  the open workspace, NULL until opened
    char *experiment;           //  the current experiment
    char *active_run;           //  the interactive run logged to, or NULL
    bool terminal;              //  a command-line session, not a notebook
    //  What completion reads, from whichever thread asks
    pthread_mutex_t seen_lock;  //  guards seen_cwd and seen_store
    char *seen_cwd;             //  the shell's directory after the last cell
    char *seen_store;           //  the open workspace's folder, NULL if none
};

//  ---- Life cycle ----

wb_session_t *
wb_session_new (void)
{
    wb_session_t *self = wb_calloc (1, sizeof (wb_session_t));
    self->shell = wb_shell_new ();
    self->home = wb_strdup (wb_shell_cwd (self->shell));
    self->experiment = wb_strdup ("Default");
    pthread_mutex_init (&self->seen_lock, NULL);
    wb_session_publish (self);
    return self;
}

void
wb_session_destroy (wb_session_t **self_p)
{
    assert (self_p);
    wb_session_t *self = *self_p;
    if (self) {
        //  Taken once so that everything the last cell did (on another
        //  thread, which published under the lock) is seen from here
        pthread_mutex_lock (&self->seen_lock);
        pthread_mutex_unlock (&self->seen_lock);
        wb_session_end_run (self);
        wb_shell_destroy (&self->shell);
        wb_store_destroy (&self->store);
        free (self->home);
        free (self->experiment);
        free (self->active_run);
        free (self->seen_cwd);
        free (self->seen_store);
        pthread_mutex_destroy (&self->seen_lock);
        free (self);
        *self_p = NULL;
    }
}

//  ---- The workspace ----

wb_store_t *
wb_session_open (wb_session_t *self, wb_out_t *out)
{
    assert (self && out);
    if (self->store)
        return self->store;
    char *path = wb_store_locate (self->home);
    wb_error_t err;
    self->store = wb_store_open (path, true, &err);
    if (self->store)
        wb_job_recover (self->store);
    else
        wb_out_error (out, "WorkspaceError", "%s", err.text);
    free (path);
    return self->store;
}

int
wb_session_open_at (wb_session_t *self, const char *path, wb_out_t *out)
{
    assert (self && path && out);
    char *full = wb_shell_path (self->shell, path);
    wb_error_t err;
    wb_store_t *store = wb_store_open (full, true, &err);
    free (full);
    if (!store) {
        wb_out_error (out, "WorkspaceError", "%s", err.text);
        return -1;
    }
    //  A run left open in the old workspace ends there, as at shutdown
    wb_session_end_run (self);
    wb_store_destroy (&self->store);
    self->store = store;
    wb_job_recover (store);
    //  `workbench ...` commands in shell lines use the same workspace
    wb_shell_setenv (self->shell, "WORKBENCH_WORKSPACE", wb_store_path (store));
    return 0;
}

wb_store_t *
wb_session_store (wb_session_t *self)
{
    assert (self);
    return self->store;
}

//  ---- Session state ----

wb_shell_t *
wb_session_shell (wb_session_t *self)
{
    assert (self);
    return self->shell;
}

const char *
wb_session_home (wb_session_t *self)
{
    assert (self);
    return self->home;
}

json_t *
wb_session_environment (wb_session_t *self)
{
    assert (self);
    json_t *env = json_object ();
    for (char **entry = wb_shell_environ (self->shell); *entry; entry++) {
        char *equals = strchr (*entry, '=');
        if (equals) {
            char *name = wb_strndup (*entry, (size_t) (equals - *entry));
            json_object_set_new (env, name, json_string (equals + 1));
            free (name);
        }
    }
    return env;
}

const char *
wb_session_experiment (wb_session_t *self)
{
    assert (self);
    return self->experiment;
}

void
wb_session_set_experiment (wb_session_t *self, const char *name)
{
    assert (self && name);
    free (self->experiment);
    self->experiment = wb_strdup (name);
}

const char *
wb_session_active_run (wb_session_t *self)
{
    assert (self);
    return self->active_run;
}

void
wb_session_set_active_run (wb_session_t *self, const char *id)
{
    assert (self);
    free (self->active_run);
    self->active_run = id? wb_strdup (id): NULL;
}

void
wb_session_end_run (wb_session_t *self)
{
    assert (self);
    //  A terminal session never owns a run: inside a job, the run it logs
    //  to is the job's, which its supervisor ends
    if (!self->terminal && self->active_run && self->store)
        wb_store_run_status (self->store, self->active_run, "completed", NULL, NULL);
    wb_session_set_active_run (self, NULL);
}

void
wb_session_set_terminal (wb_session_t *self, bool terminal)
{
    assert (self);
    self->terminal = terminal;
}

bool
wb_session_terminal (wb_session_t *self)
{
    assert (self);
    return self->terminal;
}

//  ---- What completion reads, from any thread ----

void
wb_session_publish (wb_session_t *self)
{
    assert (self);
    char *cwd = wb_strdup (wb_shell_cwd (self->shell));
    char *store = self->store? wb_strdup (wb_store_path (self->store)): NULL;
    pthread_mutex_lock (&self->seen_lock);
    char *old_cwd = self->seen_cwd;
    char *old_store = self->seen_store;
    self->seen_cwd = cwd;
    self->seen_store = store;
    pthread_mutex_unlock (&self->seen_lock);
    free (old_cwd);
    free (old_store);
}

void
wb_session_seen (wb_session_t *self, char **cwd_p, char **store_p)
{
    assert (self && cwd_p && store_p);
    pthread_mutex_lock (&self->seen_lock);
    *cwd_p = wb_strdup (self->seen_cwd);
    *store_p = self->seen_store? wb_strdup (self->seen_store): NULL;
    pthread_mutex_unlock (&self->seen_lock);
}

//  @selftest
void
wb_session_test (bool verbose)
{
    (void) verbose;
    char scratch [] = "/tmp/wb-session-XXXXXX";
    assert (mkdtemp (scratch));
    wb_session_t *session = wb_session_new ();
    wb_out_t *out = wb_out_new_test (NULL);
    assert (streq (wb_session_experiment (session), "Default"));
    assert (wb_session_active_run (session) == NULL);

    //  Nothing is open until a magic asks, and the copy says so
    assert (wb_session_store (session) == NULL);
    wb_shell_chdir (wb_session_shell (session), scratch, NULL);
    wb_session_publish (session);
    char *cwd, *folder;
    wb_session_seen (session, &cwd, &folder);
    assert (streq (cwd, scratch) && folder == NULL);
    free (cwd);

    //  Opening a folder: shell lines see it, the next publish shows it
    assert (wb_session_open_at (session, "ws", out) == 0);
    wb_store_t *store = wb_session_store (session);
    assert (store && wb_session_open (session, out) == store);
    assert (strstr (wb_shell_getenv (wb_session_shell (session), "WORKBENCH_WORKSPACE"), "/ws"));
    wb_session_seen (session, &cwd, &folder);
    assert (folder == NULL);            //  not published yet
    free (cwd);
    wb_session_publish (session);
    wb_session_seen (session, &cwd, &folder);
    assert (folder && streq (folder, wb_store_path (store)));
    free (cwd);
    free (folder);

    //  The active run ends as completed with the session
    wb_session_set_experiment (session, "exp");
    assert (streq (wb_session_experiment (session), "exp"));
    wb_run_spec_t spec = { "exp", "r1", "interactive", "running", NULL, "local", NULL, getpid () };
    char id [9];
    assert (wb_store_run_create (store, &spec, id, NULL) == 0);
    wb_session_set_active_run (session, id);
    assert (streq (wb_session_active_run (session), id));
    json_t *env = wb_session_environment (session);
    assert (json_is_string (json_object_get (env, "WORKBENCH_WORKSPACE")));
    json_decref (env);
    char *path = wb_strdup (wb_store_path (store));
    wb_session_destroy (&session);
    assert (session == NULL);
    wb_store_t *again = wb_store_open (path, false, NULL);
    json_t *run = wb_store_run_get (again, id, NULL);
    assert (streq (json_string_value (json_object_get (run, "status")), "completed"));
    json_decref (run);
    wb_store_destroy (&again);
    free (path);

    //  A terminal session leaves its run alone
    session = wb_session_new ();
    wb_session_set_terminal (session, true);
    assert (wb_session_terminal (session));
    wb_session_set_active_run (session, "00000000");
    wb_session_end_run (session);
    assert (wb_session_active_run (session) == NULL);
    wb_session_destroy (&session);

    wb_out_destroy (&out);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
}
//  @end
