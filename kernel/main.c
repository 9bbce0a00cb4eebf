/*  workbench - the one binary: the Jupyter kernel, its installer, and the
    magics as terminal commands

    workbench kernel -f CONNECTION_FILE     what the kernelspec runs
    workbench install [--user | --sys-prefix | --prefix DIR] [--binary PATH]
    workbench MAGIC [ARGS...]               any magic, e.g. `workbench lsmagic`; a cell
                                            form takes its body from standard input or
                                            --file FILE: `workbench job --name x < train.sh`
    workbench --version | --help
*/
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <czmq.h>
#include "wb_kernel.h"
#include "jobs/wb_job.h"
#include "train/wb_train.h"
#include "tune/wb_sweeper.h"
#include "magics/wb_magics.h"
#include "cell/wb_args.h"
#include "base/wb_interrupt.h"
#include "base/wb_util.h"
#include "base/wb_embedded.h"
#include "serve/wb_serve.h"
#include "serve/wb_batch.h"


static void
s_usage (FILE *file)
{
    fprintf (file,
        "workbench %s — a machine-learning workspace in a Jupyter kernel\n"
        "\n"
        "usage:\n"
        "  workbench kernel -f CONNECTION_FILE   run the kernel (Jupyter starts this)\n"
        "  workbench install [--user | --sys-prefix | --prefix DIR] [--binary PATH]\n"
        "                                        install the kernelspec 'workbench'\n"
        "  workbench MAGIC [ARGS...]             run a magic in the terminal,\n"
        "                                        e.g. workbench lsmagic, workbench help env\n"
        "  workbench MAGIC [ARGS...] [--file FILE] < BODY\n"
        "                                        a cell magic (job, sweep, train, ...), its\n"
        "                                        body from FILE or standard input, e.g.\n"
        "                                        workbench job --name x < train.sh\n"
        "  workbench --version | --help\n"
        "\n"
        "Open a notebook with the 'Workbench' kernel, or: jupyter console --kernel workbench\n",
        WB_VERSION);
}

//  Make `workbench` findable by the shell lines and jobs this process
//  starts (`workbench log` inside a job): append this binary's folder to
//  PATH unless a workbench is on it already.
static void
s_path_self (void)
{
    char self [PATH_MAX];
    if (!wb_self_path (self, sizeof (self)) || !strrchr (self, '/'))
        return;
    *strrchr (self, '/') = 0;
    const char *path = getenv ("PATH");
    char *copy = wb_strdup (path? path: "");
    bool found = false;
    for (char *dir = strtok (copy, ":"); dir && !found; dir = strtok (NULL, ":")) {
        char *candidate = wb_sprintf ("%s/workbench", dir);
        found = access (candidate, X_OK) == 0;
        free (candidate);
    }
    free (copy);
    if (!found) {
        char *joined = path && *path? wb_sprintf ("%s:%s", path, self): wb_strdup (self);
        setenv ("PATH", joined, 1);
        free (joined);
    }
}

//  ---- workbench kernel ----

static int
s_kernel (int argc, char **argv)
{
    static const wb_opt_t opts [] = {
        { "file", 'f', WB_OPT_VALUE }, { NULL, 0, WB_OPT_BOOL }
    };
    wb_error_t err;
    wb_args_t *args = wb_args_parse (argc, argv, opts, &err);
    if (!args || (!wb_args_has (args, "file") && wb_args_npos (args) != 1)) {
        fprintf (stderr, "workbench kernel: %s\nusage: workbench kernel -f CONNECTION_FILE\n",
                 args? "give the connection file with -f": err.text);
        wb_args_destroy (&args);
        return 2;
    }
    const char *file = wb_args_has (args, "file")? wb_args_get (args, "file"): wb_args_pos (args, 0);
    //  Our own SIGINT handler, not czmq's: an interrupt stops the cell,
    //  never the kernel.
    zsys_handler_set (NULL);
    wb_interrupt_install ();
    s_path_self ();
    signal (SIGPIPE, SIG_IGN);
    wb_kernel_t *kernel = wb_kernel_new (file, &err);
    wb_args_destroy (&args);
    if (!kernel) {
        fprintf (stderr, "workbench kernel: %s\n", err.text);
        return 1;
    }
    wb_kernel_run (kernel);
    wb_kernel_destroy (&kernel);
    zsys_shutdown ();
    return 0;
}

//  ---- workbench install ----

