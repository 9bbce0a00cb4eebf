/*  wb_fs - the file system helpers every layer uses: make a folder with its
    parents (mkdir -p), read a whole regular file
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wb_fs.h"
#include "wb_util.h"

//  ---- Folders ----

int
wb_fs_mkdirs (const char *path, mode_t mode)
{
    assert (path);
    char *copy = wb_strdup (path);
    int rc = 0;
    //  Each folder above path (not the root), then path itself
    for (char *slash = copy + (copy [0] == '/'); rc == 0 && *slash; slash++)
        if (*slash == '/') {
            *slash = 0;
            if (mkdir (copy, mode) && errno != EEXIST)
                rc = -1;
            *slash = '/';
        }
    if (rc == 0 && mkdir (copy, mode) && errno != EEXIST)
        rc = -1;
    int error = errno;
    free (copy);
    errno = error;
    return rc;
}

//  ---- Whole files ----

//  What a path that is not a regular file is, for the error
static const char *
s_file_kind (mode_t mode)
{
    return S_ISFIFO (mode)? "a FIFO (named pipe)"
         : S_ISDIR (mode)?  "a folder"
         : S_ISCHR (mode) || S_ISBLK (mode)? "a device"
         : S_ISSOCK (mode)? "a socket": "of an unknown kind";
}

char *
wb_fs_read (const char *path, size_t *size_p, wb_error_t *err)
{
    assert (path);
    //  O_NONBLOCK: opening a FIFO must not wait for a writer (it would hang
    //  the cell beyond an interrupt); fstat then refuses anything that is
    //  not a regular file before a byte is read
    int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int error = errno;
        wb_error_set (err, "cannot read '%s': %s", path, strerror (error));
        errno = error;
        return NULL;
    }
    struct stat info;
    if (fstat (fd, &info)) {
        int error = errno;
        wb_error_set (err, "cannot read '%s': %s", path, strerror (error));
        close (fd);
        errno = error;
        return NULL;
    }
    if (!S_ISREG (info.st_mode)) {
        wb_error_set (err, "cannot read '%s': it is %s, not a regular file; "
                      "give the path of a file", path, s_file_kind (info.st_mode));
        close (fd);
        errno = S_ISDIR (info.st_mode)? EISDIR: EINVAL;
        return NULL;
    }
    //  The size fstat gives is where we start; a file the kernel makes as
    //  it is read (/proc) says 0 and is read to its end all the same
    size_t size = (size_t) info.st_size;
    size_t room = size + 1;
    char *data = wb_malloc (room);
    size_t got = 0;
    int error = 0;
    while (true) {
        if (got + 1 == room) {
            room *= 2;
            data = wb_realloc (data, room);
        }
        ssize_t rc = read (fd, data + got, room - 1 - got);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            error = rc < 0? errno: 0;
            break;
        }
        got += (size_t) rc;
    }
    close (fd);
    if (error || got < size) {
        wb_error_set (err, "cannot read '%s': %s", path, error? strerror (error):
                      "the file changed while it was read");
        free (data);
        errno = error? error: EIO;
        return NULL;
    }
    data [got] = 0;
    if (size_p)
        *size_p = got;
    return data;
}

//  @selftest
void
wb_fs_test (bool verbose)
{
    (void) verbose;
    char folder [] = "/tmp/wb-fs-test-XXXXXX";
    assert (mkdtemp (folder));

    //  mkdir -p: every folder made gets the mode; twice is fine; a file
    //  in the way is an error
    char *deep = wb_sprintf ("%s/a/b/c", folder);
    assert (wb_fs_mkdirs (deep, 0700) == 0);
    assert (wb_fs_mkdirs (deep, 0700) == 0);
    struct stat info;
    assert (stat (deep, &info) == 0 && S_ISDIR (info.st_mode) && (info.st_mode & 0777) == 0700);
    char *middle = wb_sprintf ("%s/a/b", folder);
    assert (stat (middle, &info) == 0 && (info.st_mode & 0777) == 0700);
    char *trailing = wb_sprintf ("%s/d/", folder);
    assert (wb_fs_mkdirs (trailing, 0700) == 0);
    assert (stat (trailing, &info) == 0 && S_ISDIR (info.st_mode));
    assert (wb_fs_mkdirs ("", 0700) == -1 && errno == ENOENT);

    //  A whole file, with and without its size
    char *file = wb_sprintf ("%s/a/f.txt", folder);
    FILE *handle = fopen (file, "w");
    assert (handle);
    fputs ("one\ntwo\n", handle);
    fclose (handle);
    char *blocked = wb_sprintf ("%s/x", file);
    assert (wb_fs_mkdirs (blocked, 0700) == -1 && errno == ENOTDIR);
    wb_error_t err = { "" };
    size_t size = 0;
    char *text = wb_fs_read (file, &size, &err);
    assert (text && size == 8 && streq (text, "one\ntwo\n"));
    free (text);
    text = wb_fs_read (file, NULL, NULL);
    assert (text && streq (text, "one\ntwo\n"));
    free (text);
    //  Empty, and bigger than a first guess would be (a /proc file says 0)
    handle = fopen (file, "w");
    fclose (handle);
    text = wb_fs_read (file, &size, &err);
    assert (text && size == 0 && text [0] == 0);
    free (text);
    text = wb_fs_read ("/proc/self/status", &size, &err);
    assert (text && size > 0 && strlen (text) == size && strstr (text, "Name:"));
    free (text);

    //  Refused: missing, a folder, a FIFO with no writer (at once)
    assert (!wb_fs_read ("/nonexistent/x.csv", &size, &err) && errno == ENOENT);
    assert (streq (err.text, "cannot read '/nonexistent/x.csv': No such file or directory"));
    assert (!wb_fs_read (folder, &size, &err) && errno == EISDIR);
    assert (strstr (err.text, "': it is a folder, not a regular file"));
    char *fifo = wb_sprintf ("%s/pipe.csv", folder);
    assert (mkfifo (fifo, 0600) == 0);
    assert (!wb_fs_read (fifo, &size, &err));
    assert (strstr (err.text, "pipe.csv': it is a FIFO (named pipe), not a regular file"));
    assert (!wb_fs_read ("/dev/null", &size, &err));
    assert (strstr (err.text, "it is a device, not a regular file"));

    char *command = wb_sprintf ("rm -rf '%s'", folder);
    assert (system (command) == 0);
    free (command);
    free (fifo);
    free (blocked);
    free (file);
    free (trailing);
    free (middle);
    free (deep);
}
//  @end
