/*  wb_util - small helpers every file uses: allocation that aborts on out of
    memory, string formatting, a growable byte buffer, time.
*/
#ifndef WB_UTIL_H
#define WB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef streq
#define streq(a,b)  (strcmp ((a), (b)) == 0)
#endif

//  Allocation: these abort with a message when memory runs out.
void *
    wb_malloc (size_t size);
void *
    wb_calloc (size_t count, size_t size);
void *
    wb_realloc (void *data, size_t size);
char *
    wb_strdup (const char *text);
char *
    wb_strndup (const char *text, size_t size);

//  printf into a new string; caller owns the return value.
char *
    wb_sprintf (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
char *
    wb_vsprintf (const char *format, va_list args);

//  True when text starts with prefix.
bool
    wb_starts_with (const char *text, const char *prefix);

//  Wall-clock time in seconds since the epoch, and a monotonic clock in
//  seconds, both with sub-microsecond resolution.
double
    wb_time_now (void);
double
    wb_time_mono (void);
//  ISO 8601 UTC with microseconds, e.g. 2026-11-22T08:10:00.123456Z, into
//  buf (at least 32 bytes).
void
    wb_time_iso (double when, char *buf, size_t size);

//  ---- A growable byte buffer, always NUL-terminated ----

typedef struct _wb_buf_t wb_buf_t;

wb_buf_t *
    wb_buf_new (void);
void
    wb_buf_destroy (wb_buf_t **self_p);
void
    wb_buf_append (wb_buf_t *self, const char *data, size_t size);
void
    wb_buf_puts (wb_buf_t *self, const char *text);
void
    wb_buf_printf (wb_buf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Append text with &, <, >, " and ' escaped for HTML.
void
    wb_buf_html (wb_buf_t *self, const char *text);
const char *
    wb_buf_data (wb_buf_t *self);
size_t
    wb_buf_size (wb_buf_t *self);
//  Drop the first size bytes.
void
    wb_buf_consume (wb_buf_t *self, size_t size);
void
    wb_buf_reset (wb_buf_t *self);
//  Destroy the buffer and hand back its text; caller owns the return value.
char *
    wb_buf_detach (wb_buf_t **self_p);

//  The path of the running workbench binary into buf: $WORKBENCH_EXE
//  (main sets it from argv[0]), else /proc/self/exe (a binary replaced
//  while running counts as the one now at its path). false if unknown.
bool
    wb_self_path (char *buf, size_t size);

//  Read a whole file into a new string; NULL (errno set) on failure.
char *
    wb_file_read (const char *path, size_t *size_p);

void
    wb_util_test (bool verbose);

#endif