static int
s_mkdir_p (const char *path)
{
    char *copy = wb_strdup (path);
    for (char *slash = copy + 1; *slash; slash++)
        if (*slash == '/') {
            *slash = 0;
            if (mkdir (copy, 0755) && errno != EEXIST) {
                free (copy);
                return -1;
            }
            *slash = '/';
        }
    int rc = mkdir (copy, 0755) && errno != EEXIST? -1: 0;
    free (copy);
    return rc;
}

//  The prefix of the Python environment Jupyter runs in (sys.prefix).
static char *
s_sys_prefix (void)
{
    const char *prefix = getenv ("CONDA_PREFIX");
    if (!prefix || !*prefix)
        prefix = getenv ("VIRTUAL_ENV");
    if (prefix && *prefix)
        return wb_strdup (prefix);
    FILE *pipe = popen ("python3 -c 'import sys; print(sys.prefix)' 2>/dev/null", "r");
    if (!pipe)
        return NULL;
    char line [PATH_MAX];
    char *result = NULL;
    if (fgets (line, sizeof (line), pipe)) {
        line [strcspn (line, "\n")] = 0;
        if (*line)
            result = wb_strdup (line);
    }
    pclose (pipe);
    return result;
}

static int
s_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    if (!file)
        return -1;
    bool ok = fwrite (data, 1, size, file) == size;
    return fclose (file) == 0 && ok? 0: -1;
}

static int
s_install (int argc, char **argv)
{
    static const wb_opt_t opts [] = {
        { "user", 0, WB_OPT_BOOL }, { "sys-prefix", 0, WB_OPT_BOOL },
        { "prefix", 0, WB_OPT_VALUE }, { "binary", 0, WB_OPT_VALUE },
        { NULL, 0, WB_OPT_BOOL }
    };
    wb_error_t err;
    wb_args_t *args = wb_args_parse (argc, argv, opts, &err);
    const char *usage = "usage: workbench install [--user | --sys-prefix | --prefix DIR] [--binary PATH]";
    if (!args || wb_args_npos (args)) {
        fprintf (stderr, "workbench install: %s\n%s\n",
                 args? "unexpected argument": err.text, usage);
        wb_args_destroy (&args);
        return 2;
    }
    int modes = wb_args_has (args, "user") + wb_args_has (args, "sys-prefix")
              + wb_args_has (args, "prefix");
    if (modes > 1) {
        fprintf (stderr, "workbench install: choose one of --user, --sys-prefix, --prefix\n%s\n", usage);
        wb_args_destroy (&args);
        return 2;
    }
    char *data_dir = NULL;
    if (wb_args_has (args, "user")) {
        const char *jupyter = getenv ("JUPYTER_DATA_DIR");
        const char *xdg = getenv ("XDG_DATA_HOME");
        const char *home = getenv ("HOME");
        data_dir = jupyter && *jupyter? wb_strdup (jupyter)
                 : xdg && *xdg? wb_sprintf ("%s/jupyter", xdg)
                 : wb_sprintf ("%s/.local/share/jupyter", home? home: ".");
    }
    else
    if (wb_args_has (args, "sys-prefix")) {
        char *prefix = s_sys_prefix ();
        if (!prefix) {
            fprintf (stderr, "workbench install: cannot find the Python environment's prefix "
                     "(no CONDA_PREFIX, VIRTUAL_ENV or python3): use --prefix DIR\n");
            wb_args_destroy (&args);
            return 1;
        }
        data_dir = wb_sprintf ("%s/share/jupyter", prefix);
        free (prefix);
    }
    else
        data_dir = wb_sprintf ("%s/share/jupyter",
            wb_args_has (args, "prefix")? wb_args_get (args, "prefix"): "/usr/local");

    char binary [PATH_MAX];
    if (wb_args_has (args, "binary"))
        snprintf (binary, sizeof (binary), "%s", wb_args_get (args, "binary"));
    else
    if (!wb_self_path (binary, sizeof (binary))) {
        fprintf (stderr, "workbench install: cannot tell where this binary is: use --binary PATH\n");
        free (data_dir);
        wb_args_destroy (&args);
        return 1;
    }
    char *spec_dir = wb_sprintf ("%s/kernels/workbench", data_dir);
    int rc = 0;
    if (s_mkdir_p (spec_dir)) {
        fprintf (stderr, "workbench install: cannot create '%s': %s\n", spec_dir, strerror (errno));
        rc = 1;
    }
    else {
        json_t *spec = json_pack ("{s:[s, s, s, s], s:s, s:s, s:s, s:{s:b}}",
            "argv", binary, "kernel", "-f", "{connection_file}",
            "display_name", "Workbench",
            "language", "workbench",
            "interrupt_mode", "message",
            "metadata", "debugger", 0);
        char *text = json_dumps (spec, JSON_INDENT (2));
        json_decref (spec);
        char *path = wb_sprintf ("%s/kernel.json", spec_dir);
        if (s_write_file (path, text, strlen (text))) {
            fprintf (stderr, "workbench install: cannot write '%s': %s\n", path, strerror (errno));
            rc = 1;
        }
        free (path);
        free (text);
        for (const wb_embedded_t *file = wb_logos; rc == 0 && file->name; file++) {
            path = wb_sprintf ("%s/%s", spec_dir, file->name);
            if (s_write_file (path, file->data, file->size)) {
                fprintf (stderr, "workbench install: cannot write '%s': %s\n", path, strerror (errno));
                rc = 1;
            }
            free (path);
        }
        if (rc == 0)
            printf ("Installed kernelspec workbench in %s\n", spec_dir);
    }
    free (spec_dir);
    free (data_dir);
    wb_args_destroy (&args);
    return rc;
}

