/*  wb_dataset - the dataset registry: named, versioned tables registered
    from CSV files, kept by content in the workspace with an inferred schema
    and a profile (render/wb_view_data draws them)

    Registering reads the file once: the bytes that were parsed, validated
    and profiled are the bytes hashed and stored, so a file that changes
    while it is registered cannot give a version whose content differs
    from its profile. All SQL is in wb_store.c.
*/
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_dataset.h"
#include "base/wb_fs.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_NAME_MAX      100     //  longest dataset name, in bytes
#define S_TOP_BYTES     200     //  longest top value kept in a stored profile
#define S_NAMES_LISTED  20      //  names listed in an error message

//  ---- Helpers ----

//  Names: a letter or digit, then letters, digits, '_', '-', '.'
static bool
s_valid_name (const char *name)
{
    size_t size = strlen (name);
    if (size == 0 || size > S_NAME_MAX || !isalnum ((unsigned char) name [0]))
        return false;
    for (size_t i = 0; i < size; i++)
        if (!isalnum ((unsigned char) name [i]) && !strchr ("_-.", name [i]))
            return false;
    return true;
}

//  text cut to at most max bytes at a character boundary, with an ellipsis
//  when cut (caller owns)
static char *
s_cut_bytes (const char *text, size_t max)
{
    size_t size = strlen (text);
    if (size <= max)
        return wb_strdup (text);
    while (max > 0 && ((unsigned char) text [max] & 0xC0) == 0x80)
        max--;
    return wb_sprintf ("%.*s\xE2\x80\xA6", (int) max, text);
}

//  Long top values make a profile large and say little: cut them
static void
s_cut_top_values (json_t *profile)
{
    size_t index;
    json_t *entry;
    json_array_foreach (profile, index, entry) {
        size_t at;
        json_t *pair;
        json_array_foreach (json_object_get (entry, "top"), at, pair) {
            const char *value = json_string_value (json_array_get (pair, 0));
            if (value && strlen (value) > S_TOP_BYTES) {
                char *cut = s_cut_bytes (value, S_TOP_BYTES);
                json_array_set_new (pair, 0, json_string (cut));
                free (cut);
            }
        }
    }
}

//  "a, b, c" from a list of records' field (numbers or strings), at most
//  S_NAMES_LISTED of them (caller owns)
static char *
s_join (json_t *list, const char *field)
{
    wb_buf_t *buf = wb_buf_new ();
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        if (index == S_NAMES_LISTED) {
            wb_buf_printf (buf, " and %zu more", json_array_size (list) - index);
            break;
        }
        json_t *value = json_object_get (item, field);
        if (index)
            wb_buf_puts (buf, ", ");
        if (json_is_integer (value))
            wb_buf_printf (buf, "%lld", (long long) json_integer_value (value));
        else
            wb_buf_puts (buf, json_string_value (value));
    }
    return wb_buf_detach (&buf);
}

//  ---- The registry ----

int
wb_dataset_check_name (const char *name, wb_error_t *err)
{
    if (name && s_valid_name (name))
        return 0;
    return wb_error_set (err, "'%s' is not a valid dataset name: use letters, digits, '_', "
                         "'-' and '.', starting with a letter or digit (at most %d)",
                         name? name: "", S_NAME_MAX);
}

