/*  wb_store_blobs - content-addressed files: artifacts/ by sha256

    Part of wb_store (see wb_store_int.h). A file is kept once however
    many runs, snapshots or datasets hold it, under artifacts/XX/REST of
    its hash, written to a temporary name and renamed so that a reader
    never sees half a file; it is collected when no row refers to it.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_store_int.h"
#include "base/wb_util.h"

//  ---- Content-addressed files ----

int
wb_sha256_file (const char *file, char *hash, wb_error_t *err)
{
    FILE *handle = fopen (file, "rb");
    if (!handle)
        return wb_error_set (err, "cannot read '%s': %s", file, strerror (errno));
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    unsigned char chunk [65536];
    size_t got;
    while ((got = fread (chunk, 1, sizeof (chunk), handle)) > 0)
        crypto_hash_sha256_update (&state, chunk, got);
    bool failed = ferror (handle);
    fclose (handle);
    if (failed)
        return wb_error_set (err, "cannot read '%s': %s", file, strerror (errno));
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&state, digest);
    sodium_bin2hex (hash, 65, digest, sizeof (digest));
    return 0;
}

char *
wb_store_artifact_read (wb_store_t *self, json_t *run, const char *path, size_t *size_p)
{
    size_t index;
    json_t *artifact;
    json_array_foreach (json_object_get (run, "artifacts"), index, artifact) {
        const char *name = json_string_value (json_object_get (artifact, "path"));
        const char *hash = json_string_value (json_object_get (artifact, "hash"));
        if (name && hash && streq (name, path)) {
            char *blob = wb_store_blob_path (self, hash);
            char *data = wb_file_read (blob, size_p);
            free (blob);
            return data;
        }
    }
    return NULL;
}

char *
wb_store_blob_path (wb_store_t *self, const char *hash)
{
    return wb_sprintf ("%s/%.2s/%s", self->artifacts, hash, hash + 2);
}

//  Move or copy the bytes at source (or data) into the store under hash.
static int
s_blob_put (wb_store_t *self, const char *hash, const char *source,
            const void *data, size_t size, wb_error_t *err)
{
    char *path = wb_store_blob_path (self, hash);
    struct stat info;
    if (stat (path, &info) == 0) {
        free (path);
        return 0;               //  the same content is there already
    }
    char *dir = wb_sprintf ("%s/%.2s", self->artifacts, hash);
    mkdir (self->artifacts, 0700);
    if (mkdir (dir, 0700) && errno != EEXIST) {
        wb_error_set (err, "cannot create '%s': %s", dir, strerror (errno));
        free (dir);
        free (path);
        return -1;
    }
    //  Write to a temporary name, then rename: a reader never sees half a file
    char *temp = wb_sprintf ("%s/.tmp-%d-%s", dir, (int) getpid (), hash + 2);
    int rc = 0;
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0? fdopen (fd, "wb"): NULL;
    if (fd >= 0 && !out)
        close (fd);
    if (!out)
        rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
    else {
        if (source) {
            FILE *in = fopen (source, "rb");
            if (!in)
                rc = wb_error_set (err, "cannot read '%s': %s", source, strerror (errno));
            else {
                char chunk [65536];
                size_t got;
                while (rc == 0 && (got = fread (chunk, 1, sizeof (chunk), in)) > 0)
                    if (fwrite (chunk, 1, got, out) != got)
                        rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
                fclose (in);
            }
        }
        else
        if (size && fwrite (data, 1, size, out) != size)
            rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
        if (fclose (out) && rc == 0)
            rc = wb_error_set (err, "cannot write '%s': %s", temp, strerror (errno));
    }
    if (rc == 0 && rename (temp, path))
        rc = wb_error_set (err, "cannot store '%s': %s", path, strerror (errno));
    if (rc)
        unlink (temp);
    free (temp);
    free (dir);
    free (path);
    return rc;
}

int
wb_store_blob_data (wb_store_t *self, const void *data, size_t size, char *hash,
                    wb_error_t *err)
{
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, data, size);
    sodium_bin2hex (hash, 65, digest, sizeof (digest));
    return s_blob_put (self, hash, NULL, data, size, err);
}

int
wb_store_blob_file (wb_store_t *self, const char *file, char *hash, wb_error_t *err)
{
    if (wb_sha256_file (file, hash, err))
        return -1;
    return s_blob_put (self, hash, file, NULL, 0, err);
}

static int
    s_artifact_put (wb_store_t *self, const char *id, const char *path, const char *hash,
                    int64_t size, wb_error_t *err);

static int
s_artifact_record (wb_store_t *self, const char *id, const char *path, const char *hash,
                   int64_t size, wb_error_t *err)
{
    if (!path || !*path || path [0] == '/' || strstr (path, ".."))
        return wb_error_set (err, "artifact path '%s' must be relative, without '..'",
                             path? path: "");
    //  A file name from a job's outputs may be any bytes: it is recorded
    //  as valid UTF-8 (U+FFFD), the name %artifacts shows and finds
    char *copy;
    path = wb_store__valid (path, &copy);
    int rc = s_artifact_put (self, id, path, hash, size, err);
    free (copy);
    return rc;
}

static int
s_artifact_put (wb_store_t *self, const char *id, const char *path, const char *hash,
                int64_t size, wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    int64_t seq = wb_store__run_seq (self, id, err);
    //  Replacing an artifact: remember the old content, to collect it
    json_t *old = json_array ();
    sqlite3_stmt *stmt = seq < 0? NULL: wb_store__prepare (self,
        "SELECT hash FROM artifacts WHERE run = ? AND path = ?", err);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        sqlite3_bind_text (stmt, 2, path, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW)
            json_array_append_new (old, wb_store__column_json (stmt, 0));
        sqlite3_finalize (stmt);
        stmt = wb_store__prepare (self, "INSERT INTO artifacts (run, path, hash, size, created)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (run, path) DO UPDATE SET"
            " hash = excluded.hash, size = excluded.size, created = excluded.created", err);
    }
    int rc = stmt? 0: -1;
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        sqlite3_bind_text (stmt, 2, path, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, size);
        sqlite3_bind_double (stmt, 5, wb_time_now ());
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = wb_store__sql_error (self, err, "recording an artifact");
        sqlite3_finalize (stmt);
    }
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s, s:s, s:I}", "path", path, "hash", hash, "size", (json_int_t) size);
        rc = wb_store__event (self, "artifact.add", id, detail, err);
        json_decref (detail);
    }
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        json_decref (old);
        return -1;
    }
    wb_store__collect (self, old);
    json_decref (old);
    return 0;
}

int
wb_store_artifact_file (wb_store_t *self, const char *id, const char *path,
                        const char *file, wb_error_t *err)
{
    char hash [65];
    struct stat info;
    if (stat (file, &info) || !S_ISREG (info.st_mode))
        return wb_error_set (err, "cannot store '%s' as an artifact: not a readable file", file);
    if (wb_store_blob_file (self, file, hash, err))
        return -1;
    return s_artifact_record (self, id, path, hash, (int64_t) info.st_size, err);
}

int
wb_store_artifact_data (wb_store_t *self, const char *id, const char *path,
                        const void *data, size_t size, wb_error_t *err)
{
    char hash [65];
    if (wb_store_blob_data (self, data, size, hash, err))
        return -1;
    return s_artifact_record (self, id, path, hash, (int64_t) size, err);
}


//  Delete the files under artifacts/ whose hash no row refers to any more.
//  A snapshot's manifest is collected with the files it alone lists.
void
wb_store__collect (wb_store_t *self, json_t *hashes)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT (SELECT count (*) FROM artifacts WHERE hash = ?1)"
        " + (SELECT count (*) FROM runs WHERE snapshot = ?1)"
        " + (SELECT count (*) FROM snapshot_files WHERE hash = ?1)"
        " + (SELECT count (*) FROM datasets WHERE hash = ?1)", NULL);
    sqlite3_stmt *listed = wb_store__prepare (self,
        "SELECT hash FROM snapshot_files WHERE snapshot = ?", NULL);
    sqlite3_stmt *forget = wb_store__prepare (self,
        "DELETE FROM snapshot_files WHERE snapshot = ?", NULL);
    //  hashes may grow as manifests are collected: walk by index
    for (size_t index = 0; index < json_array_size (hashes); index++) {
        const char *hash = json_string_value (json_array_get (hashes, index));
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_ROW || sqlite3_column_int64 (stmt, 0) != 0)
            continue;
        sqlite3_reset (listed);
        sqlite3_bind_text (listed, 1, hash, -1, SQLITE_STATIC);
        json_t *files = json_array ();
        while (sqlite3_step (listed) == SQLITE_ROW)
            json_array_append_new (files, wb_store__column_json (listed, 0));
        if (json_array_size (files)) {
            sqlite3_reset (forget);
            sqlite3_bind_text (forget, 1, hash, -1, SQLITE_STATIC);
            sqlite3_step (forget);
            json_array_extend (hashes, files);
        }
        json_decref (files);
        char *path = wb_store_blob_path (self, hash);
        unlink (path);
        free (path);
    }
    sqlite3_finalize (stmt);
    sqlite3_finalize (listed);
    sqlite3_finalize (forget);
}


//  @selftest

void
wb_store_blobs_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    char scratch [] = "/tmp/wb-store-XXXXXX";
    char path [64];
    char id [9];
    wb_store_t *store = wb_store__test_open (scratch, path, sizeof (path), id);
    json_t *run;

    //  Artifacts: the same content is stored once; delete collects it
    char id2 [9];
    wb_run_spec_t second = { "Other", "second", NULL, NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &second, id2, &err) == 0);
    assert (wb_store_artifact_data (store, id, "model.json", "{\"w\": 1}", 8, &err) == 0);
    assert (wb_store_artifact_data (store, id2, "copy.json", "{\"w\": 1}", 8, &err) == 0);
    assert (wb_store_artifact_data (store, id2, "only.txt", "mine", 4, &err) == 0);
    assert (wb_store_artifact_data (store, id2, "../escape", "x", 1, &err) == -1);
    {
        json_t *holder = wb_store_run_get (store, id2, &err);
        size_t read_size;
        char *content = wb_store_artifact_read (store, holder, "only.txt", &read_size);
        assert (content && read_size == 4 && streq (content, "mine"));
        free (content);
        assert (wb_store_artifact_read (store, holder, "absent.txt", NULL) == NULL);
        json_decref (holder);
    }
    run = wb_store_run_get (store, id2, &err);
    const char *shared = json_string_value (json_object_get (json_array_get (json_object_get (run, "artifacts"), 0), "hash"));
    const char *own = json_string_value (json_object_get (json_array_get (json_object_get (run, "artifacts"), 1), "hash"));
    char *shared_path = wb_store_blob_path (store, shared);
    char *own_path = wb_store_blob_path (store, own);
    json_decref (run);
    assert (access (shared_path, F_OK) == 0 && access (own_path, F_OK) == 0);
    json_t *summary = wb_store_summary (store, &err);
    assert (json_integer_value (json_object_get (summary, "artifacts")) == 3);
    assert (json_integer_value (json_object_get (summary, "artifact_files")) == 2);
    json_decref (summary);
    assert (wb_store_run_delete (store, id2, &err) == 0);
    assert (access (shared_path, F_OK) == 0);       //  still used by the first run
    assert (access (own_path, F_OK) != 0);          //  collected
    free (shared_path);
    free (own_path);
    assert (!wb_store_run_resolve (store, "second", &err));

    wb_store_destroy (&store);
    wb_store__test_remove (scratch);
}
//  @end
