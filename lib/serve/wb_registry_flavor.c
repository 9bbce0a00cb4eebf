/*  wb_registry_flavor - a model version of any flavor: its folder, the
    Python worker that loads it, and export as an MLflow model

    A version keeps its own copy of its files in the workspace, in
    models/NAME/VERSION/ (read-only for the owner), so that deleting the run
    it came from loses nothing: the model file or folder under its own name,
    and the scoring script, when there is one, as scorer/FILE. Built-in
    models (flavor workbench, a model.json) are scored by the C scorer; the
    other flavors (sklearn, mlflow, python) by share/wb_worker.py, run with
    the version's Python, which this file writes into the workspace's
    python/ folder from the copy compiled into the binary.

    Registering a Python flavor runs the worker's check: it loads the model
    as serving will (with the version's Python and packages), and its hello
    (columns, classes, probabilities, batching) is kept with the version. A
    model that does not load is refused with the loader's own error;
    nothing is registered.
*/
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wb_registry_int.h"
#include "base/wb_embedded.h"
#include "base/wb_fs.h"
#include "base/wb_proc.h"
#include "base/wb_util.h"

#define S_CHECK_TIMEOUT  300.0  //  seconds a model may take to load (torch is slow)

//  ---- The worker program ----

//  path holds exactly size bytes of data
static bool
s_same_file (const char *path, const unsigned char *data, size_t size)
{
    size_t have;
    char *text = wb_fs_read (path, &have, NULL);
    bool same = text && have == size && memcmp (text, data, size) == 0;
    free (text);
    return same;
}

char *
wb_registry_worker (wb_store_t *store, wb_error_t *err)
{
    assert (store);
    char *folder = wb_sprintf ("%s/python", wb_store_path (store));
    char *worker = NULL;
    int rc = wb_fs_mkdirs (folder, 0700)
           ? wb_error_set (err, "cannot create '%s': %s", folder, strerror (errno)): 0;
    for (const wb_embedded_t *file = wb_pyworker; rc == 0 && file->name; file++) {
        char *path = wb_sprintf ("%s/%s", folder, file->name);
        if (!s_same_file (path, file->data, file->size))
            rc = wb_fs_write (path, file->data, file->size, 0600, err);
        if (rc == 0 && streq (file->name, "wb_worker.py"))
            worker = wb_strdup (path);
        free (path);
    }
    free (folder);
    if (rc) {
        free (worker);
        return NULL;
    }
    return worker;
}

char *
wb_registry_model_dir (wb_store_t *store, const char *name, int64_t version)
{
    return wb_sprintf ("%s/models/%s/%lld", wb_store_path (store), name, (long long) version);
}

//  ---- Staging a version's files ----

//  Copy run's artifact at path (a file, or every artifact under path/ for
//  a folder) into staging/BASENAME; *model_p gets BASENAME, *hash_p the
//  file's hash or, for a folder, the hash of its list of (path, hash).
//  0, or -1 with err.
int
wb_registry__stage (wb_store_t *store, json_t *run, const char *path, const char *staging,
                    char **model_p, char **hash_p, wb_error_t *err)
{
    const char *slash = strrchr (path, '/');
    const char *base = slash? slash + 1: path;
    size_t prefix = strlen (path);
    wb_buf_t *manifest = wb_buf_new ();
    const char *single = NULL;
    size_t index, files = 0;
    json_t *artifact;
    int rc = 0;
    json_array_foreach (json_object_get (run, "artifacts"), index, artifact) {
        const char *name = json_string_value (json_object_get (artifact, "path"));
        const char *hash = json_string_value (json_object_get (artifact, "hash"));
        bool is_file = streq (name, path);
        bool is_under = !is_file && !strncmp (name, path, prefix) && name [prefix] == '/';
        if (rc || !(is_file || is_under))
            continue;
        char *to = wb_sprintf ("%s/%s%s", staging, base, name + prefix);
        char *folder = wb_strdup (to);
        *strrchr (folder, '/') = 0;
        char *from = wb_store_blob_path (store, hash);
        if (wb_fs_mkdirs (folder, 0700))
            rc = wb_error_set (err, "cannot create '%s': %s", folder, strerror (errno));
        else
            rc = wb_fs_copy (from, to, 0400, err);
        wb_buf_printf (manifest, "%s\t%s\n", name + prefix, hash);
        if (is_file)
            single = hash;
        files++;
        free (from);
        free (folder);
        free (to);
    }
    if (rc == 0 && files == 0)
        rc = wb_error_set (err, "run %s has no artifact '%s' (a file, or a folder of files): "
                           "%%artifacts %s lists what it has",
                           json_string_value (json_object_get (run, "id")), path,
                           json_string_value (json_object_get (run, "id")));
    if (rc == 0) {
        char hash [65];
        if (single)
            snprintf (hash, sizeof (hash), "%s", single);
        else
        if (wb_store_blob_data (store, wb_buf_data (manifest), wb_buf_size (manifest), hash, err))
            rc = -1;
        if (rc == 0) {
            *model_p = wb_strdup (base);
            *hash_p = wb_strdup (hash);
        }
    }
    wb_buf_destroy (&manifest);
    return rc;
}

//  ---- The worker's check ----

//  The last lines of text, at most size bytes, for an error message
static const char *
s_tail (const char *text, size_t size)
{
    size_t length = strlen (text);
    while (length > 0 && strchr ("\n ", text [length - 1]))
        length--;
    const char *start = length > size? text + length - size: text;
    while (start > text && start [-1] != '\n')
        start++;
    return start;
}