//  ---- workbench MAGIC ... ----

//  Which form of magic the words argv[1..argc) are. A cell-only magic is
//  its cell form, a line-only one its line form. A magic with both forms
//  (job, sweep, time) is its line form when its first word is one of its
//  subcommands (workbench job list), or, having no subcommands, when words
//  follow (workbench time sleep 1); otherwise its cell form, when it has a
//  body to take (--file FILE, or a standard input that is not a terminal).
static bool
s_cell_form (const wb_magic_t *magic, int argc, char **argv, bool has_file)
{
    if (!(magic->flags & WB_MAGIC_CELL))
        return false;
    if (!(magic->flags & WB_MAGIC_LINE) || has_file)
        return true;
    if (magic->subs) {
        //  A subcommand is the word after the name
        if (argc > 1 && wb_magics_sub (magic, argv [1]))
            return false;
    }
    else
    if (argc > 1)
        return false;
    return !isatty (STDIN_FILENO);
}

//  The whole of file (stdin when path is NULL) as a string; NULL when it
//  cannot be read (errno says why).
static char *
s_read_body (const char *path)
{
    FILE *file = path? fopen (path, "rb"): stdin;
    if (!file)
        return NULL;
    wb_buf_t *buf = wb_buf_new ();
    char chunk [4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof (chunk), file)) > 0)
        wb_buf_append (buf, chunk, got);
    bool failed = ferror (file);
    if (path)
        fclose (file);
    if (failed) {
        wb_buf_destroy (&buf);
        return NULL;
    }
    return wb_buf_detach (&buf);
}

static int
s_magic (int argc, char **argv)
{
    const wb_magic_t *magic = wb_magics_lookup (argv [0]);
    if (!magic) {
        fprintf (stderr, "workbench: unknown command '%s' — try workbench --help or workbench lsmagic\n",
                 argv [0]);
        return 2;
    }
    //  A cell's body comes from --file FILE (no magic takes a --file of its
    //  own), else from standard input; the words keep everything else
    const char *file = NULL;
    char **words = wb_calloc ((size_t) argc + 1, sizeof (char *));
    int count = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && streq (argv [i], "--"))
            while (i < argc)
                words [count++] = argv [i++];
        else
        if (i > 0 && streq (argv [i], "--file") && i + 1 < argc)
            file = argv [++i];
        else
        if (i > 0 && wb_starts_with (argv [i], "--file="))
            file = argv [i] + 7;
        else
            words [count++] = argv [i];
    }
    bool cell = s_cell_form (magic, count, words, file != NULL);
    if (file && !cell) {
        fprintf (stderr, "workbench %s: --file gives a cell's body, and %s has no cell form\nusage: %s\n",
                 magic->name, magic->name, magic->usage);
        free (words);
        return 2;
    }
    char *body = NULL;
    if (cell && !(body = s_read_body (file))) {
        fprintf (stderr, "workbench %s: cannot read '%s': %s\n", magic->name,
                 file? file: "standard input", strerror (errno));
        free (words);
        return 1;
    }
    wb_interrupt_install ();
    wb_magics_t *magics = wb_magics_new ();
    wb_session_set_terminal (wb_magics_session (magics), true);
    wb_out_t *out = wb_out_new_terminal ();
    int rc = wb_magics_call (magics, count, words, body, out);
    wb_out_destroy (&out);
    wb_magics_destroy (&magics);
    free (body);
    free (words);
    return rc? 1: 0;
}

