/*  wb_magic_cell - the built-in magics: the cell language itself (%lsmagic,
    %help, %%bash, %%writefile, %%html, %%markdown, %%svg, %time, %env,
    %clear) and the shell lines that are not magics
*/
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include "wb_magic_cell.h"
#include "cell/wb_args.h"
#include "base/wb_util.h"

//  ---- Shell lines ----

static void
s_shell_output (void *arg, const char *name, const char *data, size_t size)
{
    wb_out_stream ((wb_out_t *) arg, name, data, size);
}

int
wb_magic_cell_shell (wb_session_t *session, const char *script, wb_out_t *out)
{
    wb_shell_result_t result;
    wb_error_t err;
    if (wb_shell_run (wb_session_shell (session), script, 0, s_shell_output, out,
                      &result, &err)) {
        wb_out_error (out, "ShellError", "%s", err.text);
        return -1;
    }
    if (result.interrupted) {
        wb_out_error (out, "Interrupted", "the cell was interrupted");
        return -1;
    }
    if (result.status != 0) {
        wb_out_error (out, "ShellError", "exit status %d", result.status);
        return -1;
    }
    return 0;
}

//  ---- %lsmagic and %help ----

int
wb_magic_lsmagic (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session; (void) call;
    wb_buf_t *plain = wb_buf_new ();
    wb_buf_t *html = wb_buf_new ();
    wb_buf_puts (html, "<table><thead><tr><th style=\"text-align:left\">magic</th>"
                       "<th style=\"text-align:left\">usage</th></tr></thead><tbody>");
    for (int pass = 0; pass < 2; pass++) {
        int flag = pass == 0? WB_MAGIC_LINE: WB_MAGIC_CELL;
        wb_buf_puts (plain, pass == 0? "Line magics:\n": "Cell magics:\n");
        for (const wb_magic_t *magic = wb_magics_table (); magic->name; magic++) {
            if (!(magic->flags & flag))
                continue;
            const char *prefix = pass == 0? "%": "%%";
            wb_buf_printf (plain, "  %s%-14s %s\n", prefix, magic->name, magic->usage);
            wb_buf_printf (html, "<tr><td><code>%s", prefix);
            wb_buf_html (html, magic->name);
            wb_buf_puts (html, "</code></td><td><code>");
            wb_buf_html (html, magic->usage);
            wb_buf_puts (html, "</code></td></tr>");
        }
    }
    wb_buf_puts (plain, "\nAny other line runs in the shell. %help MAGIC for details.");
    wb_buf_puts (html, "</tbody></table>");
    json_t *bundle = wb_bundle_new (wb_buf_data (plain));
    wb_bundle_set (bundle, "text/html", wb_buf_data (html));
    wb_out_display_new (out, bundle, NULL);
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    return 0;
}

static const char *s_overview =
    "Workbench cells\n"
    "===============\n"
    "\n"
    "  %name args      a line magic (anywhere in a cell, on its own line)\n"
    "  %%name args     a cell magic (first line; the rest of the cell is its body)\n"
    "  anything else   runs in bash; the working directory and exported\n"
    "                  variables persist from cell to cell, output streams as\n"
    "                  it comes, a non-zero exit status is an error\n"
    "\n"
    "Arguments are shell-like words: quotes, --flag value, --flag=value,\n"
    "key=value. Tab completes magics, their flags and file paths; Shift-Tab\n"
    "(inspection) shows the help of the magic under the cursor.\n"
    "\n"
    "Magics\n"
    "------\n";

int
wb_magic_help (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session;
    wb_buf_t *text = wb_buf_new ();
    if (call->argc == 1) {
        wb_buf_puts (text, s_overview);
        for (const wb_magic_t *magic = wb_magics_table (); magic->name; magic++) {
            const char *eol = strchr (magic->help, '\n');
            int size = eol? (int) (eol - magic->help): (int) strlen (magic->help);
            wb_buf_printf (text, "  %-28s %.*s\n", magic->usage, size, magic->help);
        }
    }
    else {
        for (int i = 1; i < call->argc; i++) {
            const char *name = call->argv [i];
            while (*name == '%')
                name++;
            const wb_magic_t *magic = wb_magics_lookup (name);
            if (!magic) {
                wb_buf_destroy (&text);
                return wb_magics_usage (call, out, "no magic named '%s' — try %%lsmagic",
                                        call->argv [i]);
            }
            wb_buf_printf (text, "%s%s\n\n%s\n", i > 1? "\n": "", magic->usage, magic->help);
            //  Its subcommands' usage lines, from the table
            for (const wb_sub_t *sub = magic->subs; sub && sub->name; sub++)
                wb_buf_printf (text, "%s  %s%s\n", sub == magic->subs? "\nSubcommands:\n": "",
                               sub->usage, sub->flags & WB_SUB_DEFAULT? "   (the default)": "");
        }
    }
    wb_out_page_new (out, wb_bundle_new (wb_buf_data (text)));
    wb_buf_destroy (&text);
    return 0;
}

//  ---- Cell magics ----

int
wb_magic_bash (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return wb_magic_cell_shell (session, call->body, out);
}

