/*  wb_fs - the file system helpers every layer uses: make a folder with its
    parents (mkdir -p), read a whole regular file, write one atomically,
    copy one, remove a tree
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

//  ---- Writing, copying, removing ----

int
wb_fs_write (const char *path, const void *data, size_t size, mode_t mode, wb_error_t *err)
{
    assert (path && (data || size == 0));
    char *temp = wb_sprintf ("%s.XXXXXX", path);
    int fd = mkstemp (temp);
    int rc = fd < 0? -1: 0;
    const char *at = data;
    for (size_t left = size; rc == 0 && left > 0; ) {
        ssize_t wrote = write (fd, at, left);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0)
            rc = -1;
        else {
            at += wrote;
            left -= (size_t) wrote;
        }
    }
    if (rc == 0 && fchmod (fd, mode))
        rc = -1;
    if (fd >= 0 && close (fd))
        rc = -1;
    if (rc == 0 && rename (temp, path))
        rc = -1;
    if (rc) {
        wb_error_set (err, "cannot write '%s': %s", path, strerror (errno));
        if (fd >= 0)
            unlink (temp);
    }
    free (temp);
    return rc;
}

int
wb_fs_copy (const char *from, const char *to, mode_t mode, wb_error_t *err)
{
    size_t size;
    char *data = wb_fs_read (from, &size, err);
    if (!data)
        return -1;
    int rc = wb_fs_write (to, data, size, mode, err);
    free (data);
    return rc;
}

static int
s_remove_one (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) ftw;
    return (flag == FTW_DP? rmdir (path): unlink (path)) && errno != ENOENT? -1: 0;
}

int
wb_fs_remove_tree (const char *path, wb_error_t *err)
{
    assert (path);
    struct stat info;
    if (lstat (path, &info))
        return errno == ENOENT? 0: wb_error_set (err, "cannot remove '%s': %s", path, strerror (errno));
    int rc = S_ISDIR (info.st_mode)? nftw (path, s_remove_one, 16, FTW_DEPTH | FTW_PHYS)
                                   : unlink (path);
    if (rc)
        wb_error_set (err, "cannot remove '%s': %s", path, strerror (errno));
    return rc? -1: 0;
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

    //  Write whole, copy, remove a tree (links removed, not followed)
    char *written = wb_sprintf ("%s/a/b/w.txt", folder);
    char *copied = wb_sprintf ("%s/a/c.txt", folder);
    char *link_path = wb_sprintf ("%s/a/link", folder);
    assert (wb_fs_mkdirs (deep, 0700) == 0);
    char *a = wb_sprintf ("%s/a/b", folder);
    assert (wb_fs_mkdirs (a, 0700) == 0);
    assert (wb_fs_write (written, "hello", 5, 0640, &err) == 0);
    assert (wb_fs_copy (written, copied, 0600, &err) == 0);
    text = wb_fs_read (copied, &size, &err);
    assert (text && size == 5 && streq (text, "hello"));
    free (text);
    assert (stat (written, &info) == 0 && (info.st_mode & 0777) == 0640);
    assert (symlink ("/etc", link_path) == 0);
    assert (wb_fs_write ("/nonexistent/dir/f", "x", 1, 0600, &err) == -1);
    assert (strstr (err.text, "cannot write '/nonexistent/dir/f'"));
    assert (wb_fs_copy ("/nonexistent/f", copied, 0600, &err) == -1);
    char *top = wb_sprintf ("%s/a", folder);
    assert (wb_fs_remove_tree (top, &err) == 0);
    assert (access (top, F_OK) == -1 && access ("/etc/passwd", F_OK) == 0);
    assert (wb_fs_remove_tree (top, &err) == 0);        //  nothing there: fine
    free (top);
    free (a);
    free (link_path);
    free (copied);
    free (written);

    assert (wb_fs_remove_tree (folder, &err) == 0);
    assert (access (folder, F_OK) == -1);
    free (fifo);
    free (blocked);
    free (file);
    free (trailing);
    free (middle);
    free (deep);
}
//  @end