json_t *
wb_registry__check (wb_store_t *store, const wb_flavor_t *flavor, char **detail,
                    wb_error_t *err)
{
    char *worker = wb_registry_worker (store, err);
    if (!worker)
        return NULL;
    char *argv [10];
    int argc = 0;
    argv [argc++] = (char *) flavor->python;
    argv [argc++] = worker;
    argv [argc++] = "check";
    argv [argc++] = "--flavor";
    argv [argc++] = (char *) (flavor->flavor? flavor->flavor: "auto");
    argv [argc++] = "--model";
    argv [argc++] = (char *) flavor->model;
    if (flavor->scorer) {
        argv [argc++] = "--scorer";
        argv [argc++] = (char *) flavor->scorer;
    }
    argv [argc] = NULL;
    char *model_dir = wb_sprintf ("WORKBENCH_MODEL_DIR=%s", flavor->dir);
    char *env [] = { model_dir, "PYTHONDONTWRITEBYTECODE=1", NULL };
    wb_proc_result_t result;
    json_t *hello = NULL;
    if (wb_proc_run (argv, env, flavor->dir, S_CHECK_TIMEOUT, &result, err) == 0) {
        //  The hello is the last line of its standard output
        const char *line = s_tail (result.out, strlen (result.out));
        hello = json_loads (line, 0, NULL);
        if (!json_is_object (hello)) {
            json_decref (hello);
            hello = NULL;
            wb_error_set (err, "%s could not check the model%s: %s", flavor->python,
                          result.timed_out? " (it took too long and was stopped)": "",
                          *result.err? s_tail (result.err, 700): "it said nothing");
            if (detail)
                *detail = wb_strdup (result.err);
        }
        else
        if (!json_is_true (json_object_get (hello, "ready"))) {
            const char *error = json_string_value (json_object_get (hello, "error"));
            wb_error_set (err, "the model does not load: %s", error? error: "(no reason given)");
            if (detail)
                *detail = wb_strdup (json_string_value (json_object_get (hello, "traceback"))
                                     ? json_string_value (json_object_get (hello, "traceback")): "");
            json_decref (hello);
            hello = NULL;
        }
        else
            json_object_del (hello, "pid");
        wb_proc_result_free (&result);
    }
    free (model_dir);
    free (worker);
    return hello;
}

//  ---- Export ----

int
wb_registry_model_export (wb_store_t *store, const char *ref, const char *format,
                          const char *to, char **detail, wb_error_t *err)
{
    assert (store && ref && format && to);
    if (!streq (format, "mlflow"))
        return wb_error_set (err, "cannot export to '%s': the format is mlflow", format);
    json_t *model = wb_registry_model_get (store, ref, err);
    if (!model)
        return -1;
    const char *name = json_string_value (json_object_get (model, "name"));
    int64_t version = json_integer_value (json_object_get (model, "version"));
    const char *flavor = json_string_value (json_object_get (model, "flavor"));
    const char *python = json_string_value (json_object_get (model, "python"));
    char *dir = wb_registry_model_dir (store, name, version);
    //  A scoring script finds its files in $WORKBENCH_MODEL_DIR, the
    //  version's folder, when served: the export's data folder is a copy
    //  of that folder, so that it finds them at the same places
    char *file = flavor && streq (flavor, "python")? wb_strdup (dir)
               : wb_sprintf ("%s/%s", dir, json_string_value (json_object_get (model, "file")));
    char *scorer = json_is_string (json_object_get (model, "scorer"))
        ? wb_sprintf ("%s/%s", dir, json_string_value (json_object_get (model, "scorer"))): NULL;
    char *found = python? wb_strdup (python): wb_proc_which ("python3");
    char *worker = found? wb_registry_worker (store, err): NULL;
    char *columns = NULL;
    json_t *names = json_array ();
    size_t index;
    json_t *column;
    json_array_foreach (json_object_get (json_object_get (model, "facts"), "columns"), index, column)
        json_array_append (names, column);
    if (json_array_size (names))
        columns = json_dumps (names, JSON_COMPACT);
    int rc = -1;
    if (!found)
        wb_error_set (err, "exporting needs Python: no python3 on PATH");
    else
    if (worker) {
        char *argv [14];
        int argc = 0;
        argv [argc++] = found;
        argv [argc++] = worker;
        argv [argc++] = "export";
        argv [argc++] = "--flavor";
        argv [argc++] = (char *) flavor;
        argv [argc++] = "--model";
        argv [argc++] = file;
        if (scorer) {
            argv [argc++] = "--scorer";
            argv [argc++] = scorer;
        }
        argv [argc++] = "--out";
        argv [argc++] = (char *) to;
        if (columns) {
            argv [argc++] = "--columns";
            argv [argc++] = columns;
        }
        argv [argc] = NULL;
        char *model_dir = wb_sprintf ("WORKBENCH_MODEL_DIR=%s", dir);
        char *env [] = { model_dir, "PYTHONDONTWRITEBYTECODE=1", NULL };
        wb_proc_result_t result;
        if (wb_proc_run (argv, env, NULL, S_CHECK_TIMEOUT, &result, err) == 0) {
            if (result.status == 0)
                rc = 0;
            else {
                wb_error_set (err, "cannot export %s:%lld: %s", name, (long long) version,
                              *result.err? s_tail (result.err, 700): "the worker failed");
                if (detail)
                    *detail = wb_strdup (result.err);
            }
            wb_proc_result_free (&result);
        }
        free (model_dir);
    }
    json_decref (names);
    free (columns);
    free (worker);
    free (found);
    free (scorer);
    free (file);
    free (dir);
    json_decref (model);
    return rc;
}
