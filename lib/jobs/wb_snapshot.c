/*  wb_snapshot - the code a job ran: a folder's files stored by content in
    the workspace, listed in a manifest that is itself stored by content
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wb_snapshot.h"
#include "base/wb_fs.h"
#include "base/wb_util.h"

//  What a walk over the folder carries along.
typedef struct {
    wb_store_t *store;          //  where the files go
    const char *root;           //  the folder snapshotted (absolute)
    char *workspace;            //  the workspace folder (real path), skipped
    json_t *ignore;             //  globs from .workbenchignore
    json_t *files;              //  manifest entries so far
    int64_t total;              //  bytes so far
} s_walk_t;

static const char *s_skipped [] = {
    ".workbench", ".git", ".hg", ".svn", ".ipynb_checkpoints", "__pycache__", NULL
};

static json_t *
s_read_ignore (const char *root)
{
    json_t *globs = json_array ();
    char *path = wb_sprintf ("%s/.workbenchignore", root);
    char *text = wb_file_read (path, NULL);
    free (path);
    if (!text)
        return globs;
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        size_t size = strlen (line);
        while (size && (line [size - 1] == '\r' || line [size - 1] == ' '))
            line [--size] = 0;
        while (*line == ' ')
            line++;
        if (*line && *line != '#')
            json_array_append_new (globs, json_string (line));
    }
    free (text);
    return globs;
}

//  Does a glob of .workbenchignore name this path (relative to the root)?
static bool
s_ignored (s_walk_t *walk, const char *relative, bool is_dir)
{
    const char *base = strrchr (relative, '/');
    base = base? base + 1: relative;
    size_t index;
    json_t *glob;
    json_array_foreach (walk->ignore, index, glob) {
        char *pattern = wb_strdup (json_string_value (glob));
        size_t size = strlen (pattern);
        bool dir_only = size > 1 && pattern [size - 1] == '/';
        if (dir_only)
            pattern [size - 1] = 0;
        const char *anchored = pattern [0] == '/'? pattern + 1: NULL;
        bool match = false;
        if (!dir_only || is_dir) {
            if (anchored)
                match = fnmatch (anchored, relative, FNM_PATHNAME) == 0;
            else
                match = fnmatch (pattern, relative, FNM_PATHNAME) == 0
                     || fnmatch (pattern, base, 0) == 0;
        }
        free (pattern);
        if (match)
            return true;
    }
    return false;
}

static int
s_walk (s_walk_t *walk, const char *relative, wb_error_t *err)
{
    char *dir_path = *relative? wb_sprintf ("%s/%s", walk->root, relative): wb_strdup (walk->root);
    DIR *dir = opendir (dir_path);
    if (!dir) {
        wb_error_set (err, "cannot read folder '%s' for the code snapshot: %s", dir_path, strerror (errno));
        free (dir_path);
        return -1;
    }
    //  Sorted, so the manifest does not depend on the file system's order
    json_t *names = json_array ();
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (!streq (entry->d_name, ".") && !streq (entry->d_name, ".."))
            json_array_append_new (names, json_string (entry->d_name));
    closedir (dir);
    size_t count = json_array_size (names);
    const char **sorted = wb_malloc ((count? count: 1) * sizeof (char *));
    for (size_t i = 0; i < count; i++)
        sorted [i] = json_string_value (json_array_get (names, i));
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && strcmp (sorted [j - 1], sorted [j]) > 0; j--) {
            const char *swap = sorted [j];
            sorted [j] = sorted [j - 1];
            sorted [j - 1] = swap;
        }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *name = sorted [i];
        bool skipped = false;
        for (const char **skip = s_skipped; *skip; skip++)
            if (streq (name, *skip))
                skipped = true;
        if (skipped || streq (name, ".workbenchignore"))
            continue;
        char *child = *relative? wb_sprintf ("%s/%s", relative, name): wb_strdup (name);
        char *full = wb_sprintf ("%s/%s", walk->root, child);
        struct stat info;
        if (lstat (full, &info) == 0) {
            char *real = realpath (full, NULL);
            bool is_workspace = real && walk->workspace && streq (real, walk->workspace);
            free (real);
            if (is_workspace || s_ignored (walk, child, S_ISDIR (info.st_mode)))
                ;
            else
            if (S_ISDIR (info.st_mode))
                rc = s_walk (walk, child, err);
            else
            if (S_ISREG (info.st_mode)) {
                char hash [65];
                double mtime = (double) info.st_mtim.tv_sec + (double) info.st_mtim.tv_nsec / 1e9;
                walk->total += (int64_t) info.st_size;
                if (walk->total > WB_SNAPSHOT_MAX)
                    rc = wb_error_set (err, "the code snapshot of '%s' passes %lld MiB at '%s': "
                        "name large files or folders in .workbenchignore, or give --code DIR",
                        walk->root, WB_SNAPSHOT_MAX / 1048576, child);
                else
                if (!wb_store_hash_cached (walk->store, full, (int64_t) info.st_size, mtime, hash)
                ||  access (wb_store_path (walk->store), F_OK)) {
                    if (wb_store_blob_file (walk->store, full, hash, err))
                        rc = -1;
                    else
                        wb_store_hash_remember (walk->store, full, (int64_t) info.st_size, mtime, hash);
                }
                else {
                    //  Cached hash: make sure the blob is still there
                    char *blob = wb_store_blob_path (walk->store, hash);
                    if (access (blob, F_OK) && wb_store_blob_file (walk->store, full, hash, err))
                        rc = -1;
                    free (blob);
                }
                if (rc == 0)
                    json_array_append_new (walk->files, json_pack ("{s:s, s:s, s:I, s:i}",
                        "path", child, "hash", hash, "size", (json_int_t) info.st_size,
                        "mode", (int) (info.st_mode & 0777)));
            }
            //  Symbolic links and special files are not code: left out
        }
        free (full);
        free (child);
    }
    free (sorted);
    json_decref (names);
    free (dir_path);
    return rc;
}

int
wb_snapshot_take (wb_store_t *store, const char *dir, char *hash, size_t *files_p,
                  wb_error_t *err)
{
    char *root = realpath (dir, NULL);
    struct stat info;
    if (!root || stat (root, &info) || !S_ISDIR (info.st_mode)) {
        free (root);
        return wb_error_set (err, "cannot snapshot '%s': not a folder", dir);
    }
    s_walk_t walk = { store, root, realpath (wb_store_path (store), NULL),
                      s_read_ignore (root), json_array (), 0 };
    int rc = s_walk (&walk, "", err);
    if (rc == 0) {
        json_t *manifest = json_pack ("{s:O}", "files", walk.files);
        char *text = json_dumps (manifest, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref (manifest);
        rc = wb_store_blob_data (store, text, strlen (text), hash, err);
        free (text);
        if (rc == 0) {
            json_t *hashes = json_array ();
            size_t index;
            json_t *file;
            json_array_foreach (walk.files, index, file)
                json_array_append (hashes, json_object_get (file, "hash"));
            rc = wb_store_snapshot_record (store, hash, hashes, err);
            json_decref (hashes);
        }
        if (files_p)
            *files_p = json_array_size (walk.files);
    }
    json_decref (walk.files);
    json_decref (walk.ignore);
    free (walk.workspace);
    free (root);
    return rc;
}

static int
s_copy (const char *from, const char *to, int mode)
{
    int in = open (from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) {
        close (in);
        return -1;
    }
    int rc = 0;
    char chunk [65536];
    ssize_t got;
    while ((got = read (in, chunk, sizeof (chunk))) > 0)
        if (write (out, chunk, (size_t) got) != got) {
            rc = -1;
            break;
        }
    if (got < 0)
        rc = -1;
    close (in);
    if (close (out))
        rc = -1;
    return rc;
}

int
wb_snapshot_restore (wb_store_t *store, const char *hash, const char *dest, wb_error_t *err)
{
    char *manifest_path = wb_store_blob_path (store, hash);
    char *text = wb_file_read (manifest_path, NULL);
    free (manifest_path);
    json_t *manifest = text? json_loads (text, 0, NULL): NULL;
    free (text);
    if (!json_is_array (json_object_get (manifest, "files"))) {
        json_decref (manifest);
        return wb_error_set (err, "snapshot %.12s is missing or damaged in the workspace", hash);
    }
    int rc = wb_fs_mkdirs (dest, 0700)? wb_error_set (err, "cannot create '%s': %s", dest, strerror (errno)): 0;
    size_t index;
    json_t *file;
    json_array_foreach (json_object_get (manifest, "files"), index, file) {
        if (rc)
            break;
        const char *path = json_string_value (json_object_get (file, "path"));
        if (!path || path [0] == '/' || strstr (path, "..")) {
            rc = wb_error_set (err, "snapshot %.12s lists a bad path", hash);
            break;
        }
        char *target = wb_sprintf ("%s/%s", dest, path);
        char *slash = strrchr (target, '/');
        *slash = 0;
        if (wb_fs_mkdirs (target, 0700))
            rc = wb_error_set (err, "cannot create '%s': %s", target, strerror (errno));
        *slash = '/';
        char *blob = wb_store_blob_path (store, json_string_value (json_object_get (file, "hash")));
        int mode = (int) json_integer_value (json_object_get (file, "mode"));
        if (rc == 0 && s_copy (blob, target, (mode? mode: 0600) & 0700))
            rc = wb_error_set (err, "cannot restore '%s' from the snapshot: %s", path, strerror (errno));
        free (blob);
        free (target);
    }
    json_decref (manifest);
    return rc;
}

//  @selftest
void
wb_snapshot_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    char scratch [] = "/tmp/wb-snapshot-XXXXXX";
    assert (mkdtemp (scratch));
    char *code = wb_sprintf ("%s/code", scratch);
    char *cmd = wb_sprintf (
        "set -e; cd '%s'; mkdir -p code/src code/.git code/data code/__pycache__; cd code;"
        "echo 'print(1)' > train.py; chmod 755 train.py; echo 'x = 2' > src/model.py;"
        "echo ref > .git/HEAD; echo big > data/huge.bin; echo c > __pycache__/m.pyc;"
        "echo 'log' > run.log; printf 'data/\\n*.log\\n# comment\\n' > .workbenchignore;"
        "mkdir .workbench", scratch);
    assert (system (cmd) == 0);
    free (cmd);
    char *ws = wb_sprintf ("%s/.workbench", code);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);
    char hash [65], again [65];
    size_t files = 0;
    assert (wb_snapshot_take (store, code, hash, &files, &err) == 0);
    assert (files == 2);                    //  train.py, src/model.py
    //  Same content, same snapshot
    assert (wb_snapshot_take (store, code, again, NULL, &err) == 0);
    assert (streq (hash, again));
    //  Restore it elsewhere: same files, same mode, nothing ignored
    char *dest = wb_sprintf ("%s/restored", scratch);
    assert (wb_snapshot_restore (store, hash, dest, &err) == 0);
    char *check = wb_sprintf ("cd '%s' && test \"$(cat train.py)\" = 'print(1)' && test -x train.py"
        " && test \"$(cat src/model.py)\" = 'x = 2' && test ! -e data && test ! -e run.log"
        " && test ! -e .git && test ! -e .workbench && test ! -e __pycache__", dest);
    assert (system (check) == 0);
    free (check);
    //  A changed file gives another snapshot
    cmd = wb_sprintf ("sleep 0.01; echo 'x = 3' > '%s/src/model.py'", code);
    assert (system (cmd) == 0);
    free (cmd);
    assert (wb_snapshot_take (store, code, again, NULL, &err) == 0);
    assert (!streq (hash, again));
    assert (wb_snapshot_take (store, "/nonexistent/dir", again, NULL, &err) == -1);
    assert (strstr (err.text, "not a folder"));
    assert (wb_snapshot_restore (store, "00000000000000000000000000000000000000000000000000000000000000aa",
                                 dest, &err) == -1);
    assert (strstr (err.text, "missing"));
    wb_store_destroy (&store);
    free (dest);
    free (ws);
    free (code);
    cmd = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cmd) == 0);
    free (cmd);
}
//  @end
