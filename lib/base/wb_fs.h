/*  wb_fs - the file system helpers every layer uses: make a folder with its
    parents (mkdir -p), read a whole regular file

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

//  Self-test
void
    wb_fs_test (bool verbose);

#endif
