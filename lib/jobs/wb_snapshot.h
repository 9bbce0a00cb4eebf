/*  wb_snapshot - the code a job ran: a folder's files stored by content in
    the workspace, listed in a manifest that is itself stored by content

    Taking a snapshot skips the workspace, VCS folders (.git .hg .svn),
    .ipynb_checkpoints, __pycache__, and whatever .workbenchignore (at the
    folder's root, one glob a line, # for comments, a trailing / for folders)
    names. Unchanged files cost a stat: their hashes are cached by path, size
    and modification time. The manifest is JSON: {"files": [{"path", "hash",
    "size", "mode"}]}, sorted by path.
*/
#ifndef WB_SNAPSHOT_H
#define WB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include "store/wb_store.h"
#include "base/wb_error.h"

//  Largest snapshot taken without complaint, in bytes.
#define WB_SNAPSHOT_MAX (512LL * 1024 * 1024)

//  Snapshot folder dir into store; writes the manifest's hash (65 bytes)
//  and, if not NULL, the number of files. 0 or -1.
int
    wb_snapshot_take (wb_store_t *store, const char *dir, char *hash,
                      size_t *files_p, wb_error_t *err);
//  Recreate snapshot hash in folder dest (made if missing). 0 or -1.
int
    wb_snapshot_restore (wb_store_t *store, const char *hash, const char *dest,
                         wb_error_t *err);

void
    wb_snapshot_test (bool verbose);

#endif