//  Remember where this binary is, for the processes it starts (jobs run
//  `workbench job-run`): argv[0] made absolute, which is right also under
//  valgrind, where /proc/self/exe is valgrind's.
static void
s_remember_self (const char *argv0)
{
    char found [PATH_MAX];
    if (getenv ("WORKBENCH_EXE"))
        return;
    if (strchr (argv0, '/')) {
        if (!realpath (argv0, found))
            return;
    }
    else {
        const char *path = getenv ("PATH");
        char *copy = wb_strdup (path? path: "");
        bool ok = false;
        for (char *dir = strtok (copy, ":"); dir && !ok; dir = strtok (NULL, ":")) {
            char *candidate = wb_sprintf ("%s/%s", dir, argv0);
            ok = access (candidate, X_OK) == 0 && realpath (candidate, found);
            free (candidate);
        }
        free (copy);
        if (!ok)
            return;
    }
    setenv ("WORKBENCH_EXE", found, 1);
}

int
main (int argc, char **argv)
{
    s_remember_self (argv [0]);
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    const char *command = argv [1];
    if (streq (command, "--version") || streq (command, "-V")) {
        printf ("workbench %s\n", WB_VERSION);
        return 0;
    }
    if (streq (command, "--help") || streq (command, "-h") || streq (command, "help-cli")) {
        s_usage (stdout);
        return 0;
    }
    if (streq (command, "kernel"))
        return s_kernel (argc - 2, argv + 2);
    if (streq (command, "install"))
        return s_install (argc - 2, argv + 2);
    if (streq (command, "train-run")) {
        //  A %%train job: its spec comes in the environment
        const char *spec_text = getenv ("WORKBENCH_TRAIN_SPEC");
        json_t *spec = spec_text? json_loads (spec_text, 0, NULL): NULL;
        const char *workspace = getenv ("WORKBENCH_WORKSPACE");
        const char *id = getenv ("WORKBENCH_RUN_ID");
        const char *outputs = getenv ("WORKBENCH_OUTPUTS");
        if (!spec || !workspace || !id || !outputs) {
            fprintf (stderr, "workbench train-run: run it from %%%%train (it needs "
                     "WORKBENCH_TRAIN_SPEC, WORKBENCH_WORKSPACE, WORKBENCH_RUN_ID, WORKBENCH_OUTPUTS)\n");
            json_decref (spec);
            return 2;
        }
        int rc = wb_train_run (workspace, id, spec, outputs);
        json_decref (spec);
        return rc;
    }
    if (streq (command, "batch-run")) {
        //  A %batch job: its spec comes in the environment
        const char *spec_text = getenv ("WORKBENCH_BATCH_SPEC");
        json_t *spec = spec_text? json_loads (spec_text, 0, NULL): NULL;
        const char *workspace = getenv ("WORKBENCH_WORKSPACE");
        const char *id = getenv ("WORKBENCH_RUN_ID");
        const char *outputs = getenv ("WORKBENCH_OUTPUTS");
        if (!spec || !workspace || !id || !outputs) {
            fprintf (stderr, "workbench batch-run: run it from %%batch (it needs "
                     "WORKBENCH_BATCH_SPEC, WORKBENCH_WORKSPACE, WORKBENCH_RUN_ID, WORKBENCH_OUTPUTS)\n");
            json_decref (spec);
            return 2;
        }
        int rc = wb_batch_run (workspace, id, spec, outputs);
        json_decref (spec);
        return rc;
    }
    if (streq (command, "serve")) {
        //  An endpoint's scoring server, started by %deploy
        if (argc != 4) {
            fprintf (stderr, "usage: workbench serve WORKSPACE ENDPOINT (start it with %%deploy)\n");
            return 2;
        }
        return wb_serve_main (argv [2], argv [3]);
    }
    if (streq (command, "job-run")) {
        //  The supervisor of one job, started by the local compute target
        if (argc != 4) {
            fprintf (stderr, "usage: workbench job-run WORKSPACE RUN\n");
            return 2;
        }
        return wb_job_supervise (argv [2], argv [3]);
    }
    if (streq (command, "sweep-run")) {
        //  The controller of one sweep, started by %%sweep and %sweep resume
        if (argc != 4) {
            fprintf (stderr, "usage: workbench sweep-run WORKSPACE SWEEP\n");
            return 2;
        }
        return wb_sweeper_run (argv [2], argv [3]);
    }
    return s_magic (argc - 1, argv + 1);
}
