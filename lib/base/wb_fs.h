/*  wb_fs - the file system helpers every layer uses: make a folder with its
    parents (mkdir -p), read a whole regular file, write one atomically,
    copy one, remove a tree

    One implementation of each, so that the rules they carry hold everywhere:
    the folders a workspace makes are its owner's only (the caller gives
    0700), and reading a path that is not a regular file (a FIFO, a folder,
    a device) is refused at once, never waiting for a writer.
*/
#ifndef WB_FS_H
#define WB_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "wb_error.h"

//  mkdir -p: make path and every missing folder above it, each with mode
//  (workspace folders: 0700; the umask may take bits off). Folders already
//  there are left as they are. 0, or -1 (errno set).
int
    wb_fs_mkdirs (const char *path, mode_t mode);

//  The whole of the regular file at path, NUL-terminated, its size in
//  *size_p (size_p may be NULL). Anything else (a FIFO, a folder, a device)
//  is refused at once with an error naming what it is; opening never waits
//  (a FIFO with no writer). Reads to the end of the file, so files whose
//  size the kernel does not know (/proc) are read whole. NULL with err
//  filled (err may be NULL) and errno set. Caller owns the return value.
char *
    wb_fs_read (const char *path, size_t *size_p, wb_error_t *err);

//  Write size bytes of data to path as a whole: a temporary file beside it,
//  then a rename, so that a reader sees the old file or the new one, never
//  half of one. 0, or -1 with err filled (err may be NULL).
int
    wb_fs_write (const char *path, const void *data, size_t size, mode_t mode,
                 wb_error_t *err);

//  Copy the regular file from to path to (wb_fs_write). 0, or -1 with err.
int
    wb_fs_copy (const char *from, const char *to, mode_t mode, wb_error_t *err);

//  rm -rf: remove path and everything below it (symbolic links are removed,
//  not followed); nothing there is no error. 0, or -1 with err.
int
    wb_fs_remove_tree (const char *path, wb_error_t *err);

//  Self-test
void
    wb_fs_test (bool verbose);

#endif