json_t *
wb_dataset_register (wb_store_t *store, const char *name, const char *path,
                     const char *description, wb_error_t *err)
{
    assert (store && name && path);
    if (wb_dataset_check_name (name, err))
        return NULL;
    size_t size;
    char *data = wb_fs_read (path, &size, err);
    if (!data)
        return NULL;
    //  Same content as a version there is: nothing to parse or store
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) data, size);
    char hash [65];
    sodium_bin2hex (hash, sizeof (hash), digest, sizeof (digest));
    bool created = false;
    int64_t version = wb_store_dataset_find (store, name, hash, err);
    wb_frame_t *frame = NULL;
    if (version > 0) {
        //  Registering the same file again repairs a lost content file
        char *blob = wb_store_blob_path (store, hash);
        char stored [65];
        if (access (blob, F_OK) && wb_store_blob_data (store, data, size, stored, err))
            version = -1;
        free (blob);
    }
    else
    if (version == 0) {
        //  Validate and profile before anything is stored
        frame = wb_frame_parse_csv (data, size, path, err);
        version = frame? 0: -1;
    }
    if (version == 0) {
        json_t *schema = wb_frame_schema (frame);
        json_t *profile = wb_frame_profile (frame);
        s_cut_top_values (profile);
        char *source = realpath (path, NULL);
        wb_dataset_spec_t spec = {
            name, hash, (int64_t) size, (int64_t) wb_frame_rows (frame),
            (int64_t) wb_frame_cols (frame), schema, profile, description,
            source? source: path
        };
        //  The bytes parsed are the bytes kept (the file may change meanwhile)
        char stored [65];
        if (wb_store_blob_data (store, data, size, stored, err) == 0) {
            assert (streq (stored, hash));
            version = wb_store_dataset_add (store, &spec, &created, err);
        }
        else
            version = -1;
        free (source);
        json_decref (schema);
        json_decref (profile);
    }
    wb_frame_destroy (&frame);
    free (data);
    if (version < 0)
        return NULL;
    json_t *record = wb_store_dataset_get (store, name, version, err);
    if (record)
        json_object_set_new (record, "created", json_boolean (created));
    return record;
}

json_t *
wb_dataset_resolve (wb_store_t *store, const char *ref, wb_error_t *err)
{
    assert (store && ref);
    //  NAME, NAME:VERSION or NAME:latest
    const char *colon = strchr (ref, ':');
    char *name = colon? wb_strndup (ref, (size_t) (colon - ref)): wb_strdup (ref);
    int64_t version = 0;
    bool valid = s_valid_name (name);
    if (valid && colon && !streq (colon + 1, "latest")) {
        char *end;
        errno = 0;
        long long number = strtoll (colon + 1, &end, 10);
        valid = colon [1] >= '1' && colon [1] <= '9' && *end == 0 && errno == 0;
        version = number;
    }
    if (!valid) {
        wb_error_set (err, "'%s' is not a dataset reference: expected NAME or NAME:VERSION "
                      "with a version number from 1 (e.g. iris or iris:2)", ref);
        free (name);
        return NULL;
    }
    json_t *record = wb_store_dataset_get (store, name, version, NULL);
    if (!record) {
        //  Say what there is instead
        json_t *versions = wb_store_dataset_versions (store, name, err);
        if (versions && json_array_size (versions)) {
            char *list = s_join (versions, "version");
            wb_error_set (err, "dataset '%s' has no version %lld: its versions are %s",
                          name, (long long) version, list);
            free (list);
        }
        else
        if (versions) {
            json_t *datasets = wb_store_datasets (store, err);
            if (datasets && json_array_size (datasets)) {
                char *list = s_join (datasets, "name");
                wb_error_set (err, "no dataset named '%s': the datasets are %s", name, list);
                free (list);
            }
            else
            if (datasets)
                wb_error_set (err, "no dataset named '%s': no dataset is registered yet "
                              "(register one with %%data register NAME PATH)", name);
            json_decref (datasets);
        }
        json_decref (versions);
    }
    free (name);
    return record;
}

//  The frame of a version's record
static wb_frame_t *
s_load (wb_store_t *store, json_t *record, wb_error_t *err)
{
    const char *name = json_string_value (json_object_get (record, "name"));
    json_int_t version = json_integer_value (json_object_get (record, "version"));
    const char *hash = json_string_value (json_object_get (record, "hash"));
    json_int_t expected = json_integer_value (json_object_get (record, "size"));
    char *path = wb_store_blob_path (store, hash);
    size_t size = 0;
    char *data = wb_fs_read (path, &size, NULL);
    wb_frame_t *frame = NULL;
    if (!data || (json_int_t) size != expected)
        wb_error_set (err, "the content of dataset %s:%lld is missing or damaged in the "
                      "workspace (%s): register the file again", name, (long long) version, path);
    else {
        char *origin = wb_sprintf ("dataset %s:%lld", name, (long long) version);
        frame = wb_frame_parse_csv (data, size, origin, err);
        free (origin);
    }
    free (data);
    free (path);
    return frame;
}

