/*  wb_shell - the shell half of the cell language: a bash session whose
    working directory and exported environment persist from cell to cell

    This file: the session, its working directory and environment (kept
    sorted, for bash's environment and for lookups), and taking back the
    state a run left. Running a script is wb_shell_run.c, the watchdog
    that stops a cell's processes when ours die wb_shell_watchdog.c
    (wb_shell_int.h).
*/
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "wb_shell_int.h"
#include "base/wb_util.h"

extern char **environ;

//  Variables bash sets itself, never taken back into the session
static const char *s_bash_vars [] = {
    "_", "SHLVL", "PWD", "OLDPWD", "__wb_rc", NULL
};

//  ---- The environment: a sorted array of "NAME=VALUE" ----

//  Compare the name in entry ("NAME=VALUE") with name [0..len).
int
wb_shell__name_cmp (const char *entry, const char *name, size_t len)
{
    size_t entry_len = strcspn (entry, "=");
    int rc = memcmp (entry, name, entry_len < len? entry_len: len);
    if (rc)
        return rc;
    return entry_len < len? -1: entry_len > len? 1: 0;
}

//  True if name [0..len) is in env; *index_p is where it is or would go.
static bool
s_env_find (wb_shell_t *self, const char *name, size_t len, size_t *index_p)
{
    size_t low = 0;
    size_t high = self->env_size;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int rc = wb_shell__name_cmp (self->env [middle], name, len);
        if (rc == 0) {
            *index_p = middle;
            return true;
        }
        if (rc < 0)
            low = middle + 1;
        else
            high = middle;
    }
    *index_p = low;
    return false;
}

//  Store entry ("NAME=VALUE", taken over). An existing variable of that
//  name is replaced if replace, else entry is dropped (first one wins, as
//  with getenv).
static void
s_env_put (wb_shell_t *self, char *entry, bool replace)
{
    size_t len = strcspn (entry, "=");
    assert (entry [len] == '=');
    size_t index;
    if (s_env_find (self, entry, len, &index)) {
        if (replace) {
            free (self->env [index]);
            self->env [index] = entry;
        }
        else
            free (entry);
        return;
    }
    if (self->env_size + 2 > self->env_room) {
        self->env_room = self->env_room? self->env_room * 2: 64;
        self->env = wb_realloc (self->env, self->env_room * sizeof (char *));
    }
    memmove (self->env + index + 1, self->env + index,
             (self->env_size - index) * sizeof (char *));
    self->env [index] = entry;
    self->env_size++;
    self->env [self->env_size] = NULL;
}

static void
s_env_remove (wb_shell_t *self, const char *name)
{
    size_t index;
    if (s_env_find (self, name, strlen (name), &index)) {
        free (self->env [index]);
        memmove (self->env + index, self->env + index + 1,
                 (self->env_size - index) * sizeof (char *));
        self->env_size--;
    }
}

static void
s_env_empty (wb_shell_t *self)
{
    for (size_t index = 0; index < self->env_size; index++)
        free (self->env [index]);
    self->env_size = 0;
    self->env [0] = NULL;
}

//  ---- Session ----

wb_shell_t *
wb_shell_new (void)
{
    wb_shell_t *self = wb_calloc (1, sizeof (wb_shell_t));
    self->watch_fd = -1;
    self->cwd = getcwd (NULL, 0);
    if (!self->cwd)
        self->cwd = wb_strdup ("/");    //  our own directory is gone
    self->env_room = 64;
    self->env = wb_malloc (self->env_room * sizeof (char *));
    self->env [0] = NULL;
    for (char **entry = environ; entry && *entry; entry++)
        if (strchr (*entry, '=') && **entry != '=')
            s_env_put (self, wb_strdup (*entry), false);
    //  Python block-buffers output to a pipe; we want it line by line
    if (!wb_shell_getenv (self, "PYTHONUNBUFFERED"))
        s_env_put (self, wb_strdup ("PYTHONUNBUFFERED=1"), false);
    return self;
}

