/*  wb_util - small helpers every file uses: allocation that aborts on out of
    memory, string formatting, numbers as text, a growable byte buffer,
    time, files private to their owner, the hash of an endpoint key.
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_util.h"
#include "wb_fs.h"

static void
s_out_of_memory (size_t size)
{
    fprintf (stderr, "workbench: out of memory (asked for %zu bytes)\n", size);
    abort ();
}

void *
wb_malloc (size_t size)
{
    void *data = malloc (size? size: 1);
    if (!data)
        s_out_of_memory (size);
    return data;
}

void *
wb_calloc (size_t count, size_t size)
{
    void *data = calloc (count? count: 1, size? size: 1);
    if (!data)
        s_out_of_memory (count * size);
    return data;
}

void *
wb_realloc (void *data, size_t size)
{
    data = realloc (data, size? size: 1);
    if (!data)
        s_out_of_memory (size);
    return data;
}

char *
wb_strdup (const char *text)
{
    assert (text);
    return wb_strndup (text, strlen (text));
}

char *
wb_strndup (const char *text, size_t size)
{
    char *copy = wb_malloc (size + 1);
    memcpy (copy, text, size);
    copy [size] = 0;
    return copy;
}

char *
wb_vsprintf (const char *format, va_list args)
{
    va_list copy;
    va_copy (copy, args);
    int size = vsnprintf (NULL, 0, format, copy);
    va_end (copy);
    assert (size >= 0);
    char *text = wb_malloc ((size_t) size + 1);
    vsnprintf (text, (size_t) size + 1, format, args);
    return text;
}

char *
wb_sprintf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = wb_vsprintf (format, args);
    va_end (args);
    return text;
}

bool
wb_starts_with (const char *text, const char *prefix)
{
    return strncmp (text, prefix, strlen (prefix)) == 0;
}

void
wb_double_text (double value, char *text, size_t size)
{
    assert (text && size > 0);
    for (int precision = 15; precision <= 17; precision++) {
        snprintf (text, size, "%.*g", precision, value);
        if (strtod (text, NULL) == value)
            break;
    }
}

double
wb_time_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

double
wb_time_mono (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

void
wb_time_iso (double when, char *buf, size_t size)
{
    time_t seconds = (time_t) when;
    long micros = (long) ((when - (double) seconds) * 1e6);
    if (micros < 0)
        micros = 0;
    if (micros > 999999)
        micros = 999999;
    struct tm tm;
    gmtime_r (&seconds, &tm);
    char head [32];
    strftime (head, sizeof (head), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%06ldZ", head, micros);
}

//  ---- Byte buffer ----

struct _wb_buf_t {
    char *data;                 //  the bytes, NUL-terminated
    size_t size;                //  bytes in use (without the NUL)
    size_t room;                //  bytes allocated
};

wb_buf_t *
wb_buf_new (void)
{
    wb_buf_t *self = wb_calloc (1, sizeof (wb_buf_t));
    self->room = 256;
    self->data = wb_malloc (self->room);
    self->data [0] = 0;
    return self;
}

void
wb_buf_destroy (wb_buf_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->data);
        free (*self_p);
        *self_p = NULL;
    }
}

void
wb_buf_append (wb_buf_t *self, const char *data, size_t size)
{
    assert (self);
    if (self->size + size + 1 > self->room) {
        while (self->size + size + 1 > self->room)
            self->room *= 2;
        self->data = wb_realloc (self->data, self->room);
    }
    if (size)
        memcpy (self->data + self->size, data, size);
    self->size += size;
    self->data [self->size] = 0;
}

void
wb_buf_puts (wb_buf_t *self, const char *text)
{
    wb_buf_append (self, text, strlen (text));
}

void
wb_buf_printf (wb_buf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = wb_vsprintf (format, args);
    va_end (args);
    wb_buf_puts (self, text);
    free (text);
}

void
wb_buf_html (wb_buf_t *self, const char *text)
{
    for (const char *c = text; *c; c++) {
        switch (*c) {
            case '&':  wb_buf_puts (self, "&amp;"); break;
            case '<':  wb_buf_puts (self, "&lt;"); break;
            case '>':  wb_buf_puts (self, "&gt;"); break;
            case '"':  wb_buf_puts (self, "&quot;"); break;
            case '\'': wb_buf_puts (self, "&#39;"); break;
            default:   wb_buf_append (self, c, 1);
        }
    }
}

const char *
wb_buf_data (wb_buf_t *self)
{
    assert (self);
    return self->data;
}

size_t
wb_buf_size (wb_buf_t *self)
{
    assert (self);
    return self->size;
}

void
wb_buf_consume (wb_buf_t *self, size_t size)
{
    assert (self);
    if (size >= self->size)
        size = self->size;
    memmove (self->data, self->data + size, self->size - size);
    self->size -= size;
    self->data [self->size] = 0;
}

void
wb_buf_reset (wb_buf_t *self)
{
    assert (self);
    self->size = 0;
    self->data [0] = 0;
}

char *
wb_buf_detach (wb_buf_t **self_p)
{
    assert (self_p && *self_p);
    char *data = (*self_p)->data;
    free (*self_p);
    *self_p = NULL;
    return data;
}

bool
wb_self_path (char *buf, size_t size)
{
    const char *exe = getenv ("WORKBENCH_EXE");
    if (exe && *exe) {
        snprintf (buf, size, "%s", exe);
        return true;
    }
    ssize_t got = readlink ("/proc/self/exe", buf, size - 1);
    if (got <= 0)
        return false;
    buf [got] = 0;
    char *deleted = strstr (buf, " (deleted)");
    if (deleted && deleted [10] == 0)
        *deleted = 0;
    return true;
}

char *
wb_file_read (const char *path, size_t *size_p)
{
    return wb_fs_read (path, size_p, NULL);
}

//  ---- Files private to their owner ----

int
wb_path_private (const char *path, bool recursive)
{
    struct stat info;
    if (lstat (path, &info))
        return errno == ENOENT? 0: -1;
    if (S_ISLNK (info.st_mode))
        return 0;               //  chmod would change what it points at
    if ((info.st_mode & 077) && chmod (path, info.st_mode & 0700))
        return -1;
    if (!recursive || !S_ISDIR (info.st_mode))
        return 0;
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    int rc = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char *child = wb_sprintf ("%s/%s", path, entry->d_name);
        if (wb_path_private (child, true))
            rc = -1;
        free (child);
    }
    closedir (dir);
    return rc;
}

//  ---- Endpoint keys ----

void
wb_key_hash (const char *key, size_t size, char hash [WB_KEY_HASH_TEXT])
{
    static const char context [] = "workbench endpoint key v1";
    unsigned char digest [32];
    crypto_generichash (digest, sizeof (digest), (const unsigned char *) key, size,
                        (const unsigned char *) context, sizeof (context) - 1);
    memcpy (hash, "b2:", 3);
    sodium_bin2hex (hash + 3, WB_KEY_HASH_TEXT - 3, digest, sizeof (digest));
}

bool
wb_key_is_hash (const char *text)
{
    if (!text || strlen (text) != WB_KEY_HASH_TEXT - 1 || !wb_starts_with (text, "b2:"))
        return false;
    for (const char *c = text + 3; *c; c++)
        if (!strchr ("0123456789abcdef", *c))
            return false;
    return true;
}

//  @selftest
void
wb_util_test (bool verbose)
{
    (void) verbose;
    char *text = wb_sprintf ("%s-%d", "run", 7);
    assert (streq (text, "run-7"));
    free (text);
    assert (wb_starts_with ("%%bash", "%%"));
    assert (!wb_starts_with ("%bash", "%%"));

    //  Numbers as the shortest text that reads back the same
    char number [32];
    wb_double_text (0.1, number, sizeof (number));
    assert (streq (number, "0.1"));
    wb_double_text (1.0 / 3, number, sizeof (number));
    assert (streq (number, "0.3333333333333333"));         //  16 digits
    wb_double_text (0.1 + 0.2, number, sizeof (number));
    assert (streq (number, "0.30000000000000004"));        //  17 digits
    wb_double_text (-2.5e-300, number, sizeof (number));
    assert (streq (number, "-2.5e-300"));
    wb_double_text (42, number, sizeof (number));
    assert (streq (number, "42"));
    for (int i = 1; i < 1000; i++) {
        double value = (double) i / 7 * 1e5 + 1.0 / i;
        wb_double_text (value, number, sizeof (number));
        assert (strtod (number, NULL) == value);
    }

    wb_buf_t *buf = wb_buf_new ();
    for (int i = 0; i < 1000; i++)
        wb_buf_printf (buf, "%d,", i);
    assert (wb_buf_size (buf) == 3890);
    wb_buf_consume (buf, 2);
    assert (wb_starts_with (wb_buf_data (buf), "1,2,"));
    wb_buf_reset (buf);
    wb_buf_html (buf, "<script>alert('x') & \"y\"</script>");
    assert (streq (wb_buf_data (buf),
        "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"));
    text = wb_buf_detach (&buf);
    assert (buf == NULL);
    free (text);

    char iso [40];
    wb_time_iso (0.5, iso, sizeof (iso));
    assert (streq (iso, "1970-01-01T00:00:00.500000Z"));
    assert (wb_time_mono () > 0);

    //  A whole file; a FIFO with no writer or a folder is refused at once
    //  (a FIFO hung the reader, a folder read as empty)
    char scratch [] = "/tmp/wb-util-read-XXXXXX";
    assert (mkdtemp (scratch));
    char *fifo = wb_sprintf ("%s/pipe", scratch);
    assert (mkfifo (fifo, 0600) == 0);
    size_t size = 1;
    assert (!wb_file_read (fifo, &size) && errno == EINVAL && size == 1);
    assert (!wb_file_read (scratch, &size) && errno == EISDIR);
    unlink (fifo);
    free (fifo);
    char *note = wb_sprintf ("%s/note", scratch);
    FILE *out = fopen (note, "w");
    assert (out);
    fputs ("hello", out);
    fclose (out);
    text = wb_file_read (note, &size);
    assert (text && size == 5 && streq (text, "hello"));
    free (text);
    unlink (note);
    free (note);
    rmdir (scratch);

    //  Private files: made 0700/0600, loose ones tightened, symlinks left
    char folder [] = "/tmp/wb-util-test-XXXXXX";
    assert (mkdtemp (folder));
    char *deep = wb_sprintf ("%s/a/b", folder);
    assert (wb_fs_mkdirs (deep, 0700) == 0);
    struct stat info;
    assert (stat (deep, &info) == 0 && (info.st_mode & 0777) == 0700);
    char *file = wb_sprintf ("%s/a/f", folder);
    FILE *handle = fopen (file, "w");
    assert (handle);
    fclose (handle);
    assert (chmod (file, 0755) == 0 && chmod (deep, 0755) == 0);
    char *link = wb_sprintf ("%s/a/l", folder);
    assert (symlink ("/etc/hostname", link) == 0);
    char *top = wb_sprintf ("%s/a", folder);
    assert (wb_path_private (top, true) == 0);
    assert (stat (file, &info) == 0 && (info.st_mode & 0777) == 0700);
    assert (stat (deep, &info) == 0 && (info.st_mode & 0777) == 0700);
    assert (wb_path_private ("/nonexistent/x", false) == 0);
    char *command = wb_sprintf ("rm -rf '%s'", folder);
    assert (system (command) == 0);
    free (command);
    free (top);
    free (link);
    free (file);
    free (deep);

    //  Key hashes: stable, distinct, recognised
    char hash [WB_KEY_HASH_TEXT], other [WB_KEY_HASH_TEXT];
    wb_key_hash ("abc", 3, hash);
    wb_key_hash ("abc", 3, other);
    assert (streq (hash, other) && wb_key_is_hash (hash));
    wb_key_hash ("abd", 3, other);
    assert (!streq (hash, other));
    assert (!wb_key_is_hash ("abc") && !wb_key_is_hash (NULL));
}
//  @end
