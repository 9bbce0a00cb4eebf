/*  wb_util - small helpers every file uses: allocation that aborts on out of
    memory, string formatting, numbers as text, a growable byte buffer,
    time, files private to their owner, the hash of an endpoint key.
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

//  A number as the shortest text that reads back as the same double: "%g"
//  with 15, 16 or 17 significant digits, the first that round-trips through
//  strtod (so 0.1 is "0.1", not "0.10000000000000001"). NaN and infinities
//  come out as printf writes them. text holds at least 32 bytes. Data
//  cells, model files and the scorer all write numbers with this.
void
    wb_double_text (double value, char *text, size_t size);

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

//  Read a whole regular file into a new string (wb_fs_read without the
//  error text): a FIFO, a folder or a device is refused at once. NULL
//  (errno set) on failure.
char *
    wb_file_read (const char *path, size_t *size_p);

//  ---- Files private to their owner ----
//
//  Everything a workspace holds (its database, artifacts, logs, job and
//  snapshot folders) and the kernel's history is its owner's alone: folders
//  0700, files 0600 (an executable keeps its owner's x bit). The modes are
//  given when a file is made, and set again with these (no umask involved).

//  Take group and other bits off path (not following a symlink); with
//  recursive, off everything under a folder too. 0, or -1 (errno set;
//  a path that does not exist is not an error).
int
    wb_path_private (const char *path, bool recursive);
//  Folders: wb_fs_mkdirs (path, 0700) in wb_fs.h.

//  ---- Endpoint keys ----

#define WB_KEY_HASH_TEXT  68    //  "b2:" + 64 hex digits + NUL

//  The hash stored for an endpoint key, as text ("b2:" + hex) into hash.
//  Keys are 256 random bits, so a fast hash is enough: nobody can guess a
//  key from its hash by trying keys (a slow password hash such as
//  crypto_pwhash is for guessable passwords, and would cost every request
//  tens of milliseconds). BLAKE2b-256 keyed with a fixed context string,
//  so that the same bytes hashed elsewhere do not match.
void
    wb_key_hash (const char *key, size_t size, char hash [WB_KEY_HASH_TEXT]);
//  Whether text is such a hash (and not a key stored before hashing).
bool
    wb_key_is_hash (const char *text);

void
    wb_util_test (bool verbose);

#endif