wb_frame_t *
wb_dataset_load (wb_store_t *store, const char *name, int64_t version, wb_error_t *err)
{
    assert (store && name);
    json_t *record = wb_store_dataset_get (store, name, version, err);
    wb_frame_t *frame = record? s_load (store, record, err): NULL;
    json_decref (record);
    return frame;
}

wb_frame_t *
wb_dataset_use (wb_store_t *store, const char *ref, const char *id, json_t **record_p,
                wb_error_t *err)
{
    assert (store && ref);
    if (record_p)
        *record_p = NULL;
    json_t *record = wb_dataset_resolve (store, ref, err);
    wb_frame_t *frame = record? s_load (store, record, err): NULL;
    if (frame && id
    &&  wb_store_lineage (store, id, "input", "dataset",
                          json_string_value (json_object_get (record, "name")),
                          json_integer_value (json_object_get (record, "version")), err))
        wb_frame_destroy (&frame);
    if (frame && record_p)
        *record_p = record;
    else
        json_decref (record);
    return frame;
}

json_t *
wb_dataset_list (wb_store_t *store, wb_error_t *err)
{
    assert (store);
    return wb_store_datasets (store, err);
}

//  @selftest
#include <sys/wait.h>

//  Write text to scratch/file; returns the path (caller owns)
static char *
s_test_file (const char *scratch, const char *file, const char *text)
{
    char *path = wb_sprintf ("%s/%s", scratch, file);
    FILE *handle = fopen (path, "wb");
    assert (handle);
    assert (fwrite (text, 1, strlen (text), handle) == strlen (text));
    fclose (handle);
    return path;
}

//  Files under the workspace's artifacts/
static int
s_test_blobs (const char *ws)
{
    char *cmd = wb_sprintf ("find '%s/artifacts' -type f | wc -l", ws);
    FILE *pipe = popen (cmd, "r");
    int count = -1;
    assert (pipe && fscanf (pipe, "%d", &count) == 1);
    pclose (pipe);
    free (cmd);
    return count;
}

static json_int_t
s_test_int (json_t *object, const char *key)
{
    return json_integer_value (json_object_get (object, key));
}

static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  Expect ref to fail to resolve with exactly this message
static void
s_test_unresolved (wb_store_t *store, const char *ref, const char *expected)
{
    wb_error_t err;
    json_t *record = wb_dataset_resolve (store, ref, &err);
    if (record || !streq (err.text, expected)) {
        fprintf (stderr, "for %s\n  expected: %s\n  got:      %s\n", ref, expected, err.text);
        assert (false);
    }
}