void
wb_shell_destroy (wb_shell_t **self_p)
{
    assert (self_p);
    wb_shell_t *self = *self_p;
    if (self) {
        //  No cell runs now: it has nothing to stop. A forked child of
        //  ours may hold the pipe open too, so it is told to go.
        if (self->watchdog > 0 && self->watch_owner == getpid ()) {
            close (self->watch_fd);
            kill (self->watchdog, SIGTERM);
            while (waitpid (self->watchdog, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        s_env_empty (self);
        free (self->env);
        free (self->cwd);
        free (self);
        *self_p = NULL;
    }
}

const char *
wb_shell_cwd (wb_shell_t *self)
{
    assert (self);
    return self->cwd;
}

char *
wb_shell_path (wb_shell_t *self, const char *path)
{
    assert (self);
    assert (path);
    if (*path == '/')
        return wb_strdup (path);
    if (*path == 0)
        return wb_strdup (self->cwd);
    bool root = streq (self->cwd, "/");
    return wb_sprintf ("%s%s%s", self->cwd, root? "": "/", path);
}

int
wb_shell_chdir (wb_shell_t *self, const char *path, wb_error_t *err)
{
    assert (self);
    assert (path);
    char *full = wb_shell_path (self, path);
    char *real = realpath (full, NULL);
    free (full);
    struct stat info;
    if (!real || stat (real, &info)) {
        int error = errno;
        free (real);
        return wb_error_set (err, "cannot change directory to '%s': %s",
                             path, strerror (error));
    }
    if (!S_ISDIR (info.st_mode)) {
        free (real);
        return wb_error_set (err, "cannot change directory to '%s': %s",
                             path, strerror (ENOTDIR));
    }
    free (self->cwd);
    self->cwd = real;
    return 0;
}

const char *
wb_shell_getenv (wb_shell_t *self, const char *name)
{
    assert (self);
    assert (name);
    size_t len = strlen (name);
    size_t index;
    if (s_env_find (self, name, len, &index))
        return self->env [index] + len + 1;
    return NULL;
}

void
wb_shell_setenv (wb_shell_t *self, const char *name, const char *value)
{
    assert (self);
    assert (name && *name && !strchr (name, '='));
    if (value)
        s_env_put (self, wb_sprintf ("%s=%s", name, value), true);
    else
        s_env_remove (self, name);
}

char **
wb_shell_environ (wb_shell_t *self)
{
    assert (self);
    return self->env;
}

//  ---- Taking back the state the EXIT trap wrote ----

//  True if data is "/cwd\n\0NAME=VALUE\0NAME=VALUE\0...".
static bool
s_state_valid (const char *data, size_t size)
{
    if (size < 2 || data [size - 1] != 0 || data [0] != '/')
        return false;
    const char *end = data + size;
    for (const char *entry = data + strlen (data) + 1; entry < end;
         entry += strlen (entry) + 1) {
        const char *equals = strchr (entry, '=');
        if (!equals || equals == entry)
            return false;
    }
    return true;
}

static bool
s_bash_var (const char *entry)
{
    size_t len = strcspn (entry, "=");
    for (const char **name = s_bash_vars; *name; name++)
        if (strlen (*name) == len && memcmp (*name, entry, len) == 0)
            return true;
    return false;
}

//  Replace cwd and environment with state, if it is well-formed.
void
wb_shell__state_apply (wb_shell_t *self, const char *data, size_t size)
{
    if (!s_state_valid (data, size))
        return;
    size_t cwd_len = strlen (data);
    if (data [cwd_len - 1] == '\n')
        cwd_len--;                  //  pwd's newline
    free (self->cwd);
    self->cwd = wb_strndup (data, cwd_len);

    s_env_empty (self);
    const char *end = data + size;
    for (const char *entry = data + strlen (data) + 1; entry < end;
         entry += strlen (entry) + 1)
        if (!s_bash_var (entry))
            s_env_put (self, wb_strdup (entry), false);
}

//  @selftest
char *
wb_shell__test_scratch (void)
{
    char scratch_template [] = "/tmp/wb_shell_test_XXXXXX";
    char *made = mkdtemp (scratch_template);
    assert (made);
    char *scratch = realpath (made, NULL);
    assert (scratch);
    return scratch;
}

void
wb_shell_test (bool verbose)
{
    char *scratch = wb_shell__test_scratch ();
    char *sub = wb_sprintf ("%s/sub", scratch);
    char *plain_file = wb_sprintf ("%s/plain", scratch);
    assert (mkdir (sub, 0700) == 0);

    wb_error_t err = { "" };
    char *script;
    wb_shell_t *shell = wb_shell_new ();
    assert (wb_shell_getenv (shell, "PYTHONUNBUFFERED"));
    assert (wb_shell_chdir (shell, scratch, &err) == 0);
    assert (streq (wb_shell_cwd (shell), scratch));

    //  Setting the environment and directory from here
    wb_shell_setenv (shell, "WB_TEST", "x y");
    assert (streq (wb_shell_getenv (shell, "WB_TEST"), "x y"));
    wb_shell_setenv (shell, "WB_TEST", "z");
    assert (streq (wb_shell_getenv (shell, "WB_TEST"), "z"));
    char **env = wb_shell_environ (shell);
    size_t count = 0;
    bool seen = false;
    for (; env [count]; count++) {
        assert (strchr (env [count], '='));
        if (streq (env [count], "WB_TEST=z"))
            seen = true;
        if (count)
            assert (wb_shell__name_cmp (env [count - 1], env [count],
                                        strcspn (env [count], "=")) < 0);
    }
    assert (seen && count > 1);
    wb_shell_setenv (shell, "WB_TEST", NULL);
    assert (wb_shell_getenv (shell, "WB_TEST") == NULL);

    assert (wb_shell_chdir (shell, "sub", &err) == 0);
    assert (wb_shell_chdir (shell, "..", &err) == 0);
    assert (streq (wb_shell_cwd (shell), scratch));
    assert (wb_shell_chdir (shell, "sub", &err) == 0);
    assert (streq (wb_shell_cwd (shell), sub));
    assert (wb_shell_chdir (shell, "nope", &err) == -1);
    assert (streq (err.text, "cannot change directory to 'nope': "
                             "No such file or directory"));
    FILE *file = fopen (plain_file, "w");
    assert (file);
    fclose (file);
    assert (wb_shell_chdir (shell, plain_file, &err) == -1);
    assert (strstr (err.text, "Not a directory"));
    assert (streq (wb_shell_cwd (shell), sub));
    assert (wb_shell_chdir (shell, "/", NULL) == 0);
    char *path = wb_shell_path (shell, "etc");
    assert (streq (path, "/etc"));
    free (path);
    assert (wb_shell_chdir (shell, scratch, NULL) == 0);
    path = wb_shell_path (shell, "a/b");
    script = wb_sprintf ("%s/a/b", scratch);
    assert (streq (path, script));
    free (script);
    free (path);
    path = wb_shell_path (shell, "/usr");
    assert (streq (path, "/usr"));
    free (path);
    wb_shell_destroy (&shell);
    assert (unlink (plain_file) == 0);
    assert (rmdir (sub) == 0);
    assert (rmdir (scratch) == 0);
    free (plain_file);
    free (sub);
    free (scratch);
    wb_shell_run_test (verbose);
    wb_shell_watchdog_test (verbose);
}
//  @end