int
wb_magic_writefile (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_args_t *args = call->args;
    if (wb_args_npos (args) != 1) {
        return wb_magics_usage (call, out, "give exactly one PATH to write");
    }
    const char *name = wb_args_pos (args, 0);
    bool append = wb_args_has (args, "append");
    char *path = wb_shell_path (wb_session_shell (session), name);
    bool exists = access (path, F_OK) == 0;
    FILE *file = fopen (path, append? "a": "w");
    int rc = 0;
    if (!file) {
        wb_out_error (out, "OSError", "cannot write '%s': %s", name, strerror (errno));
        rc = -1;
    }
    else {
        //  As in IPython, the file ends with a newline
        size_t size = strlen (call->body);
        bool written = fwrite (call->body, 1, size, file) == size;
        if (written && size && call->body [size - 1] != '\n')
            written = fputc ('\n', file) != EOF;
        if (fclose (file) || !written) {
            wb_out_error (out, "OSError", "cannot write '%s': %s", name, strerror (errno));
            rc = -1;
        }
        else
            wb_out_printf (out, "%s %s\n",
                append && exists? "Appending to": exists? "Overwriting": "Writing", name);
    }
    free (path);
    return rc;
}

static int
s_display_body (wb_call_t *call, wb_out_t *out, const char *mime, const char *plain)
{
    json_t *bundle = wb_bundle_new (plain);
    wb_bundle_set (bundle, mime, call->body);
    wb_out_display_new (out, bundle, NULL);
    return 0;
}

int
wb_magic_html (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session;
    return s_display_body (call, out, "text/html", "<HTML content>");
}

int
wb_magic_markdown (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session;
    return s_display_body (call, out, "text/markdown", call->body);
}

int
wb_magic_svg (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session;
    return s_display_body (call, out, "image/svg+xml", "<SVG image>");
}

//  ---- %time ----

static double
s_children_cpu (void)
{
    struct rusage usage;
    getrusage (RUSAGE_CHILDREN, &usage);
    return (double) usage.ru_utime.tv_sec + (double) usage.ru_utime.tv_usec / 1e6
         + (double) usage.ru_stime.tv_sec + (double) usage.ru_stime.tv_usec / 1e6;
}

static void
s_print_duration (wb_buf_t *buf, double seconds)
{
    if (seconds < 1e-3)
        wb_buf_printf (buf, "%.0f µs", seconds * 1e6);
    else
    if (seconds < 1)
        wb_buf_printf (buf, "%.1f ms", seconds * 1e3);
    else
        wb_buf_printf (buf, "%.2f s", seconds);
}

int
wb_magic_time (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session;             //  the line runs through the interpreter
    const char *code = call->body? call->body: call->line;
    if (!call->body && !*code)
        return wb_magics_usage (call, out, "%%time needs a command to time");
    double cpu_start = s_children_cpu ();
    double start = wb_time_mono ();
    int rc = wb_magics_execute (call->magics, code, out);
    double wall = wb_time_mono () - start;
    double cpu = s_children_cpu () - cpu_start;
    wb_buf_t *line = wb_buf_new ();
    wb_buf_puts (line, "Wall time: ");
    s_print_duration (line, wall);
    wb_buf_puts (line, " (CPU time of processes: ");
    s_print_duration (line, cpu);
    wb_buf_puts (line, ")\n");
    wb_out_stream (out, "stdout", wb_buf_data (line), wb_buf_size (line));
    wb_buf_destroy (&line);
    return rc;
}

//  ---- %env ----

static bool
s_valid_name (const char *name, size_t size)
{
    if (size == 0 || (name [0] >= '0' && name [0] <= '9'))
        return false;
    for (size_t i = 0; i < size; i++)
        if (!(name [i] == '_' || (name [i] >= 'a' && name [i] <= 'z')
           || (name [i] >= 'A' && name [i] <= 'Z') || (name [i] >= '0' && name [i] <= '9')))
            return false;
    return true;
}

int
wb_magic_env (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_shell_t *shell = wb_session_shell (session);
    if (call->argc == 1) {
        wb_buf_t *text = wb_buf_new ();
        for (char **entry = wb_shell_environ (shell); *entry; entry++)
            wb_buf_printf (text, "%s\n", *entry);
        wb_out_stream (out, "stdout", wb_buf_data (text), wb_buf_size (text));
        wb_buf_destroy (&text);
        return 0;
    }
    if (call->argc > 3)
        return wb_magics_usage (call, out, "give NAME, NAME=VALUE or NAME VALUE");
    const char *word = call->argv [1];
    const char *equals = strchr (word, '=');
    size_t name_size = equals? (size_t) (equals - word): strlen (word);
    if (!s_valid_name (word, name_size))
        return wb_magics_usage (call, out,
            "'%.*s' is not a variable name (letters, digits and _, not starting with a digit)",
            (int) name_size, word);
    char *name = wb_strndup (word, name_size);
    const char *value = equals? equals + 1: call->argc == 3? call->argv [2]: NULL;
    if (equals && call->argc == 3) {
        free (name);
        return wb_magics_usage (call, out, "give NAME=VALUE or NAME VALUE, not both");
    }
    if (value) {
        wb_shell_setenv (shell, name, value);
        wb_out_printf (out, "env: %s=%s\n", name, value);
    }
    else {
        const char *current = wb_shell_getenv (shell, name);
        if (!current) {
            wb_out_error (out, "UsageError",
                "environment variable '%s' is not set — set it with %%env %s=VALUE",
                name, name);
            free (name);
            return -1;
        }
        wb_out_result_new (out, wb_bundle_new (current));
    }
    free (name);
    return 0;
}

//  ---- %clear ----

int
wb_magic_clear (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) session; (void) call;
    wb_out_clear (out, false);
    return 0;
}