void
wb_dataset_test (bool verbose)
{
    (void) verbose;             //  the views print what they draw
    wb_error_t err;
    char scratch [] = "/tmp/wb-dataset-XXXXXX";
    assert (mkdtemp (scratch));
    char *ws = wb_sprintf ("%s/ws", scratch);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);

    //  Nothing registered yet
    json_t *list = wb_dataset_list (store, &err);
    assert (list && json_array_size (list) == 0);
    json_decref (list);
    s_test_unresolved (store, "people", "no dataset named 'people': no dataset is registered "
                       "yet (register one with %data register NAME PATH)");

    //  Register: a new version, with its shape, schema and profile
    char *first = s_test_file (scratch, "people.csv",
        "name,age,city\nann,31,Oslo\nbob,NA,Bergen\ncy,45,Oslo\n");
    json_t *record = wb_dataset_register (store, "people", first, "staff list", &err);
    assert (record);
    assert (s_test_int (record, "version") == 1 && json_is_true (json_object_get (record, "created")));
    assert (s_test_int (record, "rows") == 3 && s_test_int (record, "cols") == 3);
    assert (s_test_int (record, "versions") == 1);
    assert (streq (s_test_str (record, "description"), "staff list"));
    assert (strstr (s_test_str (record, "source"), "/people.csv"));
    char *dump = json_dumps (json_object_get (record, "schema"), JSON_COMPACT);
    assert (streq (dump, "[{\"name\":\"name\",\"type\":\"categorical\"},"
                         "{\"name\":\"age\",\"type\":\"numeric\"},"
                         "{\"name\":\"city\",\"type\":\"categorical\"}]"));
    free (dump);
    json_t *age = json_array_get (json_object_get (record, "profile"), 1);
    assert (s_test_int (age, "missing") == 1 && json_real_value (json_object_get (age, "mean")) == 38);
    //  The file is kept by its content hash
    char hash [65];
    assert (wb_sha256_file (first, hash, &err) == 0);
    assert (streq (s_test_str (record, "hash"), hash));
    char *blob = wb_store_blob_path (store, hash);
    assert (access (blob, F_OK) == 0);
    json_decref (record);
    int blobs = s_test_blobs (ws);
    assert (blobs == 1);

    //  Same content (even from another file): same version, nothing new
    char *copy = s_test_file (scratch, "copy.csv",
        "name,age,city\nann,31,Oslo\nbob,NA,Bergen\ncy,45,Oslo\n");
    record = wb_dataset_register (store, "people", copy, "ignored", &err);
    assert (record && s_test_int (record, "version") == 1);
    assert (json_is_false (json_object_get (record, "created")));
    assert (streq (s_test_str (record, "description"), "staff list"));
    json_decref (record);

    //  New content: a new version
    char *second = s_test_file (scratch, "people2.csv",
        "name,age,city\r\nann,31,Oslo\r\nbob,52,Bergen\r\ncy,45,Oslo\r\ndee,29,\"Troms\xC3\xB8\"\r\n");
    record = wb_dataset_register (store, "people", second, NULL, &err);
    assert (record && s_test_int (record, "version") == 2 && s_test_int (record, "versions") == 2);
    assert (json_is_true (json_object_get (record, "created")) && s_test_int (record, "rows") == 4);
    assert (json_is_null (json_object_get (record, "description")));
    json_decref (record);

    //  A broken file registers nothing: no version, no file, no event
    char *broken = s_test_file (scratch, "broken.csv",
        "name,age,city\nann,31,Oslo\nbob,52,Bergen,Norway\n");
    json_t *events = wb_store_events (store, NULL, 0, &err);
    size_t nevents = json_array_size (events);
    json_decref (events);
    assert (!wb_dataset_register (store, "people", broken, NULL, &err));
    char *expected = wb_sprintf ("%s: line 3, column 15: expected 3 fields as in the header, "
                                 "found 4", broken);
    assert (streq (err.text, expected));
    free (expected);
    assert (!wb_dataset_register (store, "fresh", broken, NULL, &err));
    assert (s_test_blobs (ws) == 2);
    events = wb_store_events (store, NULL, 0, &err);
    assert (json_array_size (events) == nevents);
    json_decref (events);
    record = wb_dataset_resolve (store, "people", &err);
    assert (record && s_test_int (record, "version") == 2);
    json_decref (record);
    s_test_unresolved (store, "fresh", "no dataset named 'fresh': the datasets are people");

    //  Names and files that are not right
    assert (!wb_dataset_register (store, "no good", first, NULL, &err));
    assert (strstr (err.text, "'no good' is not a valid dataset name"));
    assert (!wb_dataset_register (store, "people:2", first, NULL, &err));
    assert (!wb_dataset_register (store, "missing", "/nonexistent.csv", NULL, &err));
    assert (streq (err.text, "cannot read '/nonexistent.csv': No such file or directory"));

    //  References
    record = wb_dataset_resolve (store, "people:1", &err);
    assert (record && s_test_int (record, "version") == 1 && s_test_int (record, "rows") == 3);
    json_decref (record);
    record = wb_dataset_resolve (store, "people:latest", &err);
    assert (record && s_test_int (record, "version") == 2);
    json_decref (record);
    s_test_unresolved (store, "people:3", "dataset 'people' has no version 3: its versions are 1, 2");
    const char *bad [] = { "people:", "people:x", "people:0", "people:-1", "people:01",
                           ":1", "", "peo ple", "people:1:2", "people:1.5", NULL };
    for (const char **ref = bad; *ref; ref++) {
        char *message = wb_sprintf ("'%s' is not a dataset reference: expected NAME or "
            "NAME:VERSION with a version number from 1 (e.g. iris or iris:2)", *ref);
        s_test_unresolved (store, *ref, message);
        free (message);
    }

    //  Load: the stored content, parsed again
    wb_frame_t *frame = wb_dataset_load (store, "people", 1, &err);
    assert (frame && wb_frame_rows (frame) == 3 && wb_frame_cols (frame) == 3);
    assert (streq (wb_frame_text (frame, 2, 1), "Bergen") && !wb_frame_text (frame, 1, 1));
    wb_frame_destroy (&frame);
    frame = wb_dataset_load (store, "people", 0, &err);
    assert (frame && wb_frame_rows (frame) == 4);
    assert (streq (wb_frame_text (frame, 2, 3), "Troms\xC3\xB8"));
    wb_frame_destroy (&frame);
    assert (!wb_dataset_load (store, "people", 9, &err));
    assert (streq (err.text, "dataset 'people' has no version 9"));

    //  A run that reads a dataset records the version (lineage)
    char id [9];
    wb_run_spec_t spec = { NULL, "reader", NULL, NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &spec, id, &err) == 0);
    json_t *used = NULL;
    frame = wb_dataset_use (store, "people:1", id, &used, &err);
    assert (frame && used && s_test_int (used, "version") == 1);
    wb_frame_destroy (&frame);
    json_decref (used);
    assert (!wb_dataset_use (store, "people:7", id, &used, &err) && used == NULL);
    json_t *run = wb_store_run_get (store, id, &err);
    dump = json_dumps (json_object_get (run, "lineage"), JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (dump, "[{\"direction\":\"input\",\"kind\":\"dataset\","
                         "\"name\":\"people\",\"version\":1}]"));
    free (dump);
    json_decref (run);

    //  A run's artifact with a dataset's content: deleting the run keeps
    //  the dataset's file
    assert (wb_store_artifact_file (store, id, "people.csv", first, &err) == 0);
    assert (wb_store_run_delete (store, id, &err) == 0);
    assert (access (blob, F_OK) == 0);
    frame = wb_dataset_load (store, "people", 1, &err);
    assert (frame);
    wb_frame_destroy (&frame);

    //  A lost content file is reported, and registering the file again
    //  brings it back
    assert (unlink (blob) == 0);
    assert (!wb_dataset_load (store, "people", 1, &err));
    assert (strstr (err.text, "the content of dataset people:1 is missing or damaged"));
    record = wb_dataset_register (store, "people", first, NULL, &err);
    assert (record && s_test_int (record, "version") == 1);
    json_decref (record);
    frame = wb_dataset_load (store, "people", 1, &err);
    assert (frame && wb_frame_rows (frame) == 3);
    wb_frame_destroy (&frame);

    //  Events tell the story
    events = wb_store_events (store, "people", 0, &err);
    assert (json_array_size (events) == 2);
    json_t *event = json_array_get (events, 1);
    assert (streq (s_test_str (event, "action"), "dataset.register"));
    assert (s_test_int (json_object_get (event, "detail"), "version") == 2);
    json_decref (events);

    //  Concurrent registration: 6 processes, each with its own content
    //  for "race" and the same content for "same"
    //  (the store is closed meanwhile: a child must not inherit a connection)
    char *same = s_test_file (scratch, "same.csv", "x,y\n1,2\n");
    wb_store_destroy (&store);
    pid_t children [6];
    for (int i = 0; i < 6; i++) {
        char file [32], text [64];
        snprintf (file, sizeof (file), "race%d.csv", i);
        snprintf (text, sizeof (text), "x,y\n%d,%d\n", i, i * i);
        char *path = s_test_file (scratch, file, text);
        if ((children [i] = fork ()) == 0) {
            wb_store_t *mine = wb_store_open (ws, false, NULL);
            json_t *a = mine? wb_dataset_register (mine, "race", path, NULL, NULL): NULL;
            json_t *b = mine? wb_dataset_register (mine, "same", same, NULL, NULL): NULL;
            int status = a && b && s_test_int (b, "version") == 1? 0: 1;
            //  Everything freed: the children run under valgrind too
            json_decref (a);
            json_decref (b);
            wb_store_destroy (&mine);
            free (path);
            free (same);
            free (first);
            free (copy);
            free (second);
            free (broken);
            free (blob);
            free (ws);
            _exit (status);
        }
        free (path);
    }
    for (int i = 0; i < 6; i++) {
        int status;
        waitpid (children [i], &status, 0);
        assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    store = wb_store_open (ws, false, &err);
    assert (store);
    json_t *versions = wb_store_dataset_versions (store, "race", &err);
    assert (json_array_size (versions) == 6);
    for (size_t i = 0; i < 6; i++)
        assert (s_test_int (json_array_get (versions, i), "version") == (json_int_t) i + 1);
    json_decref (versions);
    versions = wb_store_dataset_versions (store, "same", &err);
    assert (json_array_size (versions) == 1);
    json_decref (versions);

    //  The list: latest version of each, by name
    list = wb_dataset_list (store, &err);
    assert (json_array_size (list) == 3);
    json_t *people = json_array_get (list, 0);
    assert (streq (s_test_str (people, "name"), "people"));
    assert (s_test_int (people, "version") == 2 && s_test_int (people, "versions") == 2);
    assert (s_test_int (json_array_get (list, 1), "versions") == 6);
    json_decref (list);

    //  The data files of the tutorials (tests run from the repository root)
    struct {
        const char *file;       //  under tests/data
        size_t rows, cols;      //  shape
        const char *column;     //  a column to check
        const char *type;       //  its type
    } files [] = {
        { "iris.csv", 150, 5, "species", "categorical" },
        { "digits.csv", 1797, 65, "pixel_0", "numeric" },
        { "regression.csv", 500, 6, "neighborhood", "categorical" },
        { "bom_crlf_quoted.csv", 3, 3, "population, 2020", "numeric" },
    };
    for (size_t i = 0; i < sizeof (files) / sizeof (files [0]); i++) {
        char *path = wb_sprintf ("tests/data/%s", files [i].file);
        if (access (path, R_OK)) {
            fprintf (stderr, "%s is missing: run the self-tests from the repository root\n", path);
            assert (false);
        }
        char *name = wb_strndup (files [i].file, strcspn (files [i].file, "."));
        record = wb_dataset_register (store, name, path, NULL, &err);
        assert (record);
        assert (s_test_int (record, "rows") == (json_int_t) files [i].rows);
        assert (s_test_int (record, "cols") == (json_int_t) files [i].cols);
        size_t index;
        json_t *column;
        bool found = false;
        json_array_foreach (json_object_get (record, "schema"), index, column)
            if (streq (s_test_str (column, "name"), files [i].column)) {
                assert (streq (s_test_str (column, "type"), files [i].type));
                found = true;
            }
        assert (found);
        json_decref (record);
        free (name);
        free (path);
    }
    record = wb_dataset_resolve (store, "iris", &err);
    json_t *species = json_array_get (json_object_get (record, "profile"), 4);
    dump = json_dumps (json_object_get (species, "top"), JSON_COMPACT);
    assert (streq (dump, "[[\"setosa\",50],[\"versicolor\",50],[\"virginica\",50]]"));
    free (dump);
    json_t *sepal = json_array_get (json_object_get (record, "profile"), 0);
    assert (json_real_value (json_object_get (sepal, "min")) == 4.3);
    assert (json_real_value (json_object_get (sepal, "max")) == 7.9);
    assert (fabs (json_real_value (json_object_get (sepal, "mean")) - 5.843333) < 1e-6);
    json_decref (record);
    const char *broken_files [][2] = {
        { "broken_unclosed_quote.csv", "line 3, column 7: this quoted field is never closed" },
        { "broken_ragged.csv", "line 4, column 16: expected 3 fields as in the header, found 4" },
    };
    for (size_t i = 0; i < 2; i++) {
        char *path = wb_sprintf ("tests/data/%s", broken_files [i][0]);
        assert (!wb_dataset_register (store, "broken", path, NULL, &err));
        if (!strstr (err.text, broken_files [i][1]))
            fprintf (stderr, "unexpected: %s\n", err.text);
        assert (strstr (err.text, broken_files [i][1]));
        free (path);
    }
    wb_store_destroy (&store);
    free (blob);
    free (first);
    free (copy);
    free (second);
    free (broken);
    free (same);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
    free (ws);
}
//  @end
